"""Train a PyTorch/Ignite classifier on scikit-learn's digits through the platform.

KAFKAML_PASSWORD=... python examples/digits_pytorch.py
"""

from _platform import create_model, deploy, send_digits, session, topic, wait_results

IMPORTS = """import torch
import torch.nn as nn
from ignite.metrics import Accuracy, Loss
"""

CODE = """class Digits(nn.Module):
    input_shape = (8, 8)

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)

    def metrics(self):
        return {"accuracy": Accuracy(), "loss": Loss(self.loss_fn())}


model = Digits()
"""

if __name__ == "__main__":
    http = session()
    model = create_model(http, "digits-pytorch", "pytorch", IMPORTS, CODE)
    deployment = deploy(
        http, "digits-pytorch", [model["id"]], batch_size=32, training_kwargs="epochs=10"
    )
    send_digits(deployment["id"], topic=topic(http, f"digits-{deployment['id']}"))
    wait_results(http, deployment)
