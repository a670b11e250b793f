"""Kafka client settings every worker shares, and the one way topics get created.

The settings, security included (``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*``,
``KAFKA_SSL_*``), are built by :mod:`datasources.kafka_config`. That builder lives in the
``datasources`` package because the sink library is installed alone on users' machines and needs
it too; this module adds the workers' defaults on top, so there is one implementation of the
security rules for sinks, workers and the backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from datasources.control import DEFAULT_CONTROL_TOPIC
from datasources.kafka_config import (
    DURABLE_PRODUCER_CONFIG,
    client_config,
    kafka_security,
    security_config,
)

__all__ = [
    "DEFAULT_CONTROL_TOPIC",
    "DURABLE_PRODUCER_CONFIG",
    "TopicCreationError",
    "admin_config",
    "bootstrap_servers",
    "client_config",
    "consumer_config",
    "control_topic",
    "ensure_topics",
    "kafka_security",
    "producer_config",
    "security_config",
    "topic_replication_factor",
    "topic_settings",
]


class TopicCreationError(RuntimeError):
    """A topic could not be created (and does not exist)."""


def bootstrap_servers() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not servers:
        raise RuntimeError("KAFKA_BOOTSTRAP_SERVERS is not set")
    return servers


def control_topic() -> str:
    return os.environ.get("KAFKAML_CONTROL_TOPIC", DEFAULT_CONTROL_TOPIC)


def consumer_config(group_id: str | None = None, **overrides) -> dict:
    """Consumer settings: manual commits, and a short session timeout (a group join on the
    embedded broker waits about half of it). Security from the environment."""
    config = {
        **client_config(bootstrap_servers()),
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


def producer_config(bootstrap: str | None = None, **overrides) -> dict:
    """Producer settings: ``acks=all`` and idempotence (:data:`DURABLE_PRODUCER_CONFIG`), the
    bootstrap servers given (or the environment's), security from the environment."""
    config = {
        **client_config(bootstrap or bootstrap_servers()),
        "linger.ms": 5,
        **DURABLE_PRODUCER_CONFIG,
    }
    config.update(overrides)
    return config


def admin_config(bootstrap: str | None = None, **overrides) -> dict:
    """Admin client settings: the bootstrap servers given (or the environment's) and the
    environment's security settings."""
    return client_config(bootstrap or bootstrap_servers(), overrides)


REPLICATION_FACTOR_ENV = "KAFKAML_TOPIC_REPLICATION_FACTOR"
DEFAULT_REPLICATION_FACTOR = 3
# With 3 replicas or more, an acks=all write needs 2 of them: one broker may die with nothing lost.
MIN_INSYNC_REPLICAS = 2


def topic_replication_factor(brokers: int, environ: Mapping[str, str] | None = None) -> int:
    """The replication factor of the topics the platform creates: ``$KAFKAML_TOPIC_REPLICATION_
    FACTOR`` when set, else 3 on a cluster of 3 brokers or more, else the number of brokers."""
    env = os.environ if environ is None else environ
    wanted = (env.get(REPLICATION_FACTOR_ENV) or "").strip()
    if wanted:
        try:
            factor = int(wanted)
        except ValueError:
            raise TopicCreationError(
                f"{REPLICATION_FACTOR_ENV}={wanted!r} is not a whole number"
            ) from None
        if factor < 1:
            raise TopicCreationError(f"{REPLICATION_FACTOR_ENV} must be at least 1, got {factor}")
        return factor
    return max(1, min(DEFAULT_REPLICATION_FACTOR, brokers))


def topic_settings(replication_factor: int) -> dict[str, str]:
    """Topic-level settings for a new topic: ``min.insync.replicas=2`` from 3 replicas up."""
    if replication_factor >= DEFAULT_REPLICATION_FACTOR:
        return {"min.insync.replicas": str(MIN_INSYNC_REPLICAS)}
    return {}


def ensure_topics(
    topics: Mapping[str, int] | Iterable[str],
    *,
    bootstrap: str | None = None,
    config: Mapping[str, Any] | None = None,
    partitions: int = 1,
    replication_factor: int | None = None,
    timeout: float = 15,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created.

    ``topics`` is a list of names (each gets ``partitions``) or a ``{name: partitions}`` map.
    ``config`` holds extra librdkafka settings for the admin client (security keys in it replace
    the environment's). ``replication_factor`` None applies :func:`topic_replication_factor`
    (from the cluster's broker count, or ``$KAFKAML_TOPIC_REPLICATION_FACTOR``); -1 takes the
    broker's default. Topics with 3 replicas or more get ``min.insync.replicas=2``. Consumers
    must not subscribe before their topics exist: the embedded broker does not retry a
    subscription soon. A topic created meanwhile by someone else counts as existing.
    """
    from confluent_kafka.admin import AdminClient, NewTopic

    wanted = dict(topics) if isinstance(topics, Mapping) else dict.fromkeys(topics, partitions)
    admin = AdminClient(client_config(bootstrap or bootstrap_servers(), config))
    metadata = admin.list_topics(timeout=timeout)
    existing = set(metadata.topics)
    if replication_factor is None:
        replication_factor = topic_replication_factor(len(metadata.brokers))
    settings = topic_settings(replication_factor)
    missing = [
        NewTopic(t, num_partitions=n, replication_factor=replication_factor, config=settings)
        for t, n in wanted.items()
        if t not in existing
    ]
    if not missing:
        return []
    created = []
    for topic, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result(timeout)
            created.append(topic)
        except Exception as exc:  # noqa: BLE001 - the broker's error, reported with the topic
            if "TOPIC_ALREADY_EXISTS" not in str(exc).upper().replace(" ", "_"):
                raise TopicCreationError(f"could not create topic {topic!r}: {exc}") from exc
    return created
