"""Helpers for the inference worker's tests: artifacts, feeding and reading topics, workers."""

from __future__ import annotations

import json
import threading
import time
import uuid

import numpy as np
import pytest

from model_inference.testing import MLP, write_mlp_artifact


@pytest.fixture(scope="session")
def mlp() -> MLP:
    return MLP.random(seed=0)


@pytest.fixture(scope="session")
def mlp2() -> MLP:
    return MLP.random(seed=1)


@pytest.fixture(scope="session")
def onnx_artifact(tmp_path_factory, mlp):
    return write_mlp_artifact(tmp_path_factory.mktemp("art") / "v1", mlp, version=1)


def topics(broker, *names, partitions=2):
    from kafkaml.broker import ensure_topics

    ensure_topics(broker.bootstrap_servers, list(names), partitions=partitions)


def images(n: int, seed: int = 0, shape=(28, 28)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def produce(broker, topic, values, keys=None, headers=None) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 5})
    for i, value in enumerate(values):
        key = keys[i] if keys is not None else str(i).encode()
        while True:
            try:
                producer.produce(topic, value, key, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(30) == 0


def read_topics(
    broker, names, expected: int, timeout: float = 60.0, settle: float = 0.0, until=None
):
    """Every record of the topics (consumed from the start) until ``expected`` arrived (and,
    with ``until``, until ``until(records)`` is true: repeats can make up the count early)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe(list(names))
    records = []
    deadline = time.monotonic() + timeout
    reached = None
    try:
        while time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                if m.error() is None:
                    records.append(m)
            if len(records) >= expected and (until is None or until(records)):
                reached = reached or time.monotonic()
                if time.monotonic() - reached >= settle:
                    break
    finally:
        consumer.close()
    return records


def outputs_by_key(records) -> dict[int, dict]:
    return {int(m.key()): json.loads(m.value()) for m in records}


class ThreadWorker:
    """An InferenceWorker running in a thread of the test process."""

    def __init__(self, worker):
        self.worker = worker
        self.totals = None
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.totals = self.worker.run()
        except BaseException as exc:  # noqa: BLE001
            self.error = exc

    def start(self):
        self.thread.start()
        return self

    def stop(self, timeout=60):
        self.worker.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "worker did not stop"
        if self.error:
            raise self.error
        return self.totals


def make_worker(broker, artifact_dir, input_topic, output_topic, **kwargs):
    from model_inference.sources import DirectorySource
    from model_inference.worker import InferenceWorker, WorkerConfig

    config = WorkerConfig(
        bootstrap_servers=broker.bootstrap_servers,
        input_topic=input_topic,
        output_topic=output_topic,
        group_id=kwargs.pop("group_id", f"g-{uuid.uuid4().hex[:8]}"),
        input_format=kwargs.pop("input_format", "RAW"),
        input_config=kwargs.pop("input_config", {"data_type": "uint8", "data_reshape": "28 28"}),
        metrics_interval_s=kwargs.pop("metrics_interval_s", 1.0),
        swap_poll_s=kwargs.pop("swap_poll_s", 0.2),
        **kwargs,
    )
    source = DirectorySource(artifact_dir) if artifact_dir is not None else None
    return InferenceWorker(config, source=source)


def wait_for(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
