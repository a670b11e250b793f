"""The Apache Kafka fixtures themselves, and the Admin API calls per-user principals rest on:
SCRAM credentials and prefixed ACLs made through the Admin API confine a user to their own
topics on a SASL-enabled broker (``sasl_kafka``)."""

from __future__ import annotations

import secrets
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

pytestmark = pytest.mark.slow


def _upsert_user(admin: AdminClient, name: str, password: str) -> None:
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
    upsert = UserScramCredentialUpsertion(name, info, password.encode())
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(30)


def _allow_prefix(admin: AdminClient, user: str, prefix: str) -> None:
    principal = f"User:{user}"
    bindings = [
        AclBinding(
            resource,
            prefix,
            ResourcePatternType.PREFIXED,
            principal,
            "*",
            operation,
            AclPermissionType.ALLOW,
        )
        for resource, operation in [
            (ResourceType.TOPIC, AclOperation.ALL),
            (ResourceType.GROUP, AclOperation.ALL),
        ]
    ]
    for future in admin.create_acls(bindings).values():
        future.result(30)


def _produce(config: dict, topic: str) -> KafkaError | None:
    """Produce one record; the delivery error, or None when it was written."""
    outcome: list[KafkaError | None] = []
    producer = Producer({**config, "message.timeout.ms": 15000})
    producer.produce(topic, b"x", on_delivery=lambda err, msg: outcome.append(err))
    producer.flush(20)
    return outcome[0] if outcome else KafkaError(KafkaError._MSG_TIMED_OUT)


def _consume_error(config: dict, topic: str, group: str) -> KafkaError | None:
    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        for _ in range(30):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error():
                return msg.error()
            if msg is not None:
                return None
    finally:
        consumer.close()
    return None


def test_plain_apache_kafka_round_trip(tmp_path):
    from tests.apache_kafka import ApacheKafka

    topic = f"plain-{uuid.uuid4().hex[:8]}"
    with ApacheKafka(tmp_path / "kafka") as kafka:
        assert _produce(kafka.client_config(), topic) is None
        consumer = Consumer(
            {**kafka.client_config(), "group.id": "g", "auto.offset.reset": "earliest"}
        )
        consumer.subscribe([topic])
        try:
            msg = None
            for _ in range(30):
                msg = consumer.poll(1.0)
                if msg is not None and not msg.error():
                    break
            assert msg is not None and msg.value() == b"x"
        finally:
            consumer.close()


def test_scram_users_are_confined_to_their_prefix_by_acls(sasl_kafka):
    admin = AdminClient(sasl_kafka.client_config())
    run = uuid.uuid4().hex[:6]
    users = {name: secrets.token_urlsafe(16) for name in (f"alice{run}", f"bob{run}")}
    alice, bob = users
    for name, password in users.items():
        _upsert_user(admin, name, password)
        _allow_prefix(admin, name, f"{name}.")
    for future in admin.create_topics([NewTopic(f"{name}.data", 1, 1) for name in users]).values():
        future.result(30)
    as_alice = sasl_kafka.client_config(alice, users[alice])

    assert _produce(as_alice, f"{alice}.data") is None
    denied = _produce(as_alice, f"{bob}.data")
    assert denied is not None and denied.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    read = _consume_error(as_alice, f"{bob}.data", f"{alice}.g")
    assert read is not None
    assert read.code() in (
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
    )


def test_rotated_scram_password_kills_the_old_one(sasl_kafka):
    admin = AdminClient(sasl_kafka.client_config())
    name = f"carol{uuid.uuid4().hex[:6]}"
    old, new = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    _upsert_user(admin, name, old)
    _allow_prefix(admin, name, f"{name}.")
    assert _produce(sasl_kafka.client_config(name, old), f"{name}.t") is None
    _upsert_user(admin, name, new)
    assert _produce(sasl_kafka.client_config(name, new), f"{name}.t") is None
    stale = AdminClient({**sasl_kafka.client_config(name, old), "socket.timeout.ms": 5000})
    with pytest.raises(KafkaException):
        stale.list_topics(timeout=8)
