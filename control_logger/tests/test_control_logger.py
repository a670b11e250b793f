"""The control logger as a real process, between the embedded broker and a live backend."""

import json
import os
import subprocess
import sys
import time

import pytest
from confluent_kafka import Producer
from kafkaml.broker import ensure_topics

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def control_topic(broker, unique_topic):
    ensure_topics(broker.bootstrap_servers, [unique_topic])
    return unique_topic


@pytest.fixture
def control_logger(broker, live_server, control_topic, tmp_path):
    from kafkaml.workloads.credentials import control_logger_credential_ensure

    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "KAFKAML_BACKEND_URL": live_server.url,
        "KAFKAML_API_TOKEN": control_logger_credential_ensure(),
        "KAFKAML_CONTROL_TOPIC": control_topic,
    }
    log = open(tmp_path / "control_logger.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "control_logger"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    yield process
    process.terminate()
    process.wait(20)
    print((tmp_path / "control_logger.log").read_text())


def send(broker, topic, key: bytes, value: bytes):
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    producer.produce(topic, key=key, value=value)
    assert producer.flush(10) == 0


def announcement(**extra):
    return json.dumps(
        {
            "topic": "alice.digits:0:0:100",
            "input_format": "RAW",
            "input_config": {"data_type": "uint8", "label_type": "uint8", "data_reshape": "8 8"},
            "description": "digits",
            "validation_rate": 0.1,
            "test_rate": 0.1,
            "total_msg": 100,
            **extra,
        }
    ).encode()


def test_registers_once_records_malformed_and_carries_on(
    broker, control_topic, control_logger, user
):
    from kafkaml.catalog.models import Configuration
    from kafkaml.training.models import ControlError, Datasource, Deployment

    configuration = Configuration.objects.create(owner=user, name="c")
    deployment = Deployment.objects.create(owner=user, configuration=configuration)
    key = deployment.pk.to_bytes(8, "big")

    send(broker, control_topic, key, announcement())
    send(broker, control_topic, key, announcement())  # the same stream announced twice
    wait_for(lambda: Datasource.objects.count() >= 1)

    send(broker, control_topic, key, b"{not json")
    send(
        broker, control_topic, deployment.pk.to_bytes(1, "big"), announcement(description="second")
    )
    wait_for(lambda: Datasource.objects.filter(description="second").exists())
    wait_for(lambda: ControlError.objects.exists())

    error = ControlError.objects.get()
    assert "JSON" in error.error and error.raw == "{not json"
    # its key was readable: the error is shown to the owner of the deployment it names
    assert error.deployment_id == deployment.pk and error.owner_id == user.pk
    sources = Datasource.objects.order_by("id")
    assert [s.description for s in sources] == ["digits", "second"]
    assert all(s.deployment_id == deployment.pk for s in sources)
    assert control_logger.poll() is None


def test_same_control_message_twice_is_one_datasource(control_logger_client, user):
    from kafkaml.catalog.models import Configuration
    from kafkaml.training.models import Datasource, Deployment

    deployment = Deployment.objects.create(
        owner=user, configuration=Configuration.objects.create(owner=user, name="c")
    )
    body = {
        "deployment_id": deployment.pk,
        "topic": "alice.t:0:0:5",
        "input_format": "RAW",
        "control_topic": "ctl",
        "control_partition": 0,
        "control_offset": 3,
    }
    control_logger_client.post("/api/v1/worker/datasources/", body, format="json")
    control_logger_client.post("/api/v1/worker/datasources/", body, format="json")
    assert Datasource.objects.count() == 1


def test_a_refusal_is_recorded_with_the_backends_reason():
    from control_logger.service import _refusal
    from worker_common.backend import BackendError

    body = '{"detail":"Not registered for deployment 3: \'bob.x\' is \\"not\\" yours.","errors":{}}'
    refused = BackendError(f"POST /api/v1/worker/datasources/ -> 409: {body}", 409)
    assert _refusal(refused) == "Not registered for deployment 3: 'bob.x' is \"not\" yours."
    # a truncated or non-JSON answer is kept whole
    garbled = BackendError("POST /api/v1/worker/datasources/ -> 400: <html>", 400)
    assert _refusal(garbled) == "POST /api/v1/worker/datasources/ -> 400: <html>"
