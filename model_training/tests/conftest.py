"""Helpers for the training worker tests: digits streamed into the real (embedded) broker, and
a live backend with the real control logger for the runs that wait for a registered datasource.
"""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass

import numpy as np
import pytest
from kafkaml.conftest import client, launcher, make_deployment, make_model, user  # noqa: F401

os.environ.setdefault("KAFKAML_TRAINING_THREADS", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_ids = itertools.count(int.from_bytes(os.urandom(3), "big") * 1000)

KERAS_IMPORTS = "import tensorflow as tf"
KERAS_CODE = """
model = tf.keras.Sequential([
    tf.keras.layers.Input((8, 8)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Rescaling(1 / 16),
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""

TORCH_IMPORTS = """
import torch
from torch import nn
from ignite.metrics import Accuracy, Loss
"""
TORCH_CODE = """
class DigitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 32)
        self.out = nn.Linear(32, 10)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x.flatten(1) / 16)))

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)

    def metrics(self):
        return {"loss": Loss(self.loss_fn()), "accuracy": Accuracy()}

model = DigitsNet()
"""


@pytest.fixture(scope="session")
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images.astype(np.uint8), data.target.astype(np.uint8)


@pytest.fixture
def deployment_id():
    return next(_ids)


@dataclass
class Deployed:
    """A deployment of ``alice`` in the live backend, as its training workload sees it."""

    id: int
    result_id: int
    backend_url: str
    token: str  # the training workload's credential

    def backend(self):
        """A client of its own (one per worker thread) holding the workload's credential."""
        from worker_common.backend import BackendClient

        return BackendClient(self.backend_url, self.token, max_retries=2)


@pytest.fixture
def deployed(live_server, launcher, make_deployment):  # noqa: F811
    """A deployment through the API (the recording launcher keeps the workload's credential)."""
    made = make_deployment()
    result_id = made["results"][0]["id"]
    spec = next(s for s in launcher.launched if s.name == f"training-result-{result_id}")
    return Deployed(made["id"], result_id, live_server.url, spec.secret_env["KAFKAML_API_TOKEN"])


@pytest.fixture
def user_topic(user, unique_topic):  # noqa: F811
    """A fresh topic in ``alice``'s namespace: the only kind the backend registers for her."""
    from kafkaml.topics.namespace import topic_prefix

    return topic_prefix(user) + unique_topic


@pytest.fixture
def control_logger(broker, live_server, control_topic, deployed, monkeypatch):
    """The real control logger (in a thread) between ``control_topic`` and the live backend:
    what the sinks announce there becomes a datasource only through it.

    Started after ``deployed``: the test's in-memory SQLite is shared with the live server,
    and the logger's first heartbeat must not race the deployment's creation."""
    from kafkaml.broker import ensure_topics
    from kafkaml.workloads.credentials import control_logger_credential_ensure

    from control_logger.service import ControlLogger
    from worker_common.backend import BackendClient

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    ensure_topics(broker.bootstrap_servers, [control_topic])
    service = ControlLogger(
        BackendClient(live_server.url, control_logger_credential_ensure(), max_retries=2),
        topic=control_topic,
        group_id=f"{control_topic}-logger",
    )
    thread = threading.Thread(target=service.run, name="control-logger", daemon=True)
    thread.start()
    yield service
    service.stop()
    thread.join(30)


@pytest.fixture
def control_topic(unique_topic):
    return f"{unique_topic}-control"


def stream_digits(
    bootstrap,
    topic,
    deployment_id,
    images,
    labels,
    *,
    control_topic,
    validation_rate=0.1,
    test_rate=0.2,
):
    """Send the digits with the RawSink, then its control message; returns the message."""
    from kafkaml.broker import ensure_topics

    from datasources.raw_sink import RawSink

    ensure_topics(bootstrap, [topic, control_topic])
    sink = RawSink(
        bootstrap_servers=bootstrap,
        topic=topic,
        deployment_id=deployment_id,
        data_type="uint8",
        label_type="uint8",
        data_reshape="8 8",
        description="digits",
        validation_rate=validation_rate,
        test_rate=test_rate,
        control_topic=control_topic,
    )
    sink.send_batch(images, labels)
    return sink.close()
