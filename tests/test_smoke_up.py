"""`kafkaml up` with embedded defaults in a temp dir: healthy, a clean stop, and clear failures."""

import signal
import socket
import subprocess
import time

import pytest
import requests
from kafkaml.broker import free_port, port_is_open

from tests.e2e_platform.harness import Output, clean_env, up_command


@pytest.mark.slow
def test_up_serves_health_and_stops_cleanly(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        up_command(tmp_path / "data", port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=clean_env(),
        text=True,
    )
    output = Output(process)
    try:
        output.wait_for("Kafka-ML is up", process, timeout=120)
        response = requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
        assert response.status_code == 200, response.text
        assert {c["status"] for c in response.json()["components"].values()} == {"ok"}
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/models/", timeout=5).status_code in (
            401,
            403,
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
        output.thread.join(10)
    assert process.returncode == 0, output.text
    assert "password:" in output.text and "stopped." in output.text
    assert (tmp_path / "data" / "kafkaml.sqlite3").exists()


def test_up_refuses_a_taken_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            up_command(tmp_path, port),
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
    assert result.returncode != 0
    assert f"port {port}" in result.stdout and "already taken" in result.stdout


@pytest.mark.slow
def test_components_do_not_outlive_a_killed_up(tmp_path):
    port, broker_port = free_port(), free_port()
    process = subprocess.Popen(
        up_command(tmp_path / "data", port, broker_port=broker_port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=clean_env(),
        text=True,
    )
    output = Output(process)
    output.wait_for("Kafka-ML is up", process, timeout=120)
    process.kill()
    process.wait(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not port_is_open("127.0.0.1", port) and not port_is_open("127.0.0.1", broker_port):
            return
        time.sleep(0.5)
    raise AssertionError("the web server or the broker outlived `kafkaml up` killed with SIGKILL")
