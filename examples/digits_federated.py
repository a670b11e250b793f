"""Federated training of a digits classifier over three sites on one Kafka cluster.

KAFKA_BOOTSTRAP_SERVERS=localhost:9092 python examples/digits_federated.py [pytorch|tensorflow]

Each site's share of scikit-learn's digits (mostly four classes each: non-IID) is streamed into
the site's own topic with ``FederatedRawSink``; then a coordinator and three site processes run
(``python -m model_training.federated.coordinator`` / ``...site``): the sites read only their
own topic and send only weights; the coordinator aggregates with FedAvg (or the strategy given
as the second argument: fedprox, fedadagrad, fedadam, fedyogi) and prints each round's report.

This is the standalone demo of the building blocks (no backend, no result). Through the platform
the same run is: ``POST /api/v1/deployments/`` with a ``federated`` object (the platform launches
the coordinator), then each site's ``FederatedRawSink`` as below with the deployment's id (the
platform launches a site worker per registered stream); the rounds become the result's epochs
and the global model its artifacts. See docs/training.md ("Through the platform") and
tests/e2e_platform/test_federated.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from datasources.federated_raw_sink import FederatedRawSink

TORCH_IMPORTS = """import torch
from torch import nn
from ignite.metrics import Accuracy, Loss
"""
TORCH_CODE = """class Digits(nn.Module):
    input_shape = (8, 8)  # the platform's model check wants it (tests/e2e_platform/test_federated.py)

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x / 16)

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)

    def metrics(self):
        return {"accuracy": Accuracy(), "loss": Loss(self.loss_fn())}


model = Digits()
"""
KERAS_IMPORTS = "import tensorflow as tf"
KERAS_CODE = """model = tf.keras.Sequential([
    tf.keras.layers.Input((8, 8)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Rescaling(1 / 16),
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=tf.keras.optimizers.Adam(0.01),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""
SITES = {"site-a": (0, 1, 2, 3), "site-b": (3, 4, 5, 6), "site-c": (6, 7, 8, 9)}


def main() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
    framework = sys.argv[1] if len(sys.argv) > 1 else "pytorch"
    strategy = sys.argv[2] if len(sys.argv) > 2 else "fedavg"
    run = str(uuid.uuid4().int % 10**6)  # the control message wants a whole number
    digits = load_digits()
    x, y = digits.images.astype(np.uint8), digits.target.astype(np.uint8)
    work = Path(tempfile.mkdtemp(prefix="kafkaml-federated-"))
    imports, code = (
        (TORCH_IMPORTS, TORCH_CODE) if framework == "pytorch" else (KERAS_IMPORTS, KERAS_CODE)
    )
    (work / "imports.py").write_text(imports)
    (work / "model.py").write_text(code)

    procs = []
    for name, classes in SITES.items():
        topic = f"fed-example-{run}-{name}"
        keep = np.isin(y, classes)
        sink = FederatedRawSink(
            bootstrap,
            topic,
            run,
            "uint8",
            "uint8",
            f"{name} digits",
            json.dumps({"labels": list(classes)}),
            "8 8",
            "",
            control_topic=f"fed-example-{run}-control",
        )
        sink.send_batch(x[keep], y[keep])
        sink.close()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "model_training.federated.site",
                    "--bootstrap", bootstrap,
                    "--deployment", run,
                    "--site", name,
                    "--topic", topic,
                    "--input-config", json.dumps(sink.input_config),
                    "--framework", framework,
                    "--model-imports", str(work / "imports.py"),
                    "--model-code", str(work / "model.py"),
                    "--epochs", "2",
                ]
            )
        )  # fmt: skip
    coordinator = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_training.federated.coordinator",
            "--bootstrap", bootstrap,
            "--deployment", run,
            "--rounds", "5",
            "--strategy", strategy,
            "--min-data", "100",
            "--restrictions", json.dumps({"data_shape": [8, 8], "labels": list(range(10))}),
            "--expected-sites", str(len(SITES)),
            "--out", str(work / "global.npz"),
        ]
    )  # fmt: skip
    for proc in procs:
        proc.wait(timeout=120)
    print(f"final global weights: {work / 'global.npz'}")
    return coordinator.returncode


if __name__ == "__main__":
    sys.exit(main())
