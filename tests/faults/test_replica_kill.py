"""kill -9 of one of two inference replicas mid-stream, on the three-node cluster: the test
``model_inference/tests/test_worker.py::test_kill_9_of_one_replica_loses_nothing`` runs on the
embedded broker; here the same fault on a replicated cluster. At-least-once: every input key has
an output (lost 0); the killed replica's uncommitted batches are answered again (duplicates,
counted and printed)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from .streams import INPUT_CONFIG, Feeder, Replica, count, mlp_artifact, read_committed, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.timeout(240)]


def test_kill_9_of_one_replica_loses_nothing_on_the_cluster(cluster, fault_report, tmp_path):
    from worker_common.kafka import ensure_topics

    tag = uuid.uuid4().hex[:6]
    src, out, group = f"replica-kill-{tag}", f"replica-kill-{tag}.out", f"g-{tag}"
    ensure_topics({src: 4, out: 1}, bootstrap=cluster.bootstrap_servers)
    artifact = mlp_artifact(tmp_path / "model")
    args = [
        "--artifact-dir", str(artifact),
        "--bootstrap-servers", cluster.bootstrap_servers,
        "--input-topic", src, "--output-topic", out,
        "--input-format", "RAW", "--input-config", json.dumps(INPUT_CONFIG),
        "--group-id", group, "--batch-size", "100",
    ]  # fmt: skip
    a, b = replicas = [Replica(tmp_path, name, args) for name in ("a", "b")]
    try:
        # both replicas in the group, sharing the 4 partitions
        assert wait_for(
            lambda: a.partitions()
            and b.partitions()
            and sorted(a.partitions() + b.partitions()) == [0, 1, 2, 3],
            timeout=60,
        ), a.tail() + b.tail()
        n = 8000
        started = time.monotonic()
        feeder = Feeder(cluster.bootstrap_servers, src, n, rate=2000.0).start()
        assert wait_for(lambda: a.totals().get("records_in", 0) > 0, timeout=30), a.tail()
        a.kill()  # mid-stream, mid-batch
        feeder.join()
        assert len(feeder.acked) == n, feeder.failed[:5]
        keys = read_committed(cluster.bootstrap_servers, out, feeder.acked, 120, settle=1)
        lost, duplicated = count(feeder.acked, keys)
        fault_report(
            lost=lost,
            duplicated=duplicated,
            inputs=n,
            outputs=len(keys),
            answered_by_survivor=b.totals().get("records_in"),
            seconds=f"{time.monotonic() - started:.1f}",
        )
        assert lost == 0, b.tail()
        assert b.stop() == 0, b.tail()  # graceful: finish, flush, commit, exit 0
        assert b.totals().get("records_in", 0) > 0
    finally:
        for r in replicas:
            r.stop(10)
