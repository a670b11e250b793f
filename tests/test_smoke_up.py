"""`kafkaml up` with embedded defaults in a temp dir: healthy, a clean stop, and clear failures."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from kafkaml.broker import free_port

KAFKAML = str(Path(sys.executable).with_name("kafkaml"))


def up_command(data_dir, port, executor_port, broker_port):
    return [
        KAFKAML,
        "up",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--executor-port",
        str(executor_port),
        "--broker-port",
        str(broker_port),
    ]


def clean_env():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


@pytest.mark.slow
def test_up_serves_health_and_stops_cleanly(tmp_path):
    port, executor_port, broker_port = free_port(), free_port(), free_port()
    process = subprocess.Popen(
        up_command(tmp_path / "data", port, executor_port, broker_port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=clean_env(),
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("Kafka-ML is up" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            time.sleep(0.5)
        assert any("Kafka-ML is up" in line for line in lines), "".join(lines)
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
        reader.join(10)
    output = "".join(lines)
    assert process.returncode == 0, output
    assert "password:" in output and "Kafka-ML is up" in output and "stopped." in output
    assert (tmp_path / "data" / "kafkaml.sqlite3").exists()


def test_up_refuses_a_taken_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            up_command(tmp_path, port, free_port(), free_port()),
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
    assert result.returncode != 0
    assert f"port {port}" in result.stdout and "already taken" in result.stdout
