"""Websockets through the real ASGI application: authentication, ownership, live pushes and
predictions tailed from a real broker."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from confluent_kafka import Producer

from kafkaml.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def connect(path):
    communicator = WebsocketCommunicator(application, path)
    connected, code = await communicator.connect(timeout=10)
    return communicator, connected, code


@pytest.fixture
def tokens(user, other_user):
    from kafkaml.accounts.services import token_create

    return token_create(user=user)[1], token_create(user=other_user)[1]


@pytest.fixture
def result(make_deployment):
    from kafkaml.training.models import TrainingResult

    return TrainingResult.objects.get(pk=make_deployment()["results"][0]["id"])


async def test_anonymous_and_foreign_connections_are_refused(tokens, result):
    mine, theirs = tokens
    _, connected, code = await connect(f"/ws/results/{result.pk}/")
    assert (connected, code) == (False, 4401)
    _, connected, code = await connect(f"/ws/results/{result.pk}/?token={theirs}")
    assert (connected, code) == (False, 4404)
    _, connected, code = await connect("/ws/predictions/?topic=not%20a%20topic&token=" + mine)
    assert (connected, code) == (False, 4404)
    _, connected, code = await connect("/ws/predictions/?inference=999999&token=" + mine)
    assert (connected, code) == (False, 4404)


async def test_result_pushes_reach_the_owner(tokens, result):
    from kafkaml.training.services import epoch_record, result_set_status

    communicator, connected, _ = await connect(f"/ws/results/{result.pk}/?token={tokens[0]}")
    assert connected
    snapshot = await communicator.receive_json_from(timeout=10)
    assert snapshot["event"] == "snapshot" and snapshot["data"]["status"] == "created"
    await sync_to_async(result_set_status)(result=result, status="deployed")
    await sync_to_async(epoch_record)(result=result, epoch=1, metrics={"loss": 0.5})
    events = [await communicator.receive_json_from(timeout=10) for _ in range(2)]
    assert events[0]["event"] == "status" and events[0]["data"]["status"] == "deployed"
    assert events[1] == {"event": "epoch", "data": {"epoch": 1, "loss": 0.5}}
    await communicator.disconnect()


async def test_predictions_flow_to_the_page_from_a_fresh_topic(
    tokens, result, broker, unique_topic, settings
):
    from kafkaml.inference.models import Inference

    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
    inference = await sync_to_async(Inference.objects.create)(
        owner_id=result.owner_id,
        result=result,
        serving_result=result,
        model_version=1,
        input_format="RAW",
        input_topic=f"alice.{unique_topic}-in",
        output_topic=f"alice.{unique_topic}",
        status="running",
    )
    communicator, connected, _ = await connect(
        f"/ws/predictions/?inference={inference.pk}&token={tokens[0]}"
    )
    assert connected
    assert (await communicator.receive_json_from(timeout=30))["event"] == "subscribed"
    await asyncio.sleep(2)  # the page is open before any prediction exists

    def produce():
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
        for i in range(5):
            producer.produce(
                inference.output_topic,
                key=str(i).encode(),
                value=json.dumps({"values": [i, 1 - i], "model_version": 1}),
            )
        assert producer.flush(10) == 0

    await sync_to_async(produce)()
    received = []
    while len(received) < 5:
        message = await communicator.receive_json_from(timeout=30)
        received.extend(message["data"])
    assert [item["values"] for item in received] == [[i, 1 - i] for i in range(5)]
    assert received[0]["model_version"] == 1
    await communicator.disconnect()


async def test_inference_metrics_reach_the_owner(tokens, result):
    from kafkaml.inference.models import Inference
    from kafkaml.inference.services import inference_metrics_record

    inference = await sync_to_async(Inference.objects.create)(
        owner_id=result.owner_id,
        result=result,
        serving_result=result,
        model_version=1,
        input_format="RAW",
        input_topic="alice.in",
        output_topic="alice.out",
        status="running",
    )
    communicator, connected, _ = await connect(f"/ws/inferences/{inference.pk}/?token={tokens[0]}")
    assert connected
    snapshot = await communicator.receive_json_from(timeout=10)
    assert snapshot["data"]["status"] == "running" and "live" in snapshot["data"]
    await sync_to_async(inference_metrics_record)(
        inference=inference, replica="r0", metrics={"records_in_per_s": 12.5}
    )
    event = await communicator.receive_json_from(timeout=10)
    assert event == {"event": "metrics", "data": {"replica": "r0", "records_in_per_s": 12.5}}
    await communicator.disconnect()


async def test_predictions_of_a_topic_outside_the_namespace_are_refused(tokens, result):
    """Even the user's own inference, made before topics were owned, cannot tail a topic
    outside their namespace: the page is told why, as for any topic named outside it."""
    from kafkaml.inference.models import Inference

    legacy = await sync_to_async(Inference.objects.create)(
        owner_id=result.owner_id,
        result=result,
        serving_result=result,
        model_version=1,
        input_format="RAW",
        input_topic="alice.in",
        output_topic="bob.out",
        status="running",
    )
    mine, theirs = tokens
    reason = "'bob.out' is not yours: your topics start with 'alice.'."
    for query in (f"inference={legacy.pk}", "topic=bob.out"):
        communicator, connected, _ = await connect(f"/ws/predictions/?{query}&token={mine}")
        assert connected, query
        assert await communicator.receive_json_from(timeout=10) == {
            "event": "error",
            "data": {"detail": reason},
        }
        closed = await communicator.receive_output(timeout=10)
        assert closed == {"type": "websocket.close", "code": 4409, "reason": reason}
    # bob cannot name alice's topics either
    communicator, connected, _ = await connect(f"/ws/predictions/?topic=alice.in&token={theirs}")
    assert connected
    assert (await communicator.receive_json_from(timeout=10))["event"] == "error"
    closed = await communicator.receive_output(timeout=10)
    assert closed["code"] == 4409 and "'alice.in' is not yours" in closed["reason"]


async def test_any_topic_of_the_users_namespace_can_be_visualized(
    tokens, result, broker, unique_topic, settings
):
    """Not only inference outputs: a topic no inference names, with JSON, text and binary
    records (each shown as it can be)."""
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
    topic = f"alice.{unique_topic}-sensors"
    communicator, connected, _ = await connect(f"/ws/predictions/?topic={topic}&token={tokens[0]}")
    assert connected
    assert await communicator.receive_json_from(timeout=30) == {
        "event": "subscribed",
        "data": {"topic": topic},
    }
    await asyncio.sleep(2)

    def produce():
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
        for value in (b'{"fields": {"t": 21.5}}', b"[1, 2, 3]", "héllo".encode(), b"\xff\x00\x01"):
            producer.produce(topic, value=value, partition=0)
        assert producer.flush(10) == 0

    await sync_to_async(produce)()
    received = []
    while len(received) < 4:
        received.extend((await communicator.receive_json_from(timeout=30))["data"])
    assert received[0]["values"] == {"fields": {"t": 21.5}}
    assert received[1]["values"] == [1, 2, 3]
    assert received[2]["text"] == "héllo" and received[2]["values"] is None
    assert received[3]["bytes"] == 3 and received[3]["hex"] == "ff0001"
    await communicator.disconnect()
