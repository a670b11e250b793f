"""Attacks from model code at TRAINING time, against a real platform (``kafkaml up``).

Alice deploys a PyTorch model whose ``forward`` probes its surroundings, but only on real
training batches (the executor validates the same code at save time with a batch of 2, where
the probe stays quiet). During ``fit`` in the training workload it records what it can see and
do (its uid, its environment, a TCP connect to the web API and to the broker, a write into and
a read from the platform's data dir) and raises an exception carrying the findings as JSON. The
result then fails with that text as its error, which Alice reads at ``/api/v1/results/<id>/``.
One training run serves every test here; each test asserts one finding is harmless.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from urllib.parse import urlsplit

import pytest

from tests.e2e_platform.test_journey import digits, poll, send_training_data

pytestmark = pytest.mark.slow

IMPORTS = """
import json, os, socket
import torch
from torch import nn
from ignite.metrics import Accuracy, Loss
"""
PROBE = """
TARGETS = __TARGETS__


def attempt(action):
    try:
        return "done: " + repr(action())[:200]
    except Exception as exc:
        return "refused: " + type(exc).__name__


def write_data_dir():
    with open(os.path.join(TARGETS["data_dir"], "written-by-training-code"), "w") as f:
        return f.write("alice was here")


def read_database():
    with open(TARGETS["database"], "rb") as f:
        return len(f.read(4096))


def findings():
    connect = lambda port: socket.create_connection((TARGETS["host"], port), timeout=3).close()
    return {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "environ": dict(os.environ),
        "web": attempt(lambda: connect(TARGETS["web_port"])),
        "broker": attempt(lambda: connect(TARGETS["broker_port"])),
        "write_data_dir": attempt(write_data_dir),
        "read_database": attempt(read_database),
        "list_data_dir": attempt(lambda: os.listdir(TARGETS["data_dir"])),
    }


class Probe(nn.Module):
    input_shape = (8, 8)

    def __init__(self):
        super().__init__()
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        if self.training and x.shape[0] > 2:  # a training batch: not the validation probe
            raise RuntimeError("FINDINGS" + json.dumps(findings()) + "FINDINGS")
        return self.out(x.flatten(1))

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)

    def metrics(self):
        return {"loss": Loss(self.loss_fn()), "accuracy": Accuracy()}


model = Probe()
"""
FINAL = ("finished", "failed", "stopped")
WRITTEN = "written-by-training-code"


def database_path(platform) -> str:
    found = sorted(platform.data_dir.glob("*.sqlite3"))
    return str(found[0] if found else platform.data_dir / "kafkaml.sqlite3")


@pytest.fixture(scope="module")
def findings(platform, alice) -> dict:
    """Alice's probe model trained once on the platform; what it reported from inside."""
    web = urlsplit(platform.url)
    broker_host, _, broker_port = platform.bootstrap_servers.rpartition(":")
    targets = {
        "host": web.hostname,
        "web_port": web.port,
        "broker_host": broker_host,
        "broker_port": int(broker_port),
        "data_dir": str(platform.data_dir),
        "database": database_path(platform),
    }
    tag = uuid.uuid4().hex[:8]
    code = PROBE.replace("__TARGETS__", repr(targets))

    def api(method, path, **kwargs):
        response = alice.api(platform, method, path, **kwargs)
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        return response.json()

    model = api(
        "POST",
        "models/",
        json={"name": f"probe-{tag}", "framework": "pytorch", "imports": IMPORTS, "code": code},
    )
    configuration = api(
        "POST", "configurations/", json={"name": f"probe-{tag}", "models": [model["id"]]}
    )
    deployment = api(
        "POST",
        "deployments/",
        json={
            "configuration": configuration["id"],
            "batch_size": 32,
            "training_kwargs": "epochs=1",
        },
    )
    (result_id,) = [r["id"] for r in deployment["results"]]
    x, y = digits()
    send_training_data(
        platform.bootstrap_servers, f"alice.probe-{tag}", deployment["id"], x[:200], y[:200]
    )
    result = poll(
        lambda: api("GET", f"results/{result_id}/"),
        lambda r: r["status"] in FINAL,
        timeout=240,
    )
    assert result["status"] == "failed", result  # the probe always raises at fit time
    match = re.search(r"FINDINGS(\{.*?\})FINDINGS", result["error"], re.S)
    assert match, result["error"]
    return json.loads(match.group(1))


def test_training_code_runs_as_its_own_unprivileged_uid(findings):
    assert findings["uid"] != 0 and findings["euid"] != 0
    assert findings["uid"] != os.geteuid()  # not the platform's uid (it runs as this test)


def test_training_code_environment_holds_no_credential(findings, alice):
    environ = findings["environ"]
    assert not [name for name in environ if name.startswith("KAFKAML")], sorted(environ)
    assert not [n for n in environ if "SECRET" in n or "TOKEN" in n or "PASSWORD" in n]
    assert "DATABASE_URL" not in environ and "REDIS_URL" not in environ
    assert alice.token not in json.dumps(environ)
    # nothing that looks like a key: 32+ hex or base64url characters in one value
    assert not [v for v in environ.values() if re.search(r"[A-Za-z0-9]{32,}", v)], environ


def test_training_code_cannot_reach_the_web_api(findings):
    assert findings["web"].startswith("refused"), findings["web"]


def test_training_code_cannot_reach_the_broker(findings):
    assert findings["broker"].startswith("refused"), findings["broker"]


def test_training_code_cannot_write_the_data_dir(findings, platform):
    assert findings["write_data_dir"].startswith("refused"), findings["write_data_dir"]
    assert not (platform.data_dir / WRITTEN).exists()


def test_training_code_cannot_read_the_database(findings):
    assert findings["read_database"].startswith("refused"), findings["read_database"]


def test_training_code_cannot_list_the_data_dir(findings):
    listing = findings["list_data_dir"]
    assert listing.startswith("refused") or "sqlite3" not in listing, listing
