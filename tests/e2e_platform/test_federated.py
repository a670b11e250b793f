"""A federated deployment through the real platform (``kafkaml up``, embedded broker, local
launcher): the deployment's coordinator is launched by the platform, each site's data sent with
``FederatedRawSink`` starts a site worker, every round is an epoch of the result, and the
global model is a downloadable result like any other (ONNX included). A site whose data does
not meet the restrictions is not used, and the result records why."""

from __future__ import annotations

import os
import time
import uuid

import numpy as np
import pytest

from examples.digits_federated import TORCH_CODE as CODE  # the example's model, here through
from examples.digits_federated import TORCH_IMPORTS as IMPORTS  # the platform

from .test_journey import FINAL, onnx_predict, poll

pytestmark = pytest.mark.slow
ROUNDS = 3
# the local launcher by default (about 70 s); KAFKAML_E2E_FEDERATED_PLATFORMS=local,kubernetes
# runs it against the fake Kubernetes API server's Jobs too
PLATFORMS = os.environ.get("KAFKAML_E2E_FEDERATED_PLATFORMS", "local").split(",")


def send_site(bootstrap, topic, deployment_id, x, y, labels) -> None:
    """As a site's user does: the original Kafka-ML's FederatedRawSink call."""
    from datasources.federated_raw_sink import FederatedRawSink

    sink = FederatedRawSink(
        bootstrap,
        topic,
        deployment_id,
        "uint8",
        "uint8",
        f"digits {labels}",
        {"labels": labels},
        "8 8",
        "",
        0,
        0.1,
    )
    sink.send_batch(x, y)
    sink.close()


def wait_announced(bootstrap: str, topic: str, count: int, timeout: float) -> set[str]:
    """The sites that announced themselves on the deployment's updates topic."""
    from confluent_kafka import Consumer

    from model_training.federated import messages

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"e2e-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "topic.metadata.refresh.interval.ms": 1000,
            "fetch.message.max.bytes": messages.MAX_MESSAGE_BYTES,
        }
    )
    consumer.subscribe([topic])
    sites: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while len(sites) < count:
            assert time.monotonic() < deadline, f"only {sites} announced on {topic}"
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            meta, _ = messages.decode(message.value())
            if meta.get("kind") == "announce":
                sites.add(str(meta["site"]))
    finally:
        consumer.close()
    return sites


@pytest.mark.parametrize("platform", PLATFORMS, indirect=True)
def test_federated_deployment_runs_through_the_platform(platform):
    from sklearn.datasets import load_digits

    started = time.monotonic()
    tag = uuid.uuid4().hex[:6]
    prefix = platform.api("GET", "auth/me/")["kafka"]["topic_prefix"]
    digits = load_digits()
    x, y = digits.images.astype(np.uint8), digits.target.astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    held_out_x, held_out_y = x[-300:], y[-300:]
    x, y = x[:-300], y[:-300]

    deployment = platform.deploy(
        f"fed-{tag}",
        "pytorch",
        IMPORTS,
        CODE,
        batch_size=32,
        training_kwargs="epochs=3",  # local epochs per round
        federated={
            "rounds": ROUNDS,
            "strategy": "fedavg",
            "expected_sites": 2,
            "min_data": 100,
            "restrictions": {"data_shape": [8, 8], "min_labels": 5},
            "round_timeout_s": 60,
            "join_timeout_s": 120,
        },
    )
    (result_id,) = [r["id"] for r in deployment["results"]]
    # a second federated deployment no site ever sends data to: it fails after its join timeout
    lonely = platform.api(
        "POST",
        "deployments/",
        json={
            "configuration": deployment["configuration"],
            "federated": {"rounds": 1, "expected_sites": 1, "join_timeout_s": 5},
        },
    )
    (lonely_id,) = [r["id"] for r in lonely["results"]]
    settings = platform.api("GET", f"deployments/{deployment['id']}/federated/")
    updates = settings["topics"]["updates"]

    # a site holding two labels only: announced, refused (min_labels 5)
    few = np.isin(y, (0, 1))
    send_site(
        platform.bootstrap_servers, f"{prefix}fed-{tag}-x", deployment["id"], x[few], y[few], [0, 1]
    )
    (refused,) = wait_announced(platform.bootstrap_servers, updates, 1, timeout=60)
    # two sites with non-IID halves of the digits
    for name, labels in (("a", list(range(0, 8))), ("b", list(range(2, 10)))):
        keep = np.isin(y, labels)
        send_site(
            platform.bootstrap_servers,
            f"{prefix}fed-{tag}-{name}",
            deployment["id"],
            x[keep],
            y[keep],
            labels,
        )

    result = poll(
        lambda: platform.api("GET", f"results/{result_id}/"),
        lambda r: r["status"] in FINAL,
        timeout=150,
    )
    assert result["status"] == "finished", (result["error"], result["log_tail"][-3000:])
    epochs = result["epoch_metrics"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert [(e["round"], e["rounds"], e["sites"]) for e in epochs] == [
        (k, ROUNDS, 2) for k in (1, 2, 3)
    ]
    assert all(e["samples"] > 0 and "accuracy" in e for e in epochs)

    (artifact,) = result["artifacts"]
    federation = artifact["metrics"]["federated"]
    datasources = platform.api("GET", f"datasources/?deployment={deployment['id']}")
    rows = datasources["results"] if isinstance(datasources, dict) else datasources
    names = {f"datasource-{d['id']}" for d in rows}
    assert len(names) == 3 and refused in names
    assert sorted(federation["sites"]) == sorted(names - {refused})
    assert "labels < min_labels 5" in federation["refused"][refused]
    assert federation["rounds"] == ROUNDS

    failed = poll(
        lambda: platform.api("GET", f"results/{lonely_id}/"),
        lambda r: r["status"] in FINAL,
        timeout=30,
    )
    assert failed["status"] == "failed", failed
    assert "no site qualified within the join timeout of 5s" in failed["error"], failed["error"]

    onnx = platform.api("GET", f"results/{result_id}/download/?kind=onnx")
    scores = onnx_predict(onnx, held_out_x.astype(np.float32))  # as for any PyTorch result
    assert scores.shape == (len(held_out_y), 10)
    accuracy = float((scores.argmax(axis=1) == held_out_y).mean())
    assert accuracy > 0.5, accuracy  # chance: 0.1
    print(f"federated run through the platform: {time.monotonic() - started:.1f}s, {accuracy=}")
