"""Attack: a control message for the attacker's own deployment that announces another user's
topic, against the real pieces on a real broker (the ``broker`` fixture, so it also runs on
Apache Kafka): a live backend, the control logger process, and the training worker process in
backend mode, as the launcher runs it.

Alice deploys. Bob's topic ``bob.…`` holds Bob's records. Alice writes a control message keyed
with her deployment's id announcing Bob's topic (alone, and next to a topic of her own): the
backend refuses to register it (a control error of her deployment), so her worker, which only
trains on what the backend registered, keeps waiting and never reads Bob's records. Then
Alice's valid announcement of her own topic is registered and trains.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Producer
from kafkaml.conftest import (  # noqa: F401 - fixtures
    client,
    launcher,
    make_deployment,
    make_model,
    other_user,
    user,
)

from control_logger.tests.test_control_logger import (  # noqa: F401 - fixtures
    control_logger,
    control_topic,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
RAW_CONFIG = {"data_type": "uint8", "label_type": "uint8", "data_reshape": "8 8"}


def read(query):
    """An ORM read from the test thread; the test's in-memory SQLite is shared with the live
    server, whose writes lock a table for a moment."""
    from django.db import OperationalError

    for _ in range(50):
        try:
            return query()
        except OperationalError:
            time.sleep(0.1)
    return query()


def wait_for(predicate, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read(predicate)
        if value:
            return value
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"{what} not reached in {timeout:.0f}s\n{tail}")


def digits(n: int):
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images[:n].astype(np.uint8), data.target[:n].astype(np.uint8)


def stream(bootstrap: str, topic: str, deployment_id: int, control: str, n: int) -> dict:
    """``n`` digits into ``topic`` with the RawSink; its control message goes to ``control``."""
    from kafkaml.broker import ensure_topics

    from datasources.raw_sink import RawSink

    ensure_topics(bootstrap, [topic, control])
    sink = RawSink(
        bootstrap_servers=bootstrap,
        topic=topic,
        deployment_id=deployment_id,
        description="digits",
        validation_rate=0.1,
        test_rate=0.2,
        control_topic=control,
        **RAW_CONFIG,
    )
    images, labels = digits(n)
    sink.send_batch(images, labels)
    return sink.close()


def announce(bootstrap: str, control: str, deployment_id: int, ranges: str, total: int) -> int:
    """Alice's hand-written control message; returns its offset on the control topic."""
    value = {
        "topic": ranges,
        "input_format": "RAW",
        "input_config": RAW_CONFIG,
        "description": "not mine",
        "validation_rate": 0.1,
        "test_rate": 0.2,
        "total_msg": total,
    }
    offsets = []
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(
        control,
        json.dumps(value).encode(),
        deployment_id.to_bytes(8, "big"),
        on_delivery=lambda err, msg: offsets.append(msg.offset()),
    )
    assert producer.flush(10) == 0
    return offsets[0]


@pytest.fixture
def training_worker(broker, live_server, launcher, tmp_path):  # noqa: F811
    """``start(result_id)``: the training worker process of that result in backend mode,
    with its workload's credential, as the launcher starts it; its log file is returned."""
    started: list[subprocess.Popen] = []

    def start(result_id: int) -> Path:
        name = f"training-result-{result_id}"
        spec = next(s for s in reversed(launcher.launched) if s.name == name)
        log = tmp_path / f"{name}.log"
        env = {
            **os.environ,
            "KAFKAML_BACKEND_URL": live_server.url,
            "KAFKAML_API_TOKEN": spec.secret_env["KAFKAML_API_TOKEN"],
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "KAFKAML_TRAINING_THREADS": "1",
        }
        with open(log, "wb") as out:
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "model_training", "--result-id", str(result_id)],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        return log

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def test_announcing_another_users_topic_is_never_read_then_own_topic_trains(
    request,
    broker,
    control_topic,  # noqa: F811
    make_deployment,  # noqa: F811
    training_worker,
    user,  # noqa: F811 - alice, the attacker
    other_user,  # noqa: F811 - bob, the victim
):
    from kafkaml.training.models import ControlError, Datasource, TrainingResult

    bootstrap = broker.bootstrap_servers
    tag = uuid.uuid4().hex[:8]
    bob_topic, alice_topic = f"bob.digits-{tag}", f"alice.digits-{tag}"
    # Bob's records, announced to a control topic of his own (not the one watched here)
    bob_message = stream(bootstrap, bob_topic, 1, f"bob.control-{tag}", 300)
    bob_ranges = bob_message["topic"]
    assert bob_ranges.startswith(f"{bob_topic}:")

    deployment = make_deployment(training_kwargs="epochs=2")  # alice's
    (result_id,) = [r["id"] for r in deployment["results"]]
    # the real control logger process, after the deployment (see ``read``)
    request.getfixturevalue("control_logger")
    log = training_worker(result_id)
    wait_for(
        lambda: "waiting for the backend to register a datasource" in log.read_text(),
        120,
        "the worker waiting for its datasource",
        log,
    )

    # -- the attack: Alice's deployment, Bob's topic (alone, and behind one of her own) ------
    attacks = [
        announce(bootstrap, control_topic, deployment["id"], bob_ranges, 300),
        announce(
            bootstrap,
            control_topic,
            deployment["id"],
            f"{alice_topic}:0:0:1,{bob_ranges}",
            301,
        ),
    ]
    wait_for(
        lambda: ControlError.objects.filter(
            control_topic=control_topic, control_offset__in=attacks
        ).count()
        == len(attacks),
        60,
        "the control errors of the refused announcements",
        log,
    )
    errors = read(lambda: list(ControlError.objects.filter(control_topic=control_topic)))
    assert len(errors) == 2 and all(bob_topic in e.error for e in errors), [e.error for e in errors]
    time.sleep(5)  # several of the worker's polls: the old worker had read Bob's topic by now
    assert not read(Datasource.objects.filter(deployment_id=deployment["id"]).exists)
    text = log.read_text()
    assert "registered datasource" not in text and " records in " not in text, text
    assert bob_topic not in text, text
    result = read(lambda: TrainingResult.objects.get(pk=result_id))
    assert result.status == "deployed" and not result.epoch_metrics, result.status

    # -- Alice's own data, announced by her sink: registered, read, trained ---------------------
    stream(bootstrap, alice_topic, deployment["id"], control_topic, 300)
    wait_for(
        lambda: TrainingResult.objects.get(pk=result_id).status in ("finished", "failed"),
        240,
        "the result of Alice's own data",
        log,
    )
    result = read(lambda: TrainingResult.objects.get(pk=result_id))
    text = log.read_text()
    assert result.status == "finished", (result.error, text[-4000:])
    (source,) = read(lambda: list(Datasource.objects.filter(deployment_id=deployment["id"])))
    assert source.topic.startswith(f"{alice_topic}:")
    assert "read 300 records" in text and bob_topic not in text, text
