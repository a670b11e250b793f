"""Kafka client settings every worker shares."""

from __future__ import annotations

import os

DEFAULT_CONTROL_TOPIC = "KAFKA_ML_CONTROL_TOPIC"


def bootstrap_servers() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not servers:
        raise RuntimeError("KAFKA_BOOTSTRAP_SERVERS is not set")
    return servers


def control_topic() -> str:
    return os.environ.get("KAFKAML_CONTROL_TOPIC", DEFAULT_CONTROL_TOPIC)


def consumer_config(group_id: str | None = None, **overrides) -> dict:
    """Consumer settings: manual commits, and a short session timeout (a group join on the
    embedded broker waits about half of it)."""
    config = {
        "bootstrap.servers": bootstrap_servers(),
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": int(os.environ.get("KAFKAML_SESSION_TIMEOUT_MS", "6000")),
        "heartbeat.interval.ms": 1000,
        "reconnect.backoff.max.ms": 5000,
    }
    if group_id:
        config["group.id"] = group_id
    config.update(overrides)
    return config


def producer_config(**overrides) -> dict:
    config = {
        "bootstrap.servers": bootstrap_servers(),
        "linger.ms": 5,
        "enable.idempotence": False,
        "acks": "all",
    }
    config.update(overrides)
    return config
