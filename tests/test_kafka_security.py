"""Kafka security settings end to end: the sinks and ``kafkaml-send`` log in with a provisioned
SCRAM user on Apache Kafka with SASL + ACLs (``sasl_kafka``), write their own topic and the control
topic, and fail with a clear error without credentials. Also the workers' configs."""

from __future__ import annotations

import json
import secrets
import time
import uuid

import numpy as np
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from datasources import RawSink, control
from datasources.cli import main as kafkaml_send
from datasources.kafka_config import KafkaConfigError
from datasources.sink import DeliveryError

SASL_ENV = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "alice",
    "KAFKA_SASL_PASSWORD": "s3cret",
}


def test_worker_configs_carry_the_security(monkeypatch):
    from worker_common.kafka import admin_config, consumer_config, producer_config

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k:1")
    for name, value in SASL_ENV.items():
        monkeypatch.setenv(name, value)
    for config in (consumer_config("g"), producer_config(), admin_config()):
        assert config["bootstrap.servers"] == "k:1"
        assert config["security.protocol"] == "SASL_SSL"
        assert config["sasl.mechanism"] == "SCRAM-SHA-512"
        assert config["sasl.username"] == "alice" and config["sasl.password"] == "s3cret"
    assert consumer_config("g")["group.id"] == "g"
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "NOPE")
    with pytest.raises(KafkaConfigError, match="NOPE"):
        producer_config()


def test_inference_worker_configs_carry_the_security(monkeypatch):
    from model_inference.worker import InferenceWorker, WorkerConfig

    for name, value in SASL_ENV.items():
        monkeypatch.setenv(name, value)
    worker = InferenceWorker(WorkerConfig("k:1", "in", "out", "g", runtime="echo"))
    try:
        for config in (worker._consumer_config(), worker._producer_config()):
            assert config["bootstrap.servers"] == "k:1"
            assert config["security.protocol"] == "SASL_SSL"
            assert config["sasl.username"] == "alice"
    finally:
        worker._pipeline.shutdown()


# -- on Apache Kafka with SASL/SCRAM and ACLs ----------------------------------------------------
class Tenant:
    """A SCRAM user allowed everything on topics and groups under ``<name>.`` and WRITE on one
    control topic, as the platform provisions a user."""

    def __init__(self, kafka, control_topic: str):
        from worker_common.kafka import ensure_topics

        self.kafka = kafka
        self.name = f"u{uuid.uuid4().hex[:8]}"
        self.password = secrets.token_urlsafe(16)
        self.control_topic = control_topic
        admin = AdminClient(kafka.client_config())
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
        upsert = UserScramCredentialUpsertion(self.name, info, self.password.encode())
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(30)
        principal = f"User:{self.name}"
        bindings = [
            AclBinding(res, name, pattern, principal, "*", op, AclPermissionType.ALLOW)
            for res, name, pattern, op in [
                (
                    ResourceType.TOPIC,
                    f"{self.name}.",
                    ResourcePatternType.PREFIXED,
                    AclOperation.ALL,
                ),
                (
                    ResourceType.GROUP,
                    f"{self.name}.",
                    ResourcePatternType.PREFIXED,
                    AclOperation.ALL,
                ),
                (
                    ResourceType.TOPIC,
                    control_topic,
                    ResourcePatternType.LITERAL,
                    AclOperation.WRITE,
                ),
            ]
        ]
        for future in admin.create_acls(bindings).values():
            future.result(30)
        # The user may only write the control topic: the platform (admin) creates it.
        ensure_topics(
            [control_topic], bootstrap=kafka.bootstrap_servers, config=kafka.client_config()
        )
        self.topic = f"{self.name}.data"

    def sink_kwargs(self) -> dict:
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": self.name,
            "sasl_plain_password": self.password,
        }


def _control_messages(kafka, topic: str, expected: int, timeout: float = 30):
    """The control messages on ``topic``, read as the super user and parsed by the one rule."""
    consumer = Consumer({**kafka.client_config(), "group.id": f"reader-{uuid.uuid4().hex[:6]}"})
    found = []
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        deadline = time.monotonic() + timeout
        while len(found) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.5):
                if not msg.error():
                    found.append(control.parse(msg.key(), msg.value()))
    finally:
        consumer.close()
    return found


@pytest.fixture
def tenant(sasl_kafka):
    return Tenant(sasl_kafka, f"ctl-{uuid.uuid4().hex[:8]}")


def test_raw_sink_with_scram_credentials_announces_its_data(sasl_kafka, tenant):
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    with RawSink(
        boostrap_servers=sasl_kafka.bootstrap_servers,
        topic=tenant.topic,
        deployment_id=3,
        validation_rate=0.1,
        control_topic=tenant.control_topic,
        **tenant.sink_kwargs(),
    ) as sink:
        sink.send_batch(x, np.arange(10, dtype=np.int64))
    [message] = _control_messages(sasl_kafka, tenant.control_topic, 1)
    assert message.deployment_id == 3 and message.total_msg == 10
    assert control.announced_topics(message) == {tenant.topic}


def test_raw_sink_reads_the_security_settings_from_the_environment(sasl_kafka, tenant, monkeypatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", tenant.name)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", tenant.password)
    sink = RawSink(
        sasl_kafka.bootstrap_servers, tenant.topic, 4, control_topic=tenant.control_topic
    )
    sink.send(np.zeros(3, dtype=np.uint8), 1)
    assert sink.close()["total_msg"] == 1
    [message] = _control_messages(sasl_kafka, tenant.control_topic, 1)
    assert message.deployment_id == 4


def test_kafkaml_send_with_scram_credentials(sasl_kafka, tenant, tmp_path, capsys, monkeypatch):
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    password_file = tmp_path / "password"
    password_file.write_text(tenant.password + "\n")
    data = tmp_path / "data.npz"
    np.savez(data, x=np.ones((25, 2), dtype=np.float32), y=np.arange(25) % 2)
    argv = [
        str(data),
        "--bootstrap-servers", sasl_kafka.bootstrap_servers,
        "--topic", tenant.topic,
        "--deployment-id", "5",
        "--control-topic", tenant.control_topic,
        "--security-protocol", "SASL_PLAINTEXT",
        "--sasl-mechanism", "SCRAM-SHA-512",
        "--sasl-username", tenant.name,
        "--sasl-password-file", str(password_file),
        "--quiet",
    ]  # fmt: skip
    assert kafkaml_send(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["control_message"]["total_msg"] == 25
    [message] = _control_messages(sasl_kafka, tenant.control_topic, 1)
    assert message.deployment_id == 5 and control.announced_topics(message) == {tenant.topic}

    # without credentials: a clear failure, no control message
    plain = [a for a in argv[:9]] + ["--quiet", "--timeout", "8"]
    assert kafkaml_send(plain) == 1
    err = capsys.readouterr().err
    assert "delivery failed" in err and "not acknowledged" in err
    assert "security_protocol" in err  # the hint: a SASL listener closes PLAINTEXT clients
    # a wrong password is refused at once
    password_file.write_text("wrong\n")
    assert kafkaml_send(argv + ["--timeout", "60"]) == 1
    assert "refused this client" in capsys.readouterr().err
    assert len(_control_messages(sasl_kafka, tenant.control_topic, 2, timeout=3)) == 1


def test_sinks_without_credentials_or_rights_fail_clearly(sasl_kafka, tenant):
    # no credentials: the SASL listener never acknowledges anything
    sink = RawSink(
        sasl_kafka.bootstrap_servers, tenant.topic, 6, control_topic=tenant.control_topic
    )
    sink.send(np.zeros(2, dtype=np.uint8), 1)
    with pytest.raises(DeliveryError, match="not acknowledged.*security_protocol"):
        sink.close(timeout=8)
    assert sink.control_message is None
    # wrong password: refused at once, naming authentication
    started = time.monotonic()
    bad = {**tenant.sink_kwargs(), "sasl_plain_password": "wrong"}
    sink = RawSink(
        sasl_kafka.bootstrap_servers, tenant.topic, 6, control_topic=tenant.control_topic, **bad
    )
    sink.send(np.zeros(2, dtype=np.uint8), 1)
    with pytest.raises(DeliveryError, match="refused this client.*[Aa]uthentication"):
        sink.close(timeout=60)
    assert time.monotonic() - started < 30
    # right credentials, someone else's topic: the broker's authorization error
    sink = RawSink(
        sasl_kafka.bootstrap_servers,
        f"x{tenant.name}.data",
        6,
        control_topic=tenant.control_topic,
        **tenant.sink_kwargs(),
    )
    sink.send(np.zeros(2, dtype=np.uint8), 1)
    with pytest.raises(DeliveryError, match="[Aa]uthoriz"):
        sink.close(timeout=30)
    assert _control_messages(sasl_kafka, tenant.control_topic, 1, timeout=3) == []


def test_backend_helpers_use_the_security_settings(sasl_kafka, tenant):
    from kafkaml.broker import _metadata_answers, ensure_topics

    as_tenant = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": tenant.name,
        "sasl.password": tenant.password,
    }
    assert _metadata_answers(sasl_kafka.bootstrap_servers, sasl_kafka.client_config())
    assert _metadata_answers(sasl_kafka.bootstrap_servers, as_tenant)
    ensure_topics(sasl_kafka.bootstrap_servers, [f"{tenant.name}.made"], config=as_tenant)
    admin = AdminClient(sasl_kafka.client_config())
    assert f"{tenant.name}.made" in admin.list_topics(timeout=10).topics
