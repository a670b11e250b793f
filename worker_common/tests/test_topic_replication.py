"""The replication factor and topic settings of the topics the platform creates."""

from __future__ import annotations

import pytest

from worker_common.kafka import (
    TopicCreationError,
    producer_config,
    topic_replication_factor,
    topic_settings,
)


@pytest.mark.parametrize(("brokers", "factor"), [(0, 1), (1, 1), (2, 2), (3, 3), (5, 3)])
def test_default_factor_follows_the_broker_count(brokers, factor):
    assert topic_replication_factor(brokers, environ={}) == factor


def test_factor_from_the_environment_wins():
    env = {"KAFKAML_TOPIC_REPLICATION_FACTOR": " 2 "}
    assert topic_replication_factor(5, environ=env) == 2
    assert topic_replication_factor(1, environ={"KAFKAML_TOPIC_REPLICATION_FACTOR": ""}) == 1


@pytest.mark.parametrize("value", ["three", "0", "-1"])
def test_bad_factor_is_refused_with_the_variable_named(value):
    with pytest.raises(TopicCreationError, match="KAFKAML_TOPIC_REPLICATION_FACTOR"):
        topic_replication_factor(3, environ={"KAFKAML_TOPIC_REPLICATION_FACTOR": value})


def test_min_insync_replicas_from_three_replicas():
    assert topic_settings(1) == {}
    assert topic_settings(2) == {}
    assert topic_settings(3) == {"min.insync.replicas": "2"}


def test_producers_wait_for_all_replicas_and_are_idempotent(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    config = producer_config()
    assert config["acks"] == "all" and config["enable.idempotence"] is True
    assert producer_config("127.0.0.1:1")["bootstrap.servers"] == "127.0.0.1:1"
