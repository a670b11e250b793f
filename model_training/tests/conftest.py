"""Helpers for the training worker tests: digits streamed into the real (embedded) broker."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

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
