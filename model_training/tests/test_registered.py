"""Waiting for the datasource the backend registered for a deployment (a live backend)."""

from __future__ import annotations

import threading
import time

import pytest

from model_training.errors import TrainingError
from model_training.registered import wait_for_registered_datasource
from worker_common.backend import BackendClient

pytestmark = pytest.mark.django_db(transaction=True)


def register(backend_url: str, deployment_id: int, topic: str, offset: int, **extra) -> dict:
    """What the control logger posts for one control message."""
    from kafkaml.workloads.credentials import control_logger_credential_ensure

    logger = BackendClient(backend_url, control_logger_credential_ensure(), max_retries=0)
    return logger.register_datasource(
        {
            "deployment_id": deployment_id,
            "topic": topic,
            "input_format": "RAW",
            "input_config": {"data_type": "uint8", "label_type": "uint8"},
            "validation_rate": 0.1,
            "test_rate": 0.2,
            "total_msg": 10,
            "control_topic": "KAFKA_ML_CONTROL_TOPIC",
            "control_partition": 0,
            "control_offset": offset,
            **extra,
        }
    )


def test_waits_until_the_backend_registers_one_then_uses_the_first(deployed, user_topic):
    found = {}

    def wait():
        found["spec"] = wait_for_registered_datasource(deployed.backend(), deployed.id, timeout=60)

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(2.5)  # a few empty answers first
    assert thread.is_alive() and not found
    register(deployed.backend_url, deployed.id, f"{user_topic}:0:0:10", 1)
    register(deployed.backend_url, deployed.id, f"{user_topic}:0:10:20", 2)
    thread.join(30)
    spec = found["spec"]
    assert spec.topic == f"{user_topic}:0:0:10"
    assert spec.test_rate == 0.2 and spec.input_config["data_type"] == "uint8"
    assert spec.total_msg == 10 and spec.input_format == "RAW"


def test_times_out_with_a_clear_error(deployed):
    started = time.monotonic()
    with pytest.raises(
        TrainingError, match=f"no datasource registered for deployment {deployed.id}"
    ):
        wait_for_registered_datasource(deployed.backend(), deployed.id, timeout=2)
    assert time.monotonic() - started < 10


def test_a_stop_ends_the_wait_at_once(deployed):
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    with pytest.raises(TrainingError, match="stopped while waiting"):
        wait_for_registered_datasource(deployed.backend(), deployed.id, should_stop=stop.is_set)
    assert time.monotonic() - started < 5


def test_an_unreachable_backend_is_waited_for(deployed, caplog):
    down = BackendClient("http://127.0.0.1:1", deployed.token, max_retries=5)
    with pytest.raises(TrainingError, match="no datasource registered"):
        wait_for_registered_datasource(down, deployed.id, timeout=3, interval=0.2)
    assert "backend unavailable" in caplog.text


def test_another_deployment_is_refused_for_good(deployed, make_deployment):
    other = make_deployment()  # alice's too, but not this workload's
    with pytest.raises(TrainingError, match="404"):
        wait_for_registered_datasource(deployed.backend(), other["id"], timeout=30)
