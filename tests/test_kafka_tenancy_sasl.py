"""Kafka tenancy on Apache Kafka with SASL/SCRAM and the StandardAuthorizer (``sasl_kafka``): the
backend, as the super user ``admin``, provisions each user's principal through the API and each
workload's at launch; the broker then enforces the namespaces (``kafkaml.topics.principals``).

Users' and workloads' names are unique per test: the broker lives for the whole session.
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from rest_framework.test import APIClient

from datasources.kafka_config import security_config
from worker_common.kafka import ensure_topics

pytestmark = pytest.mark.django_db
TOPIC_DENIED = KafkaError.TOPIC_AUTHORIZATION_FAILED


@pytest.fixture
def secured(settings, sasl_kafka):
    """The backend configured as on a secured cluster: its own client is ``admin``."""
    from django.core.cache import cache

    settings.KAFKA_BOOTSTRAP_SERVERS = sasl_kafka.bootstrap_servers
    settings.KAFKAML_PUBLIC_BOOTSTRAP_SERVERS = ""
    settings.KAFKA_SECURITY = security_config(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="admin",
        sasl_password=sasl_kafka.admin_password,
    )
    settings.KAFKAML_CONTROL_TOPIC = f"ctl-{uuid.uuid4().hex[:8]}"
    ensure_topics(
        [settings.KAFKAML_CONTROL_TOPIC],
        bootstrap=sasl_kafka.bootstrap_servers,
        config=sasl_kafka.client_config(),
    )
    cache.clear()  # the credentials throttle
    yield sasl_kafka
    cache.clear()


def make_user(name: str):
    from kafkaml.accounts.services import user_create

    return user_create(username=f"{name}{uuid.uuid4().hex[:6]}", password="a-long-password-1")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def new_credentials(user) -> dict:
    response = api(user).post("/api/v1/auth/kafka/credentials/")
    assert response.status_code == 201, response.json()
    return response.json()


def as_client(kafka, credentials: dict) -> dict:
    return kafka.client_config(credentials["username"], credentials["password"])


def eventually(check, timeout: float = 30.0):
    """Credentials and ACLs reach the broker from the controller a moment after the call."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def produce(config: dict, topic: str, value: bytes = b"x") -> KafkaError | None:
    """The delivery error of one record, written to partition 0 (None: acknowledged)."""
    errors: list = []
    producer = Producer({**config, "message.timeout.ms": 15000, "retries": 2})
    producer.produce(topic, value, partition=0, on_delivery=lambda err, msg: errors.append(err))
    producer.flush(20)
    assert errors, "no delivery report"
    return errors[0]


def consume(config: dict, topic: str, group: str, timeout: float = 20.0):
    """(first record's value, None) or (None, the first error): subscribe as a group member."""
    consumer = Consumer(
        {**config, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                return None, msg.error()
            return msg.value(), None
        return None, None
    finally:
        consumer.close()


def read_assigned(config: dict, topic: str, group: str, timeout: float = 20.0):
    """Like ``consume`` but with assign() of partition 0 from offset 0 (no group joined)."""
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                return None, msg.error()
            return msg.value(), None
        return None, None
    finally:
        consumer.close()


def authenticates(config: dict) -> bool:
    """Whether the broker lets this client in; False only when it refused the SCRAM login."""
    seen: list[KafkaError] = []
    admin = AdminClient({**config, "error_cb": seen.append})
    try:
        admin.list_topics(timeout=8)
        return True
    except KafkaException as exc:
        admin.poll(1)  # serves the error callbacks
        if any(e.code() == KafkaError._AUTHENTICATION for e in seen):
            return False
        raise AssertionError(f"neither in nor refused: {exc} {seen}") from exc


def denied(error: KafkaError | None) -> bool:
    return error is not None and error.code() == TOPIC_DENIED


# -- users ----------------------------------------------------------------------------------------
def test_users_are_fenced_into_their_own_namespace(secured, settings):
    from kafkaml.topics.namespace import kafka_username, topic_prefix

    alice, bob = make_user("alice"), make_user("bob")
    status = api(alice).get("/api/v1/auth/kafka/").json()
    assert status["secured"] is True and status["has_credentials"] is False
    assert status["username"] == kafka_username(alice)
    assert status["topic_prefix"] == status["group_prefix"] == topic_prefix(alice)
    assert status["sasl_mechanism"] == "SCRAM-SHA-512"
    assert status["security_protocol"] == "SASL_PLAINTEXT"

    a, b = new_credentials(alice), new_credentials(bob)
    assert a["username"] == kafka_username(alice) and a["password"] != b["password"]
    assert a["bootstrap_servers"] == secured.bootstrap_servers
    status = api(alice).get("/api/v1/auth/kafka/").json()
    assert status["has_credentials"] is True and status["rotated_at"] == a["rotated_at"]
    as_a, as_b = as_client(secured, a), as_client(secured, b)
    assert eventually(lambda: authenticates(as_a)) and eventually(lambda: authenticates(as_b))

    a_topic, b_topic = f"{topic_prefix(alice)}data", f"{topic_prefix(bob)}data"
    # each on their own prefix: create (auto), write, read in a group of their own
    assert eventually(lambda: produce(as_b, b_topic, b"bob's") is None)
    assert eventually(lambda: produce(as_a, a_topic, b"alice's") is None)
    assert consume(as_a, a_topic, f"{topic_prefix(alice)}g") == (b"alice's", None)
    # A on B's topic: the broker says no, both ways
    assert denied(produce(as_a, b_topic))
    value, error = consume(as_a, b_topic, f"{topic_prefix(alice)}g2")
    assert value is None and denied(error)
    # ... nor through B's group name (groups are fenced by the same prefix)
    value, error = consume(as_a, a_topic, f"{topic_prefix(bob)}g")
    assert value is None and error is not None
    assert error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    # the control topic: write (announce data) yes, read (everyone's announcements) no
    control = settings.KAFKAML_CONTROL_TOPIC
    assert produce(as_a, control, b"announcement") is None
    value, error = read_assigned(as_a, control, f"{topic_prefix(alice)}g")
    assert value is None and denied(error)
    # a topic outside every namespace
    assert denied(produce(as_a, f"x{uuid.uuid4().hex[:6]}"))


def acls_of(username: str) -> AclBindingFilter:
    return AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, f"User:{username}", None,
        AclOperation.ANY, AclPermissionType.ANY,
    )  # fmt: skip


def test_rotating_ends_the_old_password_and_any_other_acl(secured):
    from kafkaml.topics.principals import acl_bindings, user_grants

    alice = make_user("alice")
    first = new_credentials(alice)
    assert eventually(lambda: authenticates(as_client(secured, first)))
    # someone gave Alice's principal more than her namespace: the next issue takes it back
    admin = AdminClient(secured.client_config())
    stray = AclBinding(
        ResourceType.TOPIC, "*", ResourcePatternType.LITERAL, f"User:{first['username']}", "*",
        AclOperation.READ, AclPermissionType.ALLOW,
    )  # fmt: skip
    for future in admin.create_acls([stray]).values():
        future.result(20)
    second = new_credentials(alice)
    assert second["username"] == first["username"] and second["password"] != first["password"]
    assert eventually(lambda: authenticates(as_client(secured, second)))
    assert eventually(lambda: not authenticates(as_client(secured, first)))
    wanted = acl_bindings(second["username"], user_grants(alice))
    assert set(admin.describe_acls(acls_of(second["username"])).result(20)) == wanted


def test_deleting_a_user_removes_their_principals(secured):
    from kafkaml.topics.models import KafkaPrincipal
    from kafkaml.topics.namespace import topic_prefix
    from kafkaml.topics.principals import acl_bindings, user_grants
    from kafkaml.workloads.services import inference_spec

    alice = make_user("alice")
    creds = new_credentials(alice)
    prefix = topic_prefix(alice)
    workload = inference_spec(
        _inference(alice, input_topic=f"{prefix}in", output_topic=f"{prefix}o")
    )
    workload_creds = {
        "username": workload.secret_env["KAFKA_SASL_USERNAME"],
        "password": workload.secret_env["KAFKA_SASL_PASSWORD"],
    }
    assert eventually(lambda: authenticates(as_client(secured, creds)))
    assert eventually(lambda: authenticates(as_client(secured, workload_creds)))
    admin = AdminClient(secured.client_config())
    # exactly the user's grants, nothing else
    wanted = acl_bindings(creds["username"], user_grants(alice))
    assert set(admin.describe_acls(acls_of(creds["username"])).result(20)) == wanted
    assert len(wanted) == 7

    alice.delete()
    assert not KafkaPrincipal.objects.exists()
    for gone in (creds, workload_creds):
        assert admin.describe_acls(acls_of(gone["username"])).result(20) == []
        described = admin.describe_user_scram_credentials([gone["username"]])
        with pytest.raises(KafkaException) as info:
            described[gone["username"]].result(20)
        assert info.value.args[0].code() == KafkaError.RESOURCE_NOT_FOUND
        assert eventually(lambda g=gone: not authenticates(as_client(secured, g)))


def test_disabling_a_user_ends_their_kafka_access(secured):
    from kafkaml.accounts.services import user_set_active
    from kafkaml.topics.models import KafkaPrincipal

    alice = make_user("alice")
    creds = new_credentials(alice)
    assert eventually(lambda: authenticates(as_client(secured, creds)))
    user_set_active(user=alice, active=False)
    assert not KafkaPrincipal.objects.filter(user=alice).exists()
    assert eventually(lambda: not authenticates(as_client(secured, creds)))


def test_a_refused_admin_call_is_a_clear_503(secured, settings):
    alice = make_user("alice")
    settings.KAFKA_SECURITY = {**settings.KAFKA_SECURITY, "sasl.password": "not-admin's"}
    response = api(alice).post("/api/v1/auth/kafka/credentials/")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Kafka refused to provision credentials: ")


# -- workloads ------------------------------------------------------------------------------------
def _inference(owner, *, input_topic: str, output_topic: str, delivery: str = "at_least_once"):
    """An inference as ``inference_spec`` sees it (the launch path, without a trained model)."""
    from kafkaml.catalog.models import MLModel
    from kafkaml.inference.models import Inference
    from kafkaml.training.models import TrainingResult

    model = MLModel(framework="tensorflow")
    result = TrainingResult(pk=1, model=model, owner=owner)
    return Inference(
        pk=uuid.uuid4().int % 10**9,
        owner=owner,
        result=result,
        input_topic=input_topic,
        output_topic=output_topic,
        replicas=1,
        delivery=delivery,
    )


def workload_client(kafka, spec) -> dict:
    env = spec.secret_env
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    return kafka.client_config(env["KAFKA_SASL_USERNAME"], env["KAFKA_SASL_PASSWORD"])


def test_an_inference_principal_reaches_its_own_topics_only(
    secured, django_capture_on_commit_callbacks
):
    from kafkaml.topics.models import KafkaPrincipal
    from kafkaml.topics.namespace import topic_prefix
    from kafkaml.workloads.services import inference_spec, workload_credentials_revoke

    alice, bob = make_user("alice"), make_user("bob")
    prefix = topic_prefix(alice)
    as_admin = secured.client_config()
    for topic in (f"{prefix}in", f"{prefix}other", f"{topic_prefix(bob)}data"):
        assert eventually(lambda t=topic: produce(as_admin, t, b"record") is None)
    inference = _inference(alice, input_topic=f"{prefix}in", output_topic=f"{prefix}out")

    spec = inference_spec(inference)
    assert spec.secret_env["KAFKA_SASL_USERNAME"] == f"workload.inference-{inference.pk}"
    everything = {**spec.env, **spec.secret_env}
    assert secured.admin_password not in everything.values()  # never the platform's password
    assert not any(key.startswith("KAFKA_") for key in spec.env if key != "KAFKA_BOOTSTRAP_SERVERS")
    worker = workload_client(secured, spec)
    assert eventually(lambda: authenticates(worker))
    group = f"kafkaml-inference-{inference.pk}"
    # the worker creates its missing topics at start (model_inference.worker._ensure_topics)
    created = ensure_topics(
        {f"{prefix}out": 1, f"{prefix}in.dlq": 1, f"{prefix}in": 4},
        bootstrap=secured.bootstrap_servers,
        config=worker,
    )
    assert sorted(created) == [f"{prefix}in.dlq", f"{prefix}out"]
    # its input (in its group), its output
    assert eventually(lambda: consume(worker, f"{prefix}in", group) == (b"record", None))
    assert produce(worker, f"{prefix}out") is None
    assert produce(worker, f"{prefix}in.dlq") is None
    # nothing else: not its input for writing, not another topic of its owner, not Bob's
    assert denied(produce(worker, f"{prefix}in"))
    assert denied(produce(worker, f"{prefix}other"))
    assert denied(consume(worker, f"{prefix}other", group)[1])
    assert denied(consume(worker, f"{topic_prefix(bob)}data", group)[1])
    assert denied(produce(worker, f"{topic_prefix(bob)}data"))
    # nor another group (e.g. one of its owner's)
    assert consume(worker, f"{prefix}in", f"{prefix}g")[1].code() == (
        KafkaError.GROUP_AUTHORIZATION_FAILED
    )

    # a relaunch gets a new password; the previous one dies
    relaunched = inference_spec(inference)
    assert relaunched.secret_env["KAFKA_SASL_PASSWORD"] != spec.secret_env["KAFKA_SASL_PASSWORD"]
    assert eventually(lambda: not authenticates(worker))
    worker = workload_client(secured, relaunched)
    assert eventually(lambda: authenticates(worker))

    with django_capture_on_commit_callbacks(execute=True):
        workload_credentials_revoke(spec.name)
    assert not KafkaPrincipal.objects.filter(workload_name=spec.name).exists()
    assert eventually(lambda: not authenticates(worker))


def test_a_training_principal_reads_its_owners_namespace_only(
    secured, monkeypatch, django_capture_on_commit_callbacks
):
    from kafkaml.catalog.models import MLModel
    from kafkaml.topics.namespace import topic_prefix
    from kafkaml.training.models import Deployment, TrainingResult
    from kafkaml.workloads.services import training_spec, workload_credentials_revoke

    alice, bob = make_user("alice"), make_user("bob")
    prefix = topic_prefix(alice)
    as_admin = secured.client_config()
    assert eventually(lambda: produce(as_admin, f"{prefix}train", b"sample") is None)
    assert eventually(lambda: produce(as_admin, f"{topic_prefix(bob)}train", b"b") is None)
    result = TrainingResult(
        pk=uuid.uuid4().int % 10**9,
        owner=alice,
        model=MLModel(framework="tensorflow"),
        deployment=Deployment(pk=1, gpus=0),
    )
    spec = training_spec(result)
    assert secured.admin_password not in {**spec.env, **spec.secret_env}.values()
    # the training worker's own consumer settings, from the environment it is given
    from model_training.dataset import consumer_for

    for key, value in spec.secret_env.items():
        monkeypatch.setenv(key, value)
    worker = workload_client(secured, spec)
    assert eventually(lambda: authenticates(worker))
    consumer = consumer_for(secured.bootstrap_servers)
    try:
        consumer.assign([TopicPartition(f"{prefix}train", 0, 0)])
        msg = eventually(lambda: consumer.poll(1.0))
        assert msg is not None and msg.error() is None and msg.value() == b"sample"
    finally:
        consumer.close()
    bobs = f"{topic_prefix(bob)}train"
    assert denied(consume(worker, bobs, f"kafkaml-training-{result.pk}")[1])
    assert read_assigned(worker, bobs, "kafkaml-training-reader", timeout=5)[0] is None
    assert denied(produce(worker, f"{prefix}train"))
    assert denied(produce(worker, f"{prefix}new"))

    with django_capture_on_commit_callbacks(execute=True):
        workload_credentials_revoke(spec.name)
    assert eventually(lambda: not authenticates(worker))


def test_the_reconciler_removes_principals_whose_credentials_were_revoked(secured):
    from kafkaml.topics.models import KafkaPrincipal
    from kafkaml.topics.namespace import topic_prefix
    from kafkaml.topics.principals import workload_principals_sweep
    from kafkaml.workloads.credentials import credentials_revoke
    from kafkaml.workloads.services import inference_spec

    alice = make_user("alice")
    prefix = topic_prefix(alice)
    spec = inference_spec(_inference(alice, input_topic=f"{prefix}i", output_topic=f"{prefix}o"))
    worker = workload_client(secured, spec)
    assert eventually(lambda: authenticates(worker))
    assert workload_principals_sweep() == 0  # its API credential is live: it stays
    credentials_revoke(workload_name=spec.name)  # e.g. the reconciler saw the workload end
    assert workload_principals_sweep() == 1
    assert not KafkaPrincipal.objects.filter(workload_name=spec.name).exists()
    assert eventually(lambda: not authenticates(worker))


def test_an_exactly_once_inference_writes_in_its_own_transactions_only(secured):
    from kafkaml.topics.namespace import topic_prefix
    from kafkaml.workloads.services import inference_spec

    alice = make_user("alice")
    prefix = topic_prefix(alice)
    inference = _inference(
        alice, input_topic=f"{prefix}ti", output_topic=f"{prefix}to", delivery="exactly_once"
    )
    worker = workload_client(secured, inference_spec(inference))
    assert eventually(lambda: authenticates(worker))

    def transaction(transactional_id: str):
        producer = Producer({**worker, "transactional.id": transactional_id})
        try:
            producer.init_transactions(20)
            producer.begin_transaction()
            producer.produce(f"{prefix}to", b"once")
            producer.commit_transaction(20)
            return None
        except KafkaException as exc:
            return exc.args[0]

    # the replica's own transactional id (model_inference: "<group>.<replica>")
    assert eventually(lambda: transaction(f"kafkaml-inference-{inference.pk}.r-0") is None)
    refused = transaction(f"kafkaml-inference-{inference.pk + 1}.r-0")
    assert refused is not None
    assert refused.code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED


def test_a_credential_already_gone_from_kafka_does_not_block_deleting_its_user(secured):
    from confluent_kafka.admin import ScramMechanism, UserScramCredentialDeletion
    from kafkaml.topics.models import KafkaPrincipal

    alice = make_user("alice")
    creds = new_credentials(alice)
    admin = AdminClient(secured.client_config())  # an operator removes it by hand
    deletion = UserScramCredentialDeletion(creds["username"], ScramMechanism.SCRAM_SHA_512)
    for future in admin.alter_user_scram_credentials([deletion]).values():
        future.result(20)
    alice.delete()
    assert not KafkaPrincipal.objects.filter(kafka_username=creds["username"]).exists()
    assert admin.describe_acls(acls_of(creds["username"])).result(20) == []
