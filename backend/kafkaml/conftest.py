"""Fixtures for the backend's tests: users, API clients, a recording launcher, the executor."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time

import pytest
from rest_framework.test import APIClient

from kafkaml.workloads.launchers.base import (
    _REGISTRY,
    Launcher,
    WorkloadStatus,
    register_launcher,
)


class RecordingLauncher(Launcher):
    """Stands in for the launch mechanics in API tests (real processes are tested in
    workloads/tests and the end-to-end tests)."""

    def __init__(self):
        self.launched, self.stopped, self.scaled = [], [], []

    def launch(self, spec):
        self.launched.append(spec)

    def stop(self, name):
        self.stopped.append(name)

    def scale(self, name, replicas):
        self.scaled.append((name, replicas))

    def status(self, name):
        return WorkloadStatus("running")

    def logs(self, name, tail=200):
        return f"logs of {name}"


if "recording" not in _REGISTRY:
    register_launcher("recording")(RecordingLauncher)


@pytest.fixture
def launcher(settings):
    from kafkaml.workloads.launchers import get_launcher

    settings.KAFKAML_LAUNCHER = "recording"
    get_launcher.cache_clear()
    instance = get_launcher()
    yield instance
    get_launcher.cache_clear()


@pytest.fixture
def user(db):
    from kafkaml.accounts.services import user_create

    return user_create(username="alice", password="alice-password-1")


@pytest.fixture
def other_user(db):
    from kafkaml.accounts.services import user_create

    return user_create(username="bob", password="bob-password-1")


@pytest.fixture
def client(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def other_client(other_user):
    api = APIClient()
    api.force_authenticate(other_user)
    return api


@pytest.fixture
def control_logger_client(db):
    """The control logger's credential (registers datasources and control errors only)."""
    from kafkaml.workloads.credentials import control_logger_credential_ensure

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Workload {control_logger_credential_ensure()}")
    return api


@pytest.fixture
def workload_client(launcher):
    """``workload_client(name)``: an API client holding the credential the launcher was given
    for that workload, exactly as the worker finds it in its environment."""

    def make(name: str) -> APIClient:
        spec = next(s for s in reversed(launcher.launched) if s.name == name)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Workload {spec.secret_env['KAFKAML_API_TOKEN']}")
        return api

    return make


@pytest.fixture
def training_client(workload_client):
    """``training_client(result_id)``: the credential of the training workload led by it."""
    return lambda result_id: workload_client(f"training-result-{result_id}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


EXECUTOR_SECRET = secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def executor_url(tmp_path_factory):
    """The real model-code executor service, started once for the session."""
    port = _free_port()
    log = open(tmp_path_factory.mktemp("executor") / "executor.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlcode_executor", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MLCODE_EXECUTOR_SECRET": EXECUTOR_SECRET},
    )
    url = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"executor exited with {process.returncode}; see {log.name}")
        try:
            if requests.get(url + "/health", timeout=2).ok:
                break
        except requests.RequestException:
            time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError("executor did not start")
    yield url
    process.terminate()
    process.wait(20)


@pytest.fixture
def executor(settings, executor_url):
    settings.MLCODE_EXECUTOR_URL = executor_url
    settings.MLCODE_EXECUTOR_SECRET = EXECUTOR_SECRET
    return executor_url


KERAS_IMPORTS = "import tensorflow as tf"
KERAS_CODE = """model = tf.keras.Sequential([
    tf.keras.layers.Input(shape=(8, 8)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(16, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""


@pytest.fixture
def keras_model_body():
    def make(name="digits", **extra):
        return {
            "name": name,
            "imports": KERAS_IMPORTS,
            "code": KERAS_CODE,
            "framework": "tensorflow",
            **extra,
        }

    return make


@pytest.fixture
def make_model(user):
    """A stored model, made directly (executor validation is tested in catalog/tests)."""
    from kafkaml.catalog.models import MLModel

    counter = iter(range(1, 10_000))

    def make(name=None, owner=None, framework="tensorflow", **fields):
        return MLModel.objects.create(
            owner=owner or user,
            name=name or f"model-{next(counter)}",
            imports=KERAS_IMPORTS,
            code=KERAS_CODE,
            framework=framework,
            validation_status="valid",
            **fields,
        )

    return make


@pytest.fixture
def make_deployment(client, launcher, make_model):
    def make(models=None, **fields):
        models = models or [make_model()]
        configuration = client.post(
            "/api/v1/configurations/",
            {"name": f"c{models[0].pk}", "models": [m.pk for m in models]},
            format="json",
        ).json()
        body = {"configuration": configuration["id"], "batch_size": 16, **fields}
        response = client.post("/api/v1/deployments/", body, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return make
