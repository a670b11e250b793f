"""The plain settings every launched worker gets."""

from __future__ import annotations

from kafkaml.workloads.services import worker_env


def test_workers_follow_the_platforms_replication_factor(monkeypatch):
    monkeypatch.delenv("KAFKAML_TOPIC_REPLICATION_FACTOR", raising=False)
    env = worker_env()
    assert "KAFKAML_TOPIC_REPLICATION_FACTOR" not in env  # default: from the cluster's brokers
    assert env["PYTHONUNBUFFERED"] == "1" and "KAFKA_BOOTSTRAP_SERVERS" in env
    monkeypatch.setenv("KAFKAML_TOPIC_REPLICATION_FACTOR", "2")
    assert worker_env()["KAFKAML_TOPIC_REPLICATION_FACTOR"] == "2"
