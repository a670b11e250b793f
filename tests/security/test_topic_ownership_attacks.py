"""Attacks on Kafka tenancy: Alice (the attacker) names Bob's (the victim's) topics or his
deployment, against the backend with a real broker (the embedded one, or Apache Kafka in
``make test-kafka``) and the real control logger.

Each attack must fail with a reason and leave no trace in Bob's data, and the same operation on
one's own topics must still work (so the refusals are the rule, not a broken feature). The rule
(``kafkaml.topics.ownership``): a user owns exactly the topics starting with their prefix,
``alice.`` and ``bob.`` here.

These tests use the backend's fixtures (``user`` is Alice, ``other_user`` is Bob), not the
shared platform of this folder: the rule lives in the backend, and a broker is all they need.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from confluent_kafka import Producer
from kafkaml.training.tests.test_worker_api import upload

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not reached in time")


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(10) == 0


@pytest.fixture
def bobs_deployment(other_client, make_model, other_user, launcher):
    model = make_model(owner=other_user)
    configuration = other_client.post(
        "/api/v1/configurations/", {"name": "bob", "models": [model.pk]}, format="json"
    ).json()
    response = other_client.post(
        "/api/v1/deployments/", {"configuration": configuration["id"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


# -- inference ----------------------------------------------------------------------------------
def test_an_inference_on_another_users_topics_is_refused_and_nothing_is_launched(
    client, make_deployment, training_client, launcher
):
    deployment = make_deployment()
    result_id = deployment["results"][0]["id"]
    assert upload(training_client(result_id), result_id).status_code == 201
    launched = len(launcher.launched)
    body = {
        "result": result_id,
        "input_format": "RAW",
        "input_config": {"data_type": "float32", "data_reshape": "8 8"},
        "input_topic": "alice.in",
        "output_topic": "alice.out",
    }
    attacks = {
        "input_topic": {"input_topic": "bob.in"},  # read Bob's records
        "output_topic": {"output_topic": "bob.predictions"},  # write into Bob's topic
        "upper_topic": {"upper_topic": "bob.upper", "limit": 0.5},  # forward into Bob's
    }
    for field, attack in attacks.items():
        response = client.post("/api/v1/inferences/", {**body, **attack}, format="json")
        assert response.status_code == 409, response.json()
        topic = attack[field]
        reason = f"{topic!r} is not yours: your topics start with 'alice.'."
        assert response.json() == {"detail": reason, "errors": {field: [reason]}}
    assert len(launcher.launched) == launched  # no workload, so nothing read or written
    assert client.get("/api/v1/inferences/").json()["count"] == 0
    # on her own topics the same request is served
    assert client.post("/api/v1/inferences/", body, format="json").status_code == 201
    assert launcher.launched[-1].component == "inference"


# -- predictions tail -----------------------------------------------------------------------------
@pytest.fixture
def anyio_backend():
    return "asyncio"


async def _connect(path):
    from kafkaml.asgi import application

    communicator = WebsocketCommunicator(application, path)
    connected, code = await communicator.connect(timeout=30)
    return communicator, connected, code


@pytest.mark.anyio
async def test_tailing_another_users_predictions_is_refused(
    broker, settings, make_deployment, user, other_user
):
    from kafkaml.accounts.services import token_create
    from kafkaml.inference.models import Inference
    from kafkaml.training.models import TrainingResult

    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
    alice_token = (await sync_to_async(token_create)(user=user))[1]
    bob_token = (await sync_to_async(token_create)(user=other_user))[1]
    result = await sync_to_async(TrainingResult.objects.get)(
        pk=(await sync_to_async(make_deployment)())["results"][0]["id"]
    )
    bobs_topic = f"bob.predictions-{uuid.uuid4().hex[:8]}"
    fields = {"model_version": 1, "input_format": "RAW", "status": "running"}
    create = sync_to_async(Inference.objects.create)
    bobs = await create(
        owner=other_user,
        result=result,
        serving_result=result,
        input_topic="bob.in",
        output_topic=bobs_topic,
        **fields,
    )
    # Alice's inference from before topics were owned, with Bob's topic as its output
    legacy = await create(
        owner=user,
        result=result,
        serving_result=result,
        input_topic="alice.in",
        output_topic=bobs_topic,
        **fields,
    )
    # Bob's inference is not found for Alice; her own legacy one is refused with the reason.
    _, connected, code = await _connect(f"/ws/predictions/?inference={bobs.pk}&token={alice_token}")
    assert (connected, code) == (False, 4404)
    refused = []
    for query in (f"inference={legacy.pk}", f"topic={bobs_topic}"):
        communicator, connected, _ = await _connect(f"/ws/predictions/?{query}&token={alice_token}")
        assert connected, query
        error = await communicator.receive_json_from(timeout=10)
        assert error["event"] == "error", error
        assert error["data"]["detail"].startswith(f"{bobs_topic!r} is not yours")
        assert (await communicator.receive_output(timeout=10))["code"] == 4409
        refused.append(communicator)

    # Bob's own tail works, so the records do flow: none of them reached Alice above
    communicator, connected, _ = await _connect(
        f"/ws/predictions/?topic={bobs_topic}&token={bob_token}"
    )
    assert connected
    assert (await communicator.receive_json_from(timeout=30))["event"] == "subscribed"
    # The tail starts at the end of the topic once its consumer is assigned (later on a cold
    # broker): keep producing until Bob's page shows a record.
    sent = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = (str(sent).encode(), json.dumps({"values": [sent]}).encode())
        await sync_to_async(produce)(broker.bootstrap_servers, bobs_topic, [record])
        sent += 1
        if not await communicator.receive_nothing(timeout=2):
            break
    received = (await communicator.receive_json_from(timeout=10))["data"]
    assert received and all(0 <= item["values"][0] < sent for item in received)
    await communicator.disconnect()
    for communicator in refused:  # closed before any of them: nothing reached Alice
        assert await communicator.receive_nothing(timeout=1)


# -- control messages -----------------------------------------------------------------------------
class RunningLogger:
    """The real control logger in a thread, on a control topic of this test's own."""

    def __init__(self, broker, backend_url: str, token: str):
        from kafkaml.broker import ensure_topics

        from control_logger.service import ControlLogger
        from worker_common.backend import BackendClient

        self.bootstrap = broker.bootstrap_servers
        self.topic = f"ctl-{uuid.uuid4().hex[:8]}"  # one partition
        self.group = f"logger-{self.topic}"
        ensure_topics(self.bootstrap, [self.topic])
        self.client = BackendClient(backend_url, token, max_retries=2)
        self.service = ControlLogger(self.client, topic=self.topic, group_id=self.group)
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.thread.start()

    def settle(self, messages: int, timeout: float = 60.0) -> None:
        """Wait until the logger committed ``messages`` control messages (each one is committed
        only once registered or recorded as an error), then stop it: the test's own database
        reads never race the live server's writes."""
        from confluent_kafka import Consumer, TopicPartition

        probe = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group})
        try:
            wait_for(
                lambda: probe.committed([TopicPartition(self.topic, 0)], timeout=5)[0].offset
                >= messages,
                timeout,
            )
        finally:
            probe.close()
        self.stop()

    def stop(self) -> None:
        self.service.stop()
        self.thread.join(30)
        self.client.session.close()  # no keep-alive request left open when the server stops
        assert not self.thread.is_alive()


@pytest.fixture
def control_logger(broker, live_server, monkeypatch):
    from kafkaml.workloads.credentials import control_logger_credential_ensure

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    running = RunningLogger(broker, live_server.url, control_logger_credential_ensure())
    yield running
    if running.thread.is_alive():
        running.stop()


@pytest.fixture
def deployments(make_deployment, bobs_deployment) -> tuple[int, int]:
    """Alice's and Bob's deployments, made before the logger starts."""
    return make_deployment()["id"], bobs_deployment["id"]


def send_stream(broker, control_topic: str, topic: str, deployment_id: int, **extra) -> dict:
    """What a sink does: records on ``topic``, then the control message announcing them."""
    from datasources.raw_sink import RawSink

    sink = RawSink(
        bootstrap_servers=broker.bootstrap_servers,
        topic=topic,
        deployment_id=deployment_id,
        control_topic=control_topic,
        data_type="uint8",
        label_type="uint8",
        **extra,
    )
    for i in range(4):
        sink.send(data=np.array([i, i], dtype=np.uint8), label=np.uint8(i % 2))
    sink.close()
    return sink.control_message


def test_control_messages_announcing_foreign_topics_or_naming_foreign_deployments_are_refused(
    broker, deployments, control_logger, client, other_client, other_user
):
    from kafkaml.training.models import ControlError, Datasource

    from datasources import control

    alices_id, bobs_id = deployments
    tag = uuid.uuid4().hex[:8]
    ctl = control_logger.topic

    # 1. Poisoning: Alice's stream announced for Bob's deployment (he would train on her data).
    send_stream(broker, ctl, f"alice.poison-{tag}", bobs_id)
    # 2. Theft: Bob's topic announced for Alice's own deployment (her worker would read it).
    produce(broker.bootstrap_servers, f"bob.private-{tag}", [(None, b"secret")] * 3)
    theft = control.ControlMessage(
        deployment_id=alices_id,
        ranges=(control.Range(f"bob.private-{tag}", 0, 0, 3),),
    )
    produce(broker.bootstrap_servers, ctl, [(control.encode_key(alices_id), control.encode(theft))])
    # 3. Theft through the unsupervised topic of an otherwise honest stream.
    send_stream(broker, ctl, f"alice.own-{tag}", alices_id, unsupervised_topic=f"bob.u-{tag}")
    # 4. Bob's own stream for his own deployment: registered.
    send_stream(broker, ctl, f"bob.digits-{tag}", bobs_id)
    control_logger.settle(messages=4)
    assert (control_logger.service.registered, control_logger.service.errors) == (1, 3)

    (datasource,) = Datasource.objects.all()
    assert datasource.deployment_id == bobs_id and datasource.owner_id == other_user.pk
    assert datasource.topic == f"bob.digits-{tag}:0:0:4"

    poison, stolen, unsupervised = ControlError.objects.order_by("control_offset")
    assert poison.deployment_id == bobs_id and poison.owner_id == other_user.pk
    assert f"'alice.poison-{tag}' is not yours: your topics start with 'bob.'" in poison.error
    assert stolen.deployment_id == alices_id
    assert f"'bob.private-{tag}' is not yours: your topics start with 'alice.'" in stolen.error
    assert unsupervised.deployment_id == alices_id
    assert f"'bob.u-{tag}' is not yours" in unsupervised.error
    assert {e.control_topic for e in (poison, stolen, unsupervised)} == {ctl}

    # Each owner sees the refusals naming their deployment, and only those.
    bobs_errors = other_client.get(f"/api/v1/deployments/{bobs_id}/control-errors/").json()
    assert [e["id"] for e in bobs_errors] == [poison.pk]
    assert bobs_errors[0]["error"] == poison.error and bobs_errors[0]["control_topic"] == ctl
    alices_errors = client.get(f"/api/v1/deployments/{alices_id}/control-errors/").json()
    assert sorted(e["id"] for e in alices_errors) == [stolen.pk, unsupervised.pk]
    assert client.get(f"/api/v1/deployments/{bobs_id}/control-errors/").status_code == 404
    assert client.get("/api/v1/datasources/").json()["count"] == 0
