"""Ready-to-use model templates, each ``{name, title, framework, imports, code}``.

TensorFlow code defines ``model``, a compiled Keras model. PyTorch code defines ``model``, an
``nn.Module`` instance whose class defines ``loss_fn()``, ``optimizer()``, ``metrics()`` (a dict of
pytorch-ignite metrics) and ``input_shape`` (one sample, without the batch dimension).
Distributed templates are chains, edge first: every sub-model but the last returns
``(to_upper, output)`` and its ``to_upper`` feeds the model above it.
"""

from __future__ import annotations

from typing import Any

KERAS_IMPORTS = "import tensorflow as tf\n"

KERAS_MNIST = """\
# MNIST-style classifier: 28x28 images -> 10 classes (integer labels).
model = tf.keras.Sequential([
    tf.keras.Input(shape=(28, 28)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(128, activation="relu"),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
"""

KERAS_REGRESSOR = """\
# Small regressor: 13 numeric features -> 1 value.
model = tf.keras.Sequential([
    tf.keras.Input(shape=(13,)),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dense(1),
])
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
"""

PYTORCH_IMPORTS = """\
import torch
import torch.nn as nn
from ignite.metrics import Accuracy, Loss, MeanAbsoluteError
"""

PYTORCH_MNIST = """\
# MNIST-style classifier: 28x28 images -> 10 classes (integer labels).
class MNISTClassifier(nn.Module):
    input_shape = (28, 28)  # one sample, without the batch dimension

    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.hidden = nn.Linear(28 * 28, 128)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(0.2)
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        x = self.flatten(x)
        x = self.dropout(self.relu(self.hidden(x)))
        return self.out(x)  # logits

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)

    def metrics(self):
        return {"accuracy": Accuracy(), "loss": Loss(self.loss_fn())}


model = MNISTClassifier()
"""

PYTORCH_REGRESSOR = """\
# Small regressor: 13 numeric features -> 1 value.
class Regressor(nn.Module):
    input_shape = (13,)

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(13, 64), nn.ReLU(),
            nn.Linear(64, 64), nn.ReLU(),
            nn.Linear(64, 1),
        )

    def forward(self, x):
        return self.net(x)

    def loss_fn(self):
        return nn.MSELoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)

    def metrics(self):
        return {"mae": MeanAbsoluteError(), "loss": Loss(self.loss_fn())}


model = Regressor()
"""

KERAS_EDGE = """\
# Edge sub-model: returns (to_upper, output). to_upper (64 features) goes to the cloud model;
# output is the edge's own early prediction.
inputs = tf.keras.Input(shape=(28, 28), name="image")
x = tf.keras.layers.Flatten()(inputs)
to_upper = tf.keras.layers.Dense(64, activation="relu", name="to_upper")(x)
output = tf.keras.layers.Dense(10, activation="softmax", name="edge_output")(to_upper)
model = tf.keras.Model(inputs=inputs, outputs=[to_upper, output])
model.compile(
    optimizer="adam",
    loss=[None, "sparse_categorical_crossentropy"],
    metrics=[None, ["accuracy"]],
)
"""

KERAS_CLOUD = """\
# Cloud sub-model: takes the edge's to_upper (64 features) and gives the final prediction.
inputs = tf.keras.Input(shape=(64,), name="from_edge")
x = tf.keras.layers.Dense(32, activation="relu")(inputs)
output = tf.keras.layers.Dense(10, activation="softmax", name="cloud_output")(x)
model = tf.keras.Model(inputs=inputs, outputs=output)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""

TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "keras-mnist",
        "title": "Keras MNIST classifier (28x28 -> 10)",
        "framework": "tensorflow",
        "imports": KERAS_IMPORTS,
        "code": KERAS_MNIST,
    },
    {
        "name": "keras-regressor",
        "title": "Keras regressor (13 -> 1)",
        "framework": "tensorflow",
        "imports": KERAS_IMPORTS,
        "code": KERAS_REGRESSOR,
    },
    {
        "name": "pytorch-mnist",
        "title": "PyTorch + Ignite MNIST classifier (28x28 -> 10)",
        "framework": "pytorch",
        "imports": PYTORCH_IMPORTS,
        "code": PYTORCH_MNIST,
    },
    {
        "name": "pytorch-regressor",
        "title": "PyTorch + Ignite regressor (13 -> 1)",
        "framework": "pytorch",
        "imports": PYTORCH_IMPORTS,
        "code": PYTORCH_REGRESSOR,
    },
]

DISTRIBUTED_TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "keras-edge-cloud",
        "title": "Keras distributed edge -> cloud MNIST classifier",
        "framework": "tensorflow",
        "models": [
            {"name": "edge", "imports": KERAS_IMPORTS, "code": KERAS_EDGE},
            {"name": "cloud", "imports": KERAS_IMPORTS, "code": KERAS_CLOUD},
        ],
    },
]


def get_template(name: str) -> dict[str, Any]:
    for t in TEMPLATES + DISTRIBUTED_TEMPLATES:
        if t["name"] == name:
            return t
    raise KeyError(name)
