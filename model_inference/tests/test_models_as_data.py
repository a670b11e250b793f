"""Models as data: version descriptors on the model-updates topic swap the model of every replica
(real broker, real worker processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from model_inference.testing import write_mlp_artifact
from model_inference.updates import descriptor, parse_descriptor, publish, sha256_file

from .conftest import images, read_topics, topics, wait_for
from .test_worker import _feed

REPO = Path(__file__).resolve().parents[2]


def _archive(artifact_dir: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(artifact_dir, arcname="model")
    return dest


def _publish(broker, topic, desc) -> None:
    from confluent_kafka import Producer

    publish(Producer({"bootstrap.servers": broker.bootstrap_servers}), topic, desc, key=1)


def _spawn(broker, artifact, src, out, updates, group, tmp_path, name):
    cmd = [
        sys.executable, "-m", "model_inference",
        "--artifact-dir", str(artifact), "--bootstrap-servers", broker.bootstrap_servers,
        "--input-topic", src, "--output-topic", out, "--group-id", group,
        "--updates-topic", updates,
        "--batch-size", "50", "--replica", name, "--metrics-interval", "0.5",
        "--ready-file", str(tmp_path / f"{name}.ready"),
        "--metrics-file", str(tmp_path / f"{name}.json"),
    ]  # fmt: skip
    log = open(tmp_path / f"{name}.log", "a")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)


def _state(tmp_path, name, what):
    try:
        return json.loads((tmp_path / f"{name}.{what}").read_text())
    except (OSError, ValueError):
        return {}


def _updates(tmp_path, name) -> list[dict]:
    return _state(tmp_path, name, "json").get("model_updates") or []


def _logs(tmp_path) -> str:
    return "".join(p.read_text()[-3000:] for p in sorted(tmp_path.glob("*.log")))


def test_descriptor_round_trip_and_validation():
    d = descriptor(result_id=3, version=2, location="/x", sha256="A" * 64, inference=7)
    assert parse_descriptor(d.encode()) == d
    assert d.sha256 == "a" * 64
    for bad in (b"nope", b"[]", b'{"location": "/x"}', b'{"location": "/x", "sha256": "12"}'):
        with pytest.raises(ValueError):
            parse_descriptor(bad)


def test_a_replica_waits_for_an_updates_topic_that_does_not_exist_yet(
    broker, unique_topic, tmp_path
):
    from model_inference.updates import ModelUpdates

    topic = f"{unique_topic}.models"
    updates = ModelUpdates(broker.bootstrap_servers, topic)
    try:
        assert updates.read_all(timeout=5) == []  # no swap yet: serve the source's model
        assert updates.poll(0.1) is None
        topics(broker, topic, partitions=1)  # the first swap creates it
        desc = descriptor(result_id=1, version=2, location="/x", sha256="b" * 64)
        _publish(broker, topic, desc)
        got = []
        assert wait_for(lambda: got.append(updates.poll(0.5)) or got[-1] is not None, timeout=30)
        assert got[-1] == desc
    finally:
        updates.close()


@pytest.mark.slow
def test_update_applied_by_every_replica_under_load(broker, unique_topic, mlp, mlp2, tmp_path):
    src, out, updates = unique_topic, f"{unique_topic}.out", f"{unique_topic}.models"
    topics(broker, src, partitions=4)
    topics(broker, out, updates, partitions=1)
    v1 = write_mlp_artifact(tmp_path / "v1", mlp, version=1)
    v2 = _archive(write_mlp_artifact(tmp_path / "v2", mlp2, version=2), tmp_path / "v2.tar.gz")
    group = f"{src}-group"
    procs = {n: _spawn(broker, v1, src, out, updates, group, tmp_path, n) for n in ("a", "b")}
    try:
        assert wait_for(
            lambda: len(
                _state(tmp_path, "a", "ready").get("partitions", [])
                + _state(tmp_path, "b", "ready").get("partitions", [])
            )
            == 4
            and all(_state(tmp_path, n, "ready").get("partitions") for n in "ab"),
            timeout=90,
        ), _logs(tmp_path)
        owner = {p: r for r in "ab" for p in _state(tmp_path, r, "ready")["partitions"]}
        n = 12000
        x = images(n, seed=21)
        feeder = threading.Thread(target=_feed, args=(broker, src, x, 2000))
        feeder.start()
        assert wait_for(
            lambda: all(_state(tmp_path, r, "json").get("records_out", 0) > 300 for r in "ab"),
            timeout=60,
        ), _logs(tmp_path)
        # the API's swap: one descriptor on the updates topic
        _publish(
            broker,
            updates,
            descriptor(result_id=1, version=2, location=str(v2), sha256=sha256_file(v2)),
        )
        assert wait_for(
            lambda: all(any(u["status"] == "applied" for u in _updates(tmp_path, r)) for r in "ab"),
            timeout=60,
        ), _logs(tmp_path)
        feeder.join()
        records = read_topics(broker, [out], expected=n, timeout=120, settle=1.0)
        inputs = read_topics(broker, [src], expected=n, timeout=60)
        partition = {int(m.key()): m.partition() for m in inputs}
        got: dict[int, list] = {}
        for m in records:
            got.setdefault(int(m.key()), []).append((m.timestamp()[1], json.loads(m.value())))
        lost = sorted(set(range(n)) - set(got))
        assert not lost, f"{len(lost)} lost: {lost[:20]}"
        acks = {r: next(u for u in _updates(tmp_path, r) if u["status"] == "applied") for r in "ab"}
        assert all(a["version"] == 2 and a["result_id"] == 1 for a in acks.values())
        late_old = 0
        seen = {r: set() for r in "ab"}
        for key, outs in got.items():
            replica = owner[partition[key]]
            for ts, body in outs:
                version = body["model_version"]
                assert version in (1, 2)
                seen[replica].add(version)
                # every output says which model produced it
                model = mlp if version == 1 else mlp2
                np.testing.assert_allclose(
                    body["values"], model(x[key : key + 1])[0], rtol=1e-5, atol=1e-6
                )
                if version == 1 and ts > acks[replica]["at_ms"]:
                    late_old += 1
        assert late_old == 0, "old-version outputs after the replica acknowledged the update"
        assert seen == {"a": {1, 2}, "b": {1, 2}}, seen

        # corrupt updates: a checksum that does not match the archive, then garbage whose
        # checksum matches: each refused and reported, version 2 keeps serving
        garbage = tmp_path / "garbage.tar.gz"
        garbage.write_bytes(os.urandom(4096))
        for version, sha, error in ((3, "0" * 64, "checksum"), (4, None, "bad archive")):
            _publish(
                broker,
                updates,
                descriptor(
                    result_id=1,
                    version=version,
                    location=str(garbage),
                    sha256=sha or sha256_file(garbage),
                ),
            )
            assert wait_for(
                lambda v=version: all(
                    _updates(tmp_path, r)
                    and _updates(tmp_path, r)[-1]["version"] == v
                    and _updates(tmp_path, r)[-1]["status"] == "failed"
                    for r in "ab"
                ),
                timeout=60,
            ), _logs(tmp_path)
            assert error in _updates(tmp_path, "a")[-1]["error"]
            assert _state(tmp_path, "a", "json")["model_version"] == 2
        assert all(p.poll() is None for p in procs.values()), "a bad update stopped a replica"

        # a restarted replica resumes with the last version that loads (2)
        procs["a"].send_signal(signal.SIGTERM)
        assert procs["a"].wait(30) == 0
        (tmp_path / "a.json").unlink()
        procs["a"] = _spawn(broker, v1, src, out, updates, group, tmp_path, "a")
        assert wait_for(lambda: _updates(tmp_path, "a"), timeout=60), _logs(tmp_path)
        assert [(u["version"], u["status"]) for u in _updates(tmp_path, "a")] == [
            (4, "failed"),
            (3, "failed"),
            (2, "applied"),
        ]
        m = 2000
        more = images(m, seed=22)
        _feed(broker, src, more, 2000, start_key=n)
        records = read_topics(broker, [out], expected=len(records) + m, timeout=120, settle=1.0)
        after = {int(r.key()): json.loads(r.value()) for r in records if int(r.key()) >= n}
        assert sorted(after) == list(range(n, n + m)), "lost records after the restart"
        assert {b["model_version"] for b in after.values()} == {2}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


def test_backend_mode_applies_descriptors_downloaded_from_the_worker_api(
    broker, unique_topic, monkeypatch, tmp_path, mlp, mlp2
):
    import hashlib

    from model_inference.__main__ import make_worker

    from .conftest import ThreadWorker, outputs_by_key, produce
    from .test_backend_mode import FakeBackend, _tar

    archives = {
        (3, 1): _tar(write_mlp_artifact(tmp_path / "r3v1", mlp, version=1)),
        (4, 1): _tar(write_mlp_artifact(tmp_path / "r4v1", mlp2, version=1)),
    }
    backend = FakeBackend({}, archives)
    src, out = f"alice.{unique_topic}", f"alice.{unique_topic}.out"
    models = f"alice.models.inference-{unique_topic}"
    topics(broker, src, out)
    topics(broker, models, partitions=1)
    backend.inference.update(
        id=9, status="running", replicas=1, input_format="RAW",
        input_config={"data_type": "uint8", "data_reshape": "28 28"},
        input_topic=src, output_topic=out, upper_topic=None, limit=None,
        result_id=3, model_version=1, batch_size=32, max_wait_ms=5, runtime="onnx",
        models_topic=models,
    )  # fmt: skip
    monkeypatch.setenv("KAFKAML_BACKEND_URL", backend.url)
    monkeypatch.setenv("KAFKAML_API_TOKEN", "secret")
    worker = make_worker(
        ["--inference-id", "9", "--bootstrap-servers", broker.bootstrap_servers,
         "--metrics-interval", "0.5", "--replica", "rep-0"]
    )  # fmt: skip
    assert worker.config.updates_topic == models
    running = ThreadWorker(worker).start()
    try:
        x = images(300, seed=33)
        produce(broker, src, [s.tobytes() for s in x[:150]])
        assert wait_for(lambda: worker.metrics.records_out >= 150, timeout=60)
        location = "/api/v1/worker/results/4/artifacts/?version=1"
        sha = hashlib.sha256(archives[(4, 1)]).hexdigest()
        _publish(broker, models, descriptor(result_id=4, version=1, location=location, sha256=sha))
        assert wait_for(lambda: worker.metrics.swaps == 1, timeout=30)
        produce(
            broker,
            src,
            [s.tobytes() for s in x[150:]],
            keys=[str(i).encode() for i in range(150, 300)],
        )
        records = read_topics(broker, [out], expected=300, timeout=60)
        # the acknowledgement reaches the backend in the metrics report
        assert wait_for(
            lambda: any(
                (m.get("model_update") or {}).get("status") == "applied" for m in backend.metrics
            ),
            timeout=10,
        )
    finally:
        running.stop()
        backend.close()
    got = outputs_by_key(records)
    assert sorted(got) == list(range(300))
    for i in range(300):
        model, result = (mlp, 3) if i < 150 else (mlp2, 4)
        assert got[i]["result_id"] == result and got[i]["model_version"] == 1
        np.testing.assert_allclose(got[i]["values"], model(x[i : i + 1])[0], rtol=1e-5, atol=1e-6)
    assert backend.downloads == [(3, 1), (4, 1)]
    ack = next(m["model_update"] for m in backend.metrics if m.get("model_update"))
    assert (ack["result_id"], ack["version"], ack["sha256"]) == (4, 1, sha)
