"""Delivery settings (at-least-once / exactly-once) and cluster reachability of the worker.

Exactly-once itself is tested on Apache Kafka (tests/faults/test_exactly_once.py): the embedded
broker cannot isolate aborted transactions."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from confluent_kafka import KafkaError

from model_inference.__main__ import make_worker
from model_inference.worker import InferenceWorker, WorkerConfig

from .conftest import ThreadWorker, produce, read_topics, topics, wait_for


def _config(**kw) -> WorkerConfig:
    base = dict(bootstrap_servers="127.0.0.1:1", input_topic="in", output_topic="out",
                group_id="g", replica="r1", runtime="echo")  # fmt: skip
    return WorkerConfig(**{**base, **kw})


def test_delivery_is_validated_and_exactly_once_gets_a_stable_transactional_id():
    with pytest.raises(ValueError, match="delivery"):
        _config(delivery="at_most_once")
    assert _config().delivery == "at_least_once" and _config().transactional_id is None
    config = _config(delivery="exactly_once")
    assert config.exactly_once and config.transactional_id == "g.r1"
    assert _config(delivery="exactly_once", transactional_id="t").transactional_id == "t"


def test_exactly_once_producer_is_transactional_and_input_is_read_committed():
    worker = InferenceWorker(_config(delivery="exactly_once"))
    producer = worker._producer_config()
    assert producer["transactional.id"] == "g.r1"
    assert producer["enable.idempotence"] is True and producer["acks"] == "all"
    assert producer["transaction.timeout.ms"] == 10000
    assert worker._consumer_config()["isolation.level"] == "read_committed"
    plain = InferenceWorker(_config())._producer_config()
    assert "transactional.id" not in plain


def test_command_line_and_backend_settings_choose_the_delivery():
    args = ["--runtime", "echo", "--bootstrap-servers", "127.0.0.1:1", "--input-topic", "a",
            "--output-topic", "b", "--replica", "x", "--log-level", "WARNING"]  # fmt: skip
    assert make_worker(args).config.delivery == "at_least_once"
    worker = make_worker([*args, "--delivery", "exactly_once", "--cluster-timeout", "2"])
    assert worker.config.delivery == "exactly_once"
    assert worker.config.transactional_id == "kafkaml-inference-a.x"
    assert worker.config.cluster_timeout_s == 2
    with pytest.raises(SystemExit):
        make_worker([*args, "--delivery", "twice"])


def test_all_brokers_down_is_reported_after_the_cluster_timeout():
    worker = InferenceWorker(_config(cluster_timeout_s=0.2))
    assert worker.cluster_unreachable_since is None
    before = time.time()
    worker._on_client_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "all down"))
    assert worker.cluster_unreachable_since is None  # a blip is not reported
    time.sleep(0.25)
    since = worker.cluster_unreachable_since
    assert since is not None and before <= since <= time.time()
    # a broker that fails alone (others may be up) does not mark the cluster unreachable
    other = InferenceWorker(_config(cluster_timeout_s=0))
    other._on_client_error(KafkaError(KafkaError._TRANSPORT, "one broker"))
    assert other.cluster_unreachable_since is None


def test_unreachable_cluster_is_reported_until_the_broker_comes(unique_topic):
    """A worker started before its broker reports ``cluster_unreachable_since``; once the
    broker listens it reports null again and serves."""
    from kafkaml.broker import EmbeddedBroker, free_port

    port = free_port()
    reports: list[dict] = []

    class Broker:
        bootstrap_servers = f"127.0.0.1:{port}"

    src, out = unique_topic, f"{unique_topic}.out"
    config = _config(
        bootstrap_servers=Broker.bootstrap_servers,
        input_topic=src,
        output_topic=out,
        group_id=f"{src}-g",
        create_topics=False,
        metrics_interval_s=0.2,
        cluster_timeout_s=0.5,
        consumer_overrides={"reconnect.backoff.max.ms": 500},
    )
    worker = ThreadWorker(InferenceWorker(config, reporter=reports.append)).start()
    try:
        assert wait_for(lambda: any(r["cluster_unreachable_since"] for r in reports), 20)
        since = next(
            r["cluster_unreachable_since"] for r in reports if r["cluster_unreachable_since"]
        )
        assert datetime.fromisoformat(since).tzinfo is not None
        with EmbeddedBroker(port=port):
            topics(Broker, src, out, partitions=2)
            assert wait_for(lambda: reports[-1]["cluster_unreachable_since"] is None, 30)
            produce(Broker, src, [b"x%d" % i for i in range(50)])
            got = read_topics(Broker, [out], expected=50, timeout=60)
            assert {int(m.key()) for m in got} == set(range(50))
            worker.stop()
    finally:
        if worker.thread.is_alive():
            worker.worker.stop()
            worker.thread.join(30)


def test_a_stop_request_bounds_the_transaction_retries():
    """A coordinator that stays away makes every transaction call fail with a retriable error:
    running, the worker retries (up to a minute a call); once asked to stop, only until
    ``STOP_GRACE_S`` after the request, with shorter waits, so the replica exits in time."""
    from confluent_kafka import KafkaException

    from model_inference.worker import STOP_GRACE_S

    worker = InferenceWorker(_config(delivery="exactly_once"))
    waits: list[float] = []

    def coordinator_away(timeout: float) -> None:
        waits.append(timeout)
        if len(waits) < 3:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "away", retriable=True))

    worker._retry(coordinator_away, "commit transaction")  # running: retried until it works
    assert waits == [10.0, 10.0, 10.0]

    waits.clear()
    worker.stop()
    worker._stop_at -= STOP_GRACE_S - 0.5  # asked to stop STOP_GRACE_S - 0.5 s ago

    def always_away(timeout: float) -> None:
        waits.append(timeout)
        time.sleep(0.1)
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "away", retriable=True))

    started = time.monotonic()
    with pytest.raises(KafkaException):
        worker._retry(always_away, "commit transaction")
    assert time.monotonic() - started < 2.0
    assert waits and all(w <= 1.0 for w in waits)
