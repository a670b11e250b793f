"""The worker against the embedded broker: correctness, dead letters, early exit, hot swap,
kill -9 of a replica, graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from model_inference.core import DLQ_ERROR_HEADER, DLQ_OFFSET_HEADER, DLQ_TOPIC_HEADER
from model_inference.testing import MLP, write_mlp_artifact

from .conftest import (
    ThreadWorker,
    images,
    make_worker,
    outputs_by_key,
    produce,
    read_topics,
    topics,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]


def test_predictions_for_1000_records_match_the_model(broker, unique_topic, mlp, onnx_artifact):
    src, out = unique_topic, f"{unique_topic}.out"
    topics(broker, src, out)
    x = images(1000, seed=11)
    produce(broker, src, [s.tobytes() for s in x], headers=[("trace", b"abc")])
    worker = ThreadWorker(make_worker(broker, onnx_artifact, src, out, batch_size=128)).start()
    try:
        records = read_topics(broker, [out], expected=1000, timeout=60)
    finally:
        totals = worker.stop()
    got = outputs_by_key(records)
    assert len(records) == 1000 and sorted(got) == list(range(1000))
    values = np.array([got[i]["values"] for i in range(1000)], dtype=np.float32)
    np.testing.assert_allclose(values, mlp(x), rtol=1e-5, atol=1e-6)
    assert {got[i]["model_version"] for i in got} == {1}
    assert all(m.headers() == [("trace", b"abc")] for m in records)  # key and headers copied
    assert totals["records_in"] == 1000 and totals["records_out"] == 1000
    assert totals["latency_ms"]["p99"] is not None


def test_garbage_goes_to_the_dead_letter_topic(broker, unique_topic, mlp, onnx_artifact):
    src, out = unique_topic, f"{unique_topic}.out"
    topics(broker, src, out, f"{src}.dlq")  # the reader subscribes before the worker creates it
    x = images(200, seed=12)
    values = [s.tobytes() for s in x]
    bad = {5: b"", 17: b"not an image", 100: bytes(783), 150: bytes(785)}
    for i, v in bad.items():
        values[i] = v
    produce(broker, src, values)
    worker = ThreadWorker(make_worker(broker, onnx_artifact, src, out, batch_size=64)).start()
    try:
        records = read_topics(broker, [out, f"{src}.dlq"], expected=200, timeout=60)
    finally:
        totals = worker.stop()
    outs = [m for m in records if m.topic() == out]
    dlq = [m for m in records if m.topic() == f"{src}.dlq"]
    assert sorted(int(m.key()) for m in dlq) == sorted(bad)
    for m in dlq:
        headers = dict(m.headers())
        assert m.value() == bad[int(m.key())]  # unchanged
        assert headers[DLQ_TOPIC_HEADER] == src.encode()
        assert int(headers[DLQ_OFFSET_HEADER]) >= 0
        assert b"bytes" in headers[DLQ_ERROR_HEADER]
    got = outputs_by_key(outs)
    assert sorted(got) == sorted(set(range(200)) - set(bad))
    for i, obj in got.items():
        np.testing.assert_allclose(obj["values"], mlp(x[i : i + 1])[0], rtol=1e-5, atol=1e-6)
    assert totals["errors"] == len(bad)


def test_edge_cloud_chain_routes_by_limit(broker, unique_topic, tmp_path):
    """An edge sub-model answers confident records and forwards the rest to the cloud model."""
    src, up, out = unique_topic, f"{unique_topic}.upper", f"{unique_topic}.out"
    topics(broker, src, up, out)
    edge_mlp = MLP.random(seed=21, hidden=16)
    cloud_mlp = MLP.random(input_shape=(16,), hidden=32, seed=22)
    cloud_mlp.scale = 1.0
    edge_art = write_mlp_artifact(tmp_path / "edge", edge_mlp, distributed=True, version=1)
    cloud_art = write_mlp_artifact(tmp_path / "cloud", cloud_mlp, version=1, data_type="float32")
    x = images(400, seed=13)
    conf = edge_mlp(x).max(axis=1)
    limit = float(np.quantile(conf, 0.4))  # ~40% go up
    produce(broker, src, [s.tobytes() for s in x])
    edge = ThreadWorker(
        make_worker(broker, edge_art, src, out, upper_topic=up, limit=limit, batch_size=50)
    ).start()
    cloud = ThreadWorker(
        make_worker(
            broker, cloud_art, up, out, input_config={"data_type": "float32", "data_reshape": "16"}
        )
    ).start()
    try:
        records = read_topics(broker, [out], expected=400, timeout=90, settle=1.0)
    finally:
        edge_totals = edge.stop()
        cloud.stop()
    got = outputs_by_key(records)
    assert len(records) == 400 and sorted(got) == list(range(400))
    low = conf < limit
    assert edge_totals["upper"] == int(low.sum()) > 0
    expected_edge = edge_mlp(x)
    expected_cloud = cloud_mlp(edge_mlp.hidden(x))
    for i in range(400):
        want = expected_cloud[i] if low[i] else expected_edge[i]
        np.testing.assert_allclose(got[i]["values"], want, rtol=1e-4, atol=1e-5)


def _feed(broker, topic, x, rate, start_key=0):
    """Produce x at about `rate` records/s (open loop), keys start_key.."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 2})
    t0 = time.monotonic()
    for i, s in enumerate(x):
        producer.produce(topic, s.tobytes(), str(start_key + i).encode())
        if i % 100 == 99:
            producer.poll(0)
            ahead = (i + 1) / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    assert producer.flush(30) == 0


def test_hot_swap_under_load_changes_version_without_loss(
    broker, unique_topic, mlp, mlp2, tmp_path
):
    src, out = unique_topic, f"{unique_topic}.out"
    topics(broker, src, out)
    root = tmp_path / "model"
    write_mlp_artifact(root / "v1", mlp, version=1)
    write_mlp_artifact(root / "v2", mlp2, version=2)
    (root / "current").write_text("v1")
    n = 8000
    x = images(n, seed=14)
    worker = ThreadWorker(make_worker(broker, root, src, out, batch_size=64)).start()
    assert wait_for(lambda: worker.worker.assignment, timeout=60)
    feeder = threading.Thread(target=_feed, args=(broker, src, x, 2000))
    feeder.start()
    assert wait_for(lambda: worker.worker.metrics.records_out > 1000, timeout=60)
    (root / "current").write_text("v2")  # the user points the inference at another model
    feeder.join()
    try:
        records = read_topics(broker, [out], expected=n, timeout=90, settle=0.5)
    finally:
        totals = worker.stop()
    got = outputs_by_key(records)
    assert sorted(got) == list(range(n)), "lost records"
    versions = np.array([got[i]["model_version"] for i in range(n)])
    assert set(versions) == {1, 2}
    assert totals["swaps"] == 1
    values = np.array([got[i]["values"] for i in range(n)], dtype=np.float32)
    for v, model in ((1, mlp), (2, mlp2)):
        sel = versions == v
        np.testing.assert_allclose(values[sel], model(x[sel]), rtol=1e-5, atol=1e-6)
    # the switch happens between batches: early records v1, late records v2
    assert versions[:200].tolist() == [1] * 200 and versions[-200:].tolist() == [2] * 200
    # rollback is the same operation
    (root / "current").write_text("v1")


def _spawn(broker, artifact, src, out, group, tmp_path, name):
    cmd = [
        sys.executable, "-m", "model_inference",
        "--artifact-dir", str(artifact), "--bootstrap-servers", broker.bootstrap_servers,
        "--input-topic", src, "--output-topic", out, "--group-id", group,
        "--batch-size", "100", "--replica", name, "--metrics-interval", "1",
        "--ready-file", str(tmp_path / f"{name}.ready"),
        "--metrics-file", str(tmp_path / f"{name}.json"),
    ]  # fmt: skip
    log = open(tmp_path / f"{name}.log", "w")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)


def _partitions(path: Path) -> list[int]:
    try:
        return json.loads(path.read_text())["partitions"]
    except (OSError, ValueError):
        return []


def _records_in(path: Path) -> int:
    try:
        return json.loads(path.read_text())["records_in"]
    except (OSError, ValueError):
        return 0


@pytest.mark.slow
def test_kill_9_of_one_replica_loses_nothing(broker, unique_topic, onnx_artifact, tmp_path):
    src, out = unique_topic, f"{unique_topic}.out"
    topics(broker, src, out, partitions=4)
    group = f"{src}-group"
    a = _spawn(broker, onnx_artifact, src, out, group, tmp_path, "a")
    b = _spawn(broker, onnx_artifact, src, out, group, tmp_path, "b")
    try:
        # both replicas in the group, sharing the 4 partitions
        assert wait_for(
            lambda: _partitions(tmp_path / "a.ready")
            and _partitions(tmp_path / "b.ready")
            and len(_partitions(tmp_path / "a.ready") + _partitions(tmp_path / "b.ready")) == 4,
            timeout=60,
        ), (tmp_path / "a.log").read_text()[-2000:] + (tmp_path / "b.log").read_text()[-2000:]
        n = 12000
        x = images(n, seed=15)
        feeder = threading.Thread(target=_feed, args=(broker, src, x, 2000))
        feeder.start()
        time.sleep(2.0)
        assert wait_for(lambda: _records_in(tmp_path / "a.json") > 0, timeout=30)
        a.send_signal(signal.SIGKILL)  # mid-stream, mid-batch
        a.wait(10)
        feeder.join()
        records = read_topics(broker, [out], expected=n, timeout=120, settle=0.5)
        got = {int(m.key()) for m in records}
        assert got == set(range(n)), f"missing {sorted(set(range(n)) - got)[:20]}"
        assert len(records) >= n  # duplicates are allowed (at-least-once)
        b.send_signal(signal.SIGTERM)  # graceful: finish, flush, commit, exit 0
        assert b.wait(30) == 0
        totals = json.loads((tmp_path / "b.json").read_text())
        assert totals["records_in"] > 0
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.wait(5)
