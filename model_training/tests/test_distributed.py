"""Distributed (edge → fog → cloud) chains train as one composed model, report per sub-model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_training.job import DatasourceSpec, ModelSpec, TrainingJob, TrainingSettings
from model_training.reporting import MemoryReporter
from model_training.tests.conftest import stream_digits
from model_training.worker import TrainingWorker

KERAS_IMPORTS = "import tensorflow as tf"
EDGE = """
inputs = tf.keras.Input((8, 8))
hidden = tf.keras.layers.Dense(32, activation="relu")(
    tf.keras.layers.Rescaling(1 / 16)(tf.keras.layers.Flatten()(inputs)))
model = tf.keras.Model(inputs, [hidden, tf.keras.layers.Dense(10, activation="softmax")(hidden)])
"""
FOG = """
inputs = tf.keras.Input((32,))
hidden = tf.keras.layers.Dense(24, activation="relu")(inputs)
model = tf.keras.Model(inputs, [hidden, tf.keras.layers.Dense(10, activation="softmax")(hidden)])
"""
CLOUD = """
inputs = tf.keras.Input((24,))
model = tf.keras.Model(inputs, tf.keras.layers.Dense(10, activation="softmax")(
    tf.keras.layers.Dense(16, activation="relu")(inputs)))
"""

TORCH_IMPORTS = """
import torch
from torch import nn
from ignite.metrics import Accuracy, Loss
"""
TORCH_EDGE = """
class Edge(nn.Module):
    input_shape = (8, 8)

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 32)
        self.out = nn.Linear(32, 10)

    def forward(self, x):
        h = torch.relu(self.hidden(x.flatten(1) / 16))
        return h, self.out(h)

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)

    def metrics(self):
        return {"loss": Loss(self.loss_fn()), "accuracy": Accuracy()}

model = Edge()
"""
TORCH_CLOUD = """
class Cloud(nn.Module):
    input_shape = (32,)

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))

    def forward(self, x):
        return self.net(x)

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)

    def metrics(self):
        return {"accuracy": Accuracy()}

model = Cloud()
"""


@pytest.fixture(scope="module")
def digits_source(broker, digits):
    import uuid

    topic = f"t-chain-{uuid.uuid4().hex[:8]}"
    images, labels = digits
    message = stream_digits(
        broker.bootstrap_servers, topic, 1, images, labels, control_topic=f"{topic}-control"
    )
    return DatasourceSpec.from_message(message)


@pytest.mark.parametrize(
    "framework,imports,codes",
    [
        ("tensorflow", KERAS_IMPORTS, [EDGE, FOG, CLOUD]),
        ("pytorch", TORCH_IMPORTS, [TORCH_EDGE, TORCH_CLOUD]),
    ],
)
def test_chain_trains_with_per_submodel_results(
    broker, digits_source, tmp_path, framework, imports, codes
):
    import onnxruntime as ort

    models = tuple(
        ModelSpec(code, framework, imports, name=f"sub{i}", result_id=100 + i)
        for i, code in enumerate(codes)
    )
    job = TrainingJob(
        models=models,
        settings=TrainingSettings(kwargs_fit={"epochs": 3}, seed=3, confusion_matrix=True),
        datasource=digits_source,
    )
    reporters = [MemoryReporter(keep_dir=tmp_path / f"r{i}") for i in range(len(codes))]
    worker = TrainingWorker(job, reporters, bootstrap=broker.bootstrap_servers)
    assert worker.run() == "finished", reporters[0].statuses

    sample = None
    for i, reporter in enumerate(reporters):
        assert [s for s, _ in reporter.statuses] == ["deployed", "finished"]
        assert len(reporter.epochs) == 3
        assert {"accuracy", "val_accuracy"} <= set(reporter.epochs[-1][1])
        ((directory, summary),) = reporter.artifacts
        assert summary["test_metrics"]["accuracy"] > 0.3, (i, summary)
        assert np.array(summary["confusion_matrix"]).shape == (10, 10)
        meta = json.loads((directory / "metadata.json").read_text())
        last = i == len(codes) - 1
        assert meta["distributed"] is (not last)
        assert meta["chain_index"] == i and meta["chain_length"] == len(codes)
        assert len(meta["outputs"]) == (1 if last else 2)
        assert meta["outputs"][-1]["shape"] == [None, 10]
        # the sub-models run one after another on ONNX Runtime: to_upper feeds the next one
        session = ort.InferenceSession(str(directory / "model.onnx"))
        if sample is None:
            sample = np.zeros((4, 8, 8), dtype=np.float32)
        outputs = session.run(None, {session.get_inputs()[0].name: sample})
        if not last:
            sample = outputs[0].astype(np.float32)
