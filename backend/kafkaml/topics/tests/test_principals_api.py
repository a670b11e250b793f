"""``/api/v1/auth/kafka/`` on the embedded (unsecured) broker, and the ACLs each principal gets.

Provisioning on a secured Kafka is tested against Apache Kafka with SASL in
``tests/test_kafka_tenancy_sasl.py``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType
from rest_framework.test import APIClient

from kafkaml.topics import principals
from kafkaml.topics.models import KafkaPrincipal

pytestmark = pytest.mark.django_db
PREFIXED, LITERAL = ResourcePatternType.PREFIXED, ResourcePatternType.LITERAL
TOPIC, GROUP = ResourceType.TOPIC, ResourceType.GROUP


@pytest.fixture(autouse=True)
def unsecured(settings):
    from django.core.cache import cache

    settings.KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
    settings.KAFKAML_PUBLIC_BOOTSTRAP_SERVERS = ""
    settings.KAFKA_SECURITY = {"security.protocol": "PLAINTEXT"}
    cache.clear()
    yield
    cache.clear()


def test_the_unsecured_broker_says_plainly_it_is_no_boundary(client, user):
    response = client.get("/api/v1/auth/kafka/")
    assert response.status_code == 200
    assert response.json() == {
        "secured": False,
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
        "sasl_mechanism": None,
        "username": None,
        "topic_prefix": "alice.",
        "group_prefix": "alice.",
        "control_topic": "KAFKA_ML_CONTROL_TOPIC",
        "has_credentials": False,
        "rotated_at": None,
        "notice": principals.UNSECURED_NOTICE,
    }
    notice = response.json()["notice"]
    assert "no authentication" in notice and "not a security boundary" in notice
    assert "any client on the network can read and write every topic" in notice


def test_the_public_address_is_shown_when_set(client, settings):
    settings.KAFKAML_PUBLIC_BOOTSTRAP_SERVERS = "kafka.example.org:9093"
    assert client.get("/api/v1/auth/kafka/").json()["bootstrap_servers"] == (
        "kafka.example.org:9093"
    )


def test_no_credentials_on_an_unsecured_broker(client, user):
    response = client.post("/api/v1/auth/kafka/credentials/")
    assert response.status_code == 409
    assert response.json()["detail"] == principals.UNSECURED_NOTICE
    assert not KafkaPrincipal.objects.exists()


def test_tls_without_sasl_is_not_called_unauthenticated(client, settings, tmp_path):
    settings.KAFKA_SECURITY = {"security.protocol": "SSL"}
    body = client.get("/api/v1/auth/kafka/").json()
    assert body["secured"] is False and body["security_protocol"] == "SSL"
    assert "does not issue Kafka credentials" in body["notice"]
    assert client.post("/api/v1/auth/kafka/credentials/").status_code == 409


def test_only_signed_in_people(db, control_logger_client):
    assert APIClient().get("/api/v1/auth/kafka/").status_code == 401
    assert APIClient().post("/api/v1/auth/kafka/credentials/").status_code == 401
    # a workload's credential is no person: refused here like no credential at all
    assert control_logger_client.get("/api/v1/auth/kafka/").status_code == 401
    assert control_logger_client.post("/api/v1/auth/kafka/credentials/").status_code == 401


def test_each_person_sees_their_own_namespace(client, other_client):
    assert client.get("/api/v1/auth/kafka/").json()["topic_prefix"] == "alice."
    assert other_client.get("/api/v1/auth/kafka/").json()["topic_prefix"] == "bob."


def test_new_credentials_are_throttled_per_user(client, settings):
    from kafkaml.topics.apis import KafkaCredentialsThrottle

    KafkaCredentialsThrottle.THROTTLE_RATES = {"kafka_credentials": "2/min"}
    try:
        codes = [client.post("/api/v1/auth/kafka/credentials/").status_code for _ in range(3)]
    finally:
        del KafkaCredentialsThrottle.THROTTLE_RATES
    assert codes == [409, 409, 429]


def test_an_unusable_scram_mechanism_is_a_clear_503_before_kafka_is_asked(client, settings):
    settings.KAFKA_SECURITY = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "platform",
        "sasl.password": "secret",
    }
    settings.KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:1"  # nothing listens: never reached
    settings.KAFKAML_KAFKA_SCRAM_MECHANISM = "PLAIN"
    response = client.post("/api/v1/auth/kafka/credentials/")
    assert response.status_code == 503
    assert response.json()["detail"] == (
        "Kafka refused to provision credentials: KAFKAML_KAFKA_SCRAM_MECHANISM is 'PLAIN': "
        "use SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    assert not KafkaPrincipal.objects.exists()


def test_the_schema_documents_both_endpoints(client):
    schema = client.get("/api/schema/?format=json").json()
    access = schema["paths"]["/api/v1/auth/kafka/"]["get"]["responses"]["200"]
    assert access["content"]["application/json"]["schema"]["$ref"].endswith("KafkaAccessOutput")
    created = schema["paths"]["/api/v1/auth/kafka/credentials/"]["post"]["responses"]
    assert {"201", "409", "503"} <= set(created)
    fields = schema["components"]["schemas"]["KafkaCredentialsOutput"]["properties"]
    assert set(fields) == {
        "username",
        "password",
        "security_protocol",
        "sasl_mechanism",
        "bootstrap_servers",
        "rotated_at",
    }


# -- the ACLs (what the broker is asked to allow; enforced in tests/test_kafka_tenancy_sasl.py) --
def _allowed(username, grants) -> set[tuple]:
    return {
        (b.restype, b.name, b.resource_pattern_type, b.operation)
        for b in principals.acl_bindings(username, grants)
        if b.principal == f"User:{username}" and b.host == "*"
    }


def test_a_person_gets_their_prefix_and_writing_the_control_topic(user, settings):
    settings.KAFKAML_CONTROL_TOPIC = "ctl"
    assert _allowed("user.alice", principals.user_grants(user)) == {
        (TOPIC, "alice.", PREFIXED, AclOperation.READ),
        (TOPIC, "alice.", PREFIXED, AclOperation.WRITE),
        (TOPIC, "alice.", PREFIXED, AclOperation.DESCRIBE),
        (TOPIC, "alice.", PREFIXED, AclOperation.CREATE),
        (GROUP, "alice.", PREFIXED, AclOperation.READ),
        (TOPIC, "ctl", LITERAL, AclOperation.WRITE),
        (TOPIC, "ctl", LITERAL, AclOperation.DESCRIBE),
    }


def test_an_inference_gets_its_exact_topics_and_group(user):
    inference = SimpleNamespace(
        pk=7, owner=user, input_topic="alice.in", output_topic="alice.out", upper_topic="alice.up"
    )
    allowed = _allowed("workload.inference-7", principals.inference_grants(inference))
    assert {name for _, name, _, _ in allowed} == {
        "alice.in",
        "alice.out",
        "alice.up",
        "alice.in.dlq",
        "alice.models.inference-7",  # models as data: its version descriptors
        "kafkaml-inference-7",
    }
    assert all(pattern == LITERAL for _, _, pattern, _ in allowed)
    reads = {name for _, name, _, op in allowed if op == AclOperation.READ}
    writes = {name for _, name, _, op in allowed if op == AclOperation.WRITE}
    assert reads == {"alice.in", "alice.models.inference-7", "kafkaml-inference-7"}
    assert writes == {"alice.out", "alice.up", "alice.in.dlq"}


def test_an_exactly_once_inference_gets_its_replicas_transactional_ids(user):
    inference = SimpleNamespace(
        pk=9, owner=user, input_topic="alice.in", output_topic="alice.out", upper_topic=""
    )
    at_least_once = _allowed("w", principals.inference_grants(inference))
    assert not any(kind == ResourceType.TRANSACTIONAL_ID for kind, *_ in at_least_once)
    inference.delivery = "exactly_once"
    exactly_once = _allowed("w", principals.inference_grants(inference))
    assert exactly_once - at_least_once == {
        (ResourceType.TRANSACTIONAL_ID, "kafkaml-inference-9.", PREFIXED, AclOperation.WRITE),
        (ResourceType.TRANSACTIONAL_ID, "kafkaml-inference-9.", PREFIXED, AclOperation.DESCRIBE),
    }


def test_an_inference_gets_nothing_outside_its_owners_namespace(user):
    legacy = SimpleNamespace(  # made before topics were owned
        pk=8, owner=user, input_topic="bob.in", output_topic="out", upper_topic=""
    )
    allowed = _allowed("workload.inference-8", principals.inference_grants(legacy))
    assert allowed == {
        (GROUP, "kafkaml-inference-8", LITERAL, AclOperation.READ),
        # its own model-updates topic is in the owner's namespace
        (TOPIC, "alice.models.inference-8", LITERAL, AclOperation.READ),
        (TOPIC, "alice.models.inference-8", LITERAL, AclOperation.DESCRIBE),
    }


def test_a_training_reads_its_owners_namespace(user):
    result = SimpleNamespace(pk=12, owner=user)
    allowed = _allowed("workload.training-result-12", principals.training_grants(result))
    assert allowed == {
        (TOPIC, "alice.", PREFIXED, AclOperation.READ),
        (TOPIC, "alice.", PREFIXED, AclOperation.DESCRIBE),
        (GROUP, "kafkaml-training-reader", LITERAL, AclOperation.DESCRIBE),
        (GROUP, "kafkaml-training-12", LITERAL, AclOperation.READ),
    }


# -- workloads on the unsecured broker --------------------------------------------------------------
def test_workloads_get_no_kafka_credentials_when_nothing_is_provisioned(
    make_deployment, launcher, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_deployment()
    [spec] = launcher.launched
    assert set(spec.secret_env) == {"KAFKAML_API_TOKEN"}
    assert not any(key.startswith("KAFKA_S") for key in spec.env)
    assert not KafkaPrincipal.objects.exists()
