"""kill -9 of a broker of the three-node cluster (RF 3, ``min.insync.replicas=2``) while the
platform works: a sink sending training data, the training reader, a streaming inference.

Every test counts what was lost (acknowledged but never read back / an input without an output)
and what was duplicated, and prints both; lost must be 0. The sink and the reader must also
see no duplicate: the sink's producer is idempotent, so the announced offset ranges are exact.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import numpy as np
import pytest

from .streams import INPUT_CONFIG, Feeder, Replica, count, mlp_artifact, read_committed, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.timeout(240)]


def _samples(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``i`` carries ``i`` in its first column: what is read back says which it was."""
    x = np.zeros((n, 4), dtype=np.uint32)
    x[:, 0] = np.arange(n, dtype=np.uint32)
    x[:, 1] = 0xC0FFEE
    return x, (np.arange(n) % 251).astype(np.uint8)


def _read_control_message(bootstrap: str, topic: str, timeout: float = 30):
    """The control messages of ``topic`` (from the start), parsed by the platform's rule."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from datasources import control

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"control-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    found = []
    deadline = time.monotonic() + timeout
    try:
        while not found and time.monotonic() < deadline:
            for m in consumer.consume(10, 0.5):
                if m.error() is None:
                    found.append(control.parse(m.key(), m.value()))
    finally:
        consumer.close()
    return found


def _watermarks(bootstrap: str, topic: str, partitions: int) -> dict[int, tuple[int, int]]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "wm", "log_level": 0})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
            for p in range(partitions)
        }
    finally:
        consumer.close()


def _topic_settings(bootstrap: str, topic: str) -> tuple[int, str]:
    """(replicas of partition 0, ``min.insync.replicas``) of a topic."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    meta = admin.list_topics(topic, timeout=20).topics[topic]
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(20)
    return len(meta.partitions[0].replicas), configs["min.insync.replicas"].value


def test_kill_9_of_the_partition_leader_while_a_sink_sends(cluster, fault_report):
    from datasources import RawSink, get_codec
    from model_training.dataset import parse_ranges, read_ranges
    from worker_common.kafka import ensure_topics

    tag = uuid.uuid4().hex[:6]
    topic, control_topic = f"sink-failover-{tag}", f"control-failover-{tag}"
    # the platform's one topic creation: 3 replicas on a 3-broker cluster, 2 of them in sync
    ensure_topics({topic: 1, control_topic: 1}, bootstrap=cluster.bootstrap_servers)
    assert _topic_settings(cluster.bootstrap_servers, topic) == (3, "2")

    n, chunk = 120_000, 2_000
    x, y = _samples(n)
    sink = RawSink(
        bootstrap_servers=cluster.bootstrap_servers,
        topic=topic,
        deployment_id=4242,
        control_topic=control_topic,
        producer_config={"log_level": 0},
    )
    outcome: dict = {}

    def send() -> None:
        try:
            for i in range(0, n, chunk):  # ~3 s of sending, so the kill lands mid-stream
                sink.send_batch(x[i : i + chunk], y[i : i + chunk])
                time.sleep(0.05)
            outcome["message"] = sink.close(timeout=120)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            outcome["error"] = exc

    started = time.monotonic()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    assert wait_for(lambda: sink.delivered >= n // 4, timeout=60), "the sink delivered nothing"
    acked_before_kill = sink.delivered
    killed = cluster.kill_leader(topic, 0, control_topic)
    sender.join(180)
    assert not sender.is_alive(), "the sink did not finish"
    assert "error" not in outcome, outcome.get("error")
    message = outcome["message"]
    send_s = time.monotonic() - started
    new_leader = cluster.leader(topic, 0)
    assert new_leader != killed

    # the control message on the topic is the one the sink announced
    [announced] = _read_control_message(cluster.bootstrap_servers, control_topic)
    assert announced.as_dict() == message
    ranges = parse_ranges(message["topic"])
    low, high = _watermarks(cluster.bootstrap_servers, topic, 1)[0]
    data = read_ranges(
        cluster.bootstrap_servers, ranges, get_codec("RAW", message["input_config"]), timeout=60
    )
    read = data.x[:, 0].astype(np.int64)
    unique = set(read.tolist())
    acked = set(range(sink.delivered))  # close() succeeded: every record sent was acknowledged
    lost = len(acked - unique)
    duplicated = len(read) - len(unique)
    fault_report(
        lost=lost,
        duplicated=duplicated,
        sent=n,
        acknowledged=sink.delivered,
        acknowledged_before_kill=acked_before_kill,
        killed_broker=killed,
        new_leader=new_leader,
        announced=message["topic"],
        seconds=f"{send_s:.1f}",
    )
    assert lost == 0 and duplicated == 0
    assert sink.delivered == n and message["total_msg"] == n
    # exact: the ranges hold this sink's records and nothing else, each once
    assert [(r.partition, r.start, r.end) for r in ranges] == [(0, low, high)]
    assert high - low == n == len(read)
    assert np.array_equal(np.sort(read), np.arange(n))
    assert np.array_equal(data.y, (data.x[:, 0] % 251).astype(np.uint8))  # labels kept


def test_kill_9_of_a_broker_while_training_reads(cluster, fault_report):
    from datasources import RawSink, get_codec
    from model_training.dataset import parse_ranges, read_ranges
    from worker_common.kafka import ensure_topics

    tag = uuid.uuid4().hex[:6]
    topic, control_topic = f"train-failover-{tag}", f"control-train-{tag}"
    ensure_topics({topic: 3, control_topic: 1}, bootstrap=cluster.bootstrap_servers)
    # enough records that the reader cannot have them all prefetched when the broker dies:
    # librdkafka keeps about 100,000 a partition queued (queued.min.messages)
    n = 1_200_000
    x, y = _samples(n)
    sink = RawSink(
        bootstrap_servers=cluster.bootstrap_servers,
        topic=topic,
        deployment_id=4243,
        control_topic=control_topic,
        partition=None,  # by key (the label): the records spread over the 3 partitions
        producer_config={"log_level": 0},
    )
    sink.send_batch(x, y)
    message = sink.close(timeout=120)
    ranges = parse_ranges(message["topic"])
    assert sum(r.size for r in ranges) == n and len(ranges) > 1

    # kill -9 the leader of the biggest range once the reader is under way (a few batches
    # read): the reader's hook is called before every fetch, in the reading thread
    biggest = max(ranges, key=lambda r: r.size)
    calls = {"n": 0, "killed": None, "at": None}

    def kill_mid_read() -> bool:
        calls["n"] += 1
        if calls["n"] == 4:
            calls["at"] = time.monotonic()
            calls["killed"] = cluster.kill_leader(biggest.topic, biggest.partition)
        return False

    started = time.monotonic()
    data = read_ranges(
        cluster.bootstrap_servers,
        ranges,
        get_codec("RAW", message["input_config"]),
        seed=11,
        timeout=90,
        should_stop=kill_mid_read,
    )
    read_s = time.monotonic() - started
    after_kill_s = time.monotonic() - calls["at"]
    assert calls["killed"] is not None, "the read ended before the broker was killed"
    read = data.x[:, 0].astype(np.int64)
    unique = set(read.tolist())
    lost = n - len(unique)
    duplicated = len(read) - len(unique)
    fault_report(
        lost=lost,
        duplicated=duplicated,
        records=n,
        ranges=message["topic"],
        killed_broker=calls["killed"],
        read_seconds=f"{read_s:.1f}",
        after_kill_seconds=f"{after_kill_s:.1f}",
    )
    assert lost == 0 and duplicated == 0
    assert len(data) == n
    # the rest of the killed leader's partition came from its successor, elected once the
    # cluster fenced the dead broker (broker.session.timeout.ms, 4 s): not from a prefetch
    assert after_kill_s > 2.0, "the reader had every record before the kill: nothing failed over"
    assert np.array_equal(data.y, (data.x[:, 0] % 251).astype(np.uint8))


def test_kill_9_of_a_broker_while_an_inference_streams(cluster, fault_report, tmp_path):
    tag = uuid.uuid4().hex[:6]
    src, out = f"infer-failover-{tag}", f"infer-failover-{tag}.out"
    from worker_common.kafka import ensure_topics

    ensure_topics({src: 3, out: 1}, bootstrap=cluster.bootstrap_servers)
    artifact = mlp_artifact(tmp_path / "model")
    args = [
        "--artifact-dir", str(artifact),
        "--bootstrap-servers", cluster.bootstrap_servers,
        "--input-topic", src, "--output-topic", out,
        "--input-format", "RAW", "--input-config", json.dumps(INPUT_CONFIG),
        "--group-id", f"g-{tag}", "--batch-size", "256",
    ]  # fmt: skip
    replica = Replica(tmp_path, "a", args)
    killed = None
    try:
        assert wait_for(lambda: len(replica.partitions()) == 3, timeout=60), replica.tail()
        n = 6000
        started = time.monotonic()
        feeder = Feeder(cluster.bootstrap_servers, src, n, rate=1500.0).start()
        assert wait_for(lambda: replica.totals().get("records_out", 0) > 300, 30), replica.tail()
        # the leader of the output topic: the worker's in-flight outputs must move to the next
        killed = cluster.kill_leader(out, 0, src)
        feeder.join()
        assert len(feeder.acked) == n, (feeder.failed[:3], cluster.describe(src, out))
        keys = read_committed(cluster.bootstrap_servers, out, feeder.acked, 120, settle=2)
        lost, duplicated = count(feeder.acked, keys)
        fault_report(
            lost=lost,
            duplicated=duplicated,
            inputs=n,
            outputs=len(keys),
            killed_broker=killed,
            seconds=f"{time.monotonic() - started:.1f}",
        )
        assert lost == 0, replica.tail()
        assert replica.stop() == 0, replica.tail()  # and it still shuts down cleanly
    finally:
        replica.stop(10)
