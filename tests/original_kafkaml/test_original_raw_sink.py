"""A user's unchanged script with the original Kafka-ML ``RawSink`` (kafka-python) still
registers its training data, as long as the topic is in the user's namespace (``alice.``).

The sink (``original_raw_sink``) speaks only kafka-python; the real control logger runs as a
process between the broker (``broker``: Tansu, or Apache Kafka under ``TEST_BROKER=apache-kafka``)
and a live backend. kafka-python needs no ``api_version`` on either broker: its version probe
(ApiVersions) is answered by both, so the sink runs with the original's defaults.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from kafkaml.broker import ensure_topics
from sklearn.datasets import load_digits

from .original_raw_sink import CONTROL_TOPIC, RawSink

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLES = 300


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def control_topic(broker, unique_topic):
    """A control topic of this test's own (the broker is shared by the session); the sink's
    default is the platform's, checked in ``test_default_control_topic_is_the_platforms``."""
    topic = f"ctl-{unique_topic}"
    ensure_topics(broker.bootstrap_servers, [topic])
    return topic


@pytest.fixture
def control_logger(broker, live_server, control_topic, tmp_path):
    """The real control logger (``python -m control_logger``) against the live backend."""
    from kafkaml.workloads.credentials import control_logger_credential_ensure

    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "KAFKAML_BACKEND_URL": live_server.url,
        "KAFKAML_API_TOKEN": control_logger_credential_ensure(),
        "KAFKAML_CONTROL_TOPIC": control_topic,
    }
    log_path = tmp_path / "control_logger.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "control_logger"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    yield process
    process.terminate()
    process.wait(20)
    print(log_path.read_text())


@pytest.fixture
def digits():
    data = load_digits()
    return data.images[:SAMPLES].astype(np.uint8), data.target[:SAMPLES].astype(np.uint8)


def stream_digits(broker, topic, deployment_id, control_topic, digits) -> dict:
    """What an old user script does: send the digits with the original RawSink, close it."""
    images, labels = digits
    sink = RawSink(
        boostrap_servers=broker.bootstrap_servers,
        topic=topic,
        deployment_id=deployment_id,
        data_type="uint8",
        label_type="uint8",
        description="digits from an original Kafka-ML script",
        data_reshape="8 8",
        validation_rate=0.1,
        test_rate=0.1,
        control_topic=control_topic,
    )
    for image, label in zip(images, labels, strict=True):
        sink.send(data=image, label=label)
    return sink.close()


def read_records(broker, topic: str, count: int) -> tuple[list[bytes], list[bytes]]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap_servers, "group.id": f"read-{topic}"}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    values, keys = [], []
    deadline = time.monotonic() + 30
    try:
        while len(values) < count and time.monotonic() < deadline:
            for message in consumer.consume(count - len(values), timeout=1.0):
                if message.error() is None:
                    values.append(message.value())
                    keys.append(message.key())
    finally:
        consumer.close()
    return values, keys


def settled(control_topic: str):
    """Whatever the control logger made of the message: a datasource or a control error."""
    from kafkaml.training.models import ControlError, Datasource

    return (
        Datasource.objects.filter(control_topic=control_topic).first()
        or ControlError.objects.filter(control_topic=control_topic).first()
    )


def test_default_control_topic_is_the_platforms():
    from datasources.control import DEFAULT_CONTROL_TOPIC

    assert CONTROL_TOPIC == DEFAULT_CONTROL_TOPIC


def test_original_raw_sink_registers_a_datasource_on_the_users_topic(
    broker, control_topic, control_logger, make_deployment, unique_topic, digits
):
    from kafkaml.training.models import ControlError, Datasource

    from datasources.codecs import get_codec

    deployment = make_deployment()
    topic = f"alice.{unique_topic}"
    ensure_topics(broker.bootstrap_servers, [topic])

    sent = stream_digits(broker, topic, deployment["id"], control_topic, digits)

    assert sent["topic"] == f"{topic}:0:0:{SAMPLES}" and sent["total_msg"] == SAMPLES
    outcome = wait_for(lambda: settled(control_topic))
    assert isinstance(outcome, Datasource), f"refused: {getattr(outcome, 'error', outcome)}"
    assert not ControlError.objects.filter(control_topic=control_topic).exists()
    assert outcome.deployment_id == deployment["id"]
    assert outcome.owner.username == "alice"
    assert outcome.topic == f"{topic}:0:0:{SAMPLES}"
    assert outcome.total_msg == SAMPLES
    assert outcome.input_format == "RAW"
    assert outcome.input_config["data_type"] == "uint8"
    assert outcome.input_config["data_reshape"] == "8 8"
    assert (outcome.validation_rate, outcome.test_rate) == (0.1, 0.1)
    assert outcome.incremental is False  # old sinks send no such field: the default

    # The records decode, with the registered input_config, to the digits that were sent.
    values, keys = read_records(broker, topic, SAMPLES)
    codec = get_codec(outcome.input_format, outcome.input_config)
    images, labels = digits
    np.testing.assert_array_equal(codec.decode_batch(values), images)
    np.testing.assert_array_equal(codec.decode_labels(keys).reshape(-1), labels)


def test_original_raw_sink_on_another_users_topic_registers_nothing(
    broker, control_topic, control_logger, client, make_deployment, other_user, unique_topic, digits
):
    from kafkaml.training.models import ControlError, Datasource

    deployment = make_deployment()  # alice's
    topic = f"bob.{unique_topic}"  # bob's namespace
    ensure_topics(broker.bootstrap_servers, [topic])

    stream_digits(broker, topic, deployment["id"], control_topic, digits)

    outcome = wait_for(lambda: settled(control_topic))
    assert isinstance(outcome, ControlError), f"registered {outcome.topic}"
    assert topic in outcome.raw and topic in outcome.error
    assert outcome.deployment_id == deployment["id"]
    assert not Datasource.objects.filter(deployment_id=deployment["id"]).exists()
    # alice sees why her old script's data did not show up
    errors = client.get(f"/api/v1/deployments/{deployment['id']}/control-errors/").json()
    assert [e["control_topic"] for e in errors] == [control_topic]
