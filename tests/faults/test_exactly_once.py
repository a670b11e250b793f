"""Exactly-once inference on the three-node cluster (RF 3, min ISR 2): two replicas with
``--delivery exactly_once``; a kill -9 of one replica, then of the leader of the input
partition, mid-stream. Every input key must have exactly one committed output
(``isolation.level=read_committed``): 0 lost, 0 duplicated."""

from __future__ import annotations

import json
import uuid

import pytest

from .streams import (
    INPUT_CONFIG,
    Feeder,
    Replica,
    count,
    create_topics,
    mlp_artifact,
    read_committed,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

N = 6000
RATE = 1500.0  # records/s: a 4 s stream


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return mlp_artifact(tmp_path_factory.mktemp("eo-model") / "v1")


def _replicas(cluster, artifact, work, src, out, group):
    args = [
        "--artifact-dir",
        str(artifact),
        "--bootstrap-servers",
        cluster.bootstrap_servers,
        "--input-topic",
        src,
        "--output-topic",
        out,
        "--input-format",
        "RAW",
        "--input-config",
        json.dumps(INPUT_CONFIG),
        "--group-id",
        group,
        "--delivery",
        "exactly_once",
        "--commit-interval-ms",
        "100",
        "--batch-size",
        "256",
    ]
    replicas = [Replica(work, name, args) for name in ("a", "b")]
    together = wait_for(
        lambda: sorted(replicas[0].partitions() + replicas[1].partitions()) == [0, 1, 2, 3]
        and all(r.partitions() for r in replicas),
        timeout=60,
    )
    assert together, "\n".join(r.tail() for r in replicas)
    return replicas


def _report(fault_report, case, feeder, keys, replicas):
    lost, duplicated = count(feeder.acked, keys)
    totals = {r.name: r.totals() for r in replicas}
    fault_report(
        lost=lost,
        duplicated=duplicated,
        fault=case,
        inputs=f"{len(feeder.acked)}/{N}",
        committed_outputs=len(keys),
        replicas=" ".join(
            f"{n}:in={t.get('records_in')},out={t.get('records_out')}" for n, t in totals.items()
        ),
    )
    return lost, duplicated


def test_kill_9_of_a_replica_mid_stream_leaves_exactly_one_output_a_key(
    cluster, artifact, tmp_path, fault_report
):
    tag = uuid.uuid4().hex[:6]
    src, out = f"eo-kill-{tag}", f"eo-kill-{tag}.out"
    create_topics(cluster.bootstrap_servers, {src: 4, out: 3})
    a, b = replicas = _replicas(cluster, artifact, tmp_path, src, out, f"g-{tag}")
    try:
        feeder = Feeder(cluster.bootstrap_servers, src, N, RATE).start()
        assert wait_for(lambda: a.totals().get("records_out", 0) > 0, timeout=30), a.tail()
        a.kill()  # mid-stream: its open transaction is never committed
        feeder.join()
        assert len(feeder.acked) == N, feeder.failed[:5]
        keys = read_committed(cluster.bootstrap_servers, out, feeder.acked, 120, settle=3)
        lost, duplicated = _report(fault_report, "kill -9 replica", feeder, keys, replicas)
        assert (lost, duplicated) == (0, 0), b.tail()
        assert b.stop() == 0, b.tail()
    finally:
        for r in replicas:
            r.stop(10)


def test_broker_failover_mid_stream_leaves_exactly_one_output_a_key(
    cluster, artifact, tmp_path, fault_report
):
    tag = uuid.uuid4().hex[:6]
    src, out = f"eo-failover-{tag}", f"eo-failover-{tag}.out"
    create_topics(cluster.bootstrap_servers, {src: 4, out: 3})
    replicas = _replicas(cluster, artifact, tmp_path, src, out, f"g-{tag}")
    killed = None
    try:
        feeder = Feeder(cluster.bootstrap_servers, src, N, RATE).start()
        assert wait_for(lambda: sum(r.totals().get("records_out", 0) for r in replicas) > 500, 30)
        killed = cluster.kill_leader(src, 0, out)  # kill -9 the leader of input partition 0
        feeder.join()
        assert len(feeder.acked) == N, feeder.failed[:5]
        keys = read_committed(cluster.bootstrap_servers, out, feeder.acked, 120, settle=3)
        lost, duplicated = _report(fault_report, f"kill -9 broker {killed}", feeder, keys, replicas)
        assert (lost, duplicated) == (0, 0), "\n".join(r.tail() for r in replicas)
        for r in replicas:
            assert r.stop() == 0, r.tail()
    finally:
        for r in replicas:
            r.stop(10)
        if killed is not None:
            cluster.restart(killed)
