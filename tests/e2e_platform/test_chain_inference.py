"""A PyTorch edge → cloud chain on a real platform, deployed for inference as one action
(``POST /inferences/chain/``): the records the edge is sure about (softmax of its logits above
the limit) are answered by the edge, the others go up the generated topic and are answered by
the cloud, which reads the edge's output vector. Issue 13, items 4 and 5."""

from __future__ import annotations

import time
import uuid

import pytest

from .test_journey import FINAL, consume_predictions, digits, poll, produce, send_training_data

pytestmark = pytest.mark.slow

IMPORTS = """import torch
from torch import nn
from ignite.metrics import Accuracy, Loss
"""
EDGE = """
class Edge(nn.Module):
    input_shape = (8, 8)

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 32)
        self.out = nn.Linear(32, 10)

    def forward(self, x):
        h = torch.relu(self.hidden(x.flatten(1)))
        return h, self.out(h)

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)

    def metrics(self):
        return {"loss": Loss(self.loss_fn()), "accuracy": Accuracy()}

model = Edge()
"""
CLOUD = """
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
N_INFER = 200


def count_records(bootstrap: str, topic: str, timeout: float) -> int:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"e2e-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([topic])
    seen, idle_since = 0, None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                if seen and idle_since and time.monotonic() - idle_since > 5:
                    break
                idle_since = idle_since or time.monotonic()
                continue
            seen, idle_since = seen + 1, None
    finally:
        consumer.close()
    return seen


def test_a_chain_deployed_as_one_action_answers_at_the_edge_and_in_the_cloud(platform):
    tag = uuid.uuid4().hex[:8]
    prefix = platform.api("GET", "auth/me/")["kafka"]["topic_prefix"]
    x, y = digits()

    def model(name, code, **extra):
        body = {"name": f"{name}-{tag}", "framework": "pytorch", "imports": IMPORTS, "code": code}
        return platform.api("POST", "models/", json={**body, "distributed": True, **extra})

    cloud = model("cloud", CLOUD)
    edge = model("edge", EDGE, upper_model=cloud["id"])
    configuration = platform.api(
        "POST", "configurations/", json={"name": f"chain-{tag}", "models": [edge["id"]]}
    )
    deployment = platform.api(
        "POST",
        "deployments/",
        json={
            "configuration": configuration["id"],
            "batch_size": 32,
            "training_kwargs": "epochs=6",
            "stream_timeout": 120,
        },
    )
    results = deployment["results"]
    leader = next(r["id"] for r in results if r["chain_leader"] is None)
    send_training_data(
        platform.bootstrap_servers, f"{prefix}chain-{tag}", deployment["id"], x[:1200], y[:1200]
    )
    for result in results:
        done = poll(
            lambda r=result: platform.api("GET", f"results/{r['id']}/"),
            lambda r: r["status"] in FINAL,
            timeout=180,
        )
        assert done["status"] == "finished", done
        # the PyTorch sub-models end in nn.Linear: their artifacts say logits
        assert done["artifacts"][-1]["metadata"]["output_kind"] == "logits"

    plan = platform.api("GET", f"inferences/chain/?result={leader}")
    assert plan["members"][1]["input_config"] == {"data_type": "float32", "data_reshape": "32"}
    chain = platform.api(
        "POST",
        "inferences/chain/",
        json={
            "result": leader,
            "input_format": "RAW",
            "input_config": {"data_type": "float32", "data_reshape": "8 8"},
            "input_topic": f"{prefix}chain-in-{tag}",
            "output_topic": f"{prefix}chain-out-{tag}",
            "limit": 0.95,
        },
    )["inferences"]
    edge_inf, cloud_inf = chain
    assert cloud_inf["input_topic"] == edge_inf["upper_topic"]
    for inference in chain:
        running = poll(
            lambda i=inference: platform.api("GET", f"inferences/{i['id']}/"),
            lambda i: i["status"] != "created",
            timeout=30,
        )
        assert running["status"] == "running", running
        platform.wait_workload(
            f"inference-{inference['id']}", lambda s: s.state == "running" and s.replicas_ready
        )

    images = x[-N_INFER:]
    produce(platform.bootstrap_servers, edge_inf["input_topic"], images)
    outputs = consume_predictions(
        platform.bootstrap_servers, edge_inf["output_topic"], N_INFER, timeout=120
    )
    # every record answered once: by the edge when sure, else by the cloud
    assert sorted(outputs) == list(range(N_INFER)), f"{len(outputs)} of {N_INFER} answered"
    sent_up = count_records(platform.bootstrap_servers, edge_inf["upper_topic"], timeout=60)
    assert 0 < sent_up < N_INFER, f"{sent_up} of {N_INFER} went up to the cloud"

    for inference in chain:
        stopped = platform.api("POST", f"inferences/{inference['id']}/stop/")
        assert stopped["status"] == "stopped" and stopped["live"]["replicas_reporting"] == 0

    # an inference that exits on every start (a Keras runtime for a PyTorch model: no
    # model.keras) is not "running": the reconciler fails it as crashing, with its last error
    crashing = platform.api(
        "POST",
        "inferences/",
        json={
            "result": leader,
            "input_format": "RAW",
            "input_config": {"data_type": "float32", "data_reshape": "8 8"},
            "input_topic": f"{prefix}crash-in-{tag}",
            "output_topic": f"{prefix}crash-out-{tag}",
            "upper_topic": f"{prefix}crash-up-{tag}",
            "limit": 0.5,
            "runtime": "keras",
        },
    )
    failed = poll(
        lambda: platform.api("GET", f"inferences/{crashing['id']}/"),
        lambda i: i["status"] == "failed",
        timeout=120,
        interval=2,
    )
    assert failed["error"].startswith("crashing: "), failed["error"]
    assert "last error: " in failed["error"], failed["error"]
    platform.wait_workload(
        f"inference-{crashing['id']}", lambda s: s.state in ("stopped", "unknown"), timeout=30
    )
