"""Federated training on the embedded broker with real TensorFlow and PyTorch.

Three sites hold non-IID shares of the digits (each mostly its own four classes); they train a
few rounds through the coordinator. The global model must beat each site's model trained alone
(as many epochs, on its own data) on the union test set. A site that disappears mid-round is
recorded as dropped and the run finishes with the others.
"""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pytest

from model_training.federated.coordinator import Coordinator
from model_training.federated.site import Site, SiteProcess
from model_training.job import ModelSpec, TrainingJob, TrainingSettings
from model_training.reporting import MemoryReporter
from model_training.tests.conftest import KERAS_CODE, KERAS_IMPORTS, TORCH_CODE, TORCH_IMPORTS

# Heavy training runs: the embedded broker only (make test-kafka does not rerun them).
pytestmark = pytest.mark.embedded_broker_only

# the digits model of the worker tests, at PyTorch's learning rate (0.01): a round is short
KERAS_FAST = KERAS_CODE.replace('optimizer="adam"', "optimizer=tf.keras.optimizers.Adam(0.01)")
assert KERAS_FAST != KERAS_CODE
CODE = {
    "tensorflow": (KERAS_IMPORTS, KERAS_FAST),
    "pytorch": (TORCH_IMPORTS, TORCH_CODE),
}
ROUNDS = 4
EPOCHS = 2
CLASSES = [(0, 1, 2, 3), (3, 4, 5, 6), (6, 7, 8, 9)]


def job(framework: str) -> TrainingJob:
    imports, code = CODE[framework]
    return TrainingJob(
        models=(ModelSpec(code=code, imports=imports, framework=framework),),
        settings=TrainingSettings(batch=32, kwargs_fit={"epochs": EPOCHS}, seed=1),
    )


def non_iid(digits):
    """Three site shares (mostly 4 classes each, 5 % of everything else) and a union test set."""
    x, y = digits
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    test, train = order[:400], order[400:]
    shares = []
    for classes in CLASSES:
        own = np.isin(y[train], classes)
        stray = ~own & (rng.random(len(train)) < 0.03)
        pick = train[own | stray]
        rng.shuffle(pick)
        shares.append((x[pick], y[pick]))
    return shares, (x[test], y[test])


def accuracy(framework, weights, test) -> float:
    """The model with ``weights`` on ``test``, evaluated in the sandboxed trainer."""
    with SiteProcess(job(framework), on_epoch=lambda *a: None, should_stop=lambda: False) as proc:
        proc.start()
        proc.put("test", *test)
        proc.set_weights(weights)
        metrics, _ = proc.evaluate("test", (0, len(test[0])), False)
    return float(metrics[0]["accuracy"])


def federate(broker, framework, shares, *, drop=None, rounds=ROUNDS, strategy="fedavg"):
    deployment = f"t{uuid.uuid4().hex[:8]}"
    stop = {f"s{i}": threading.Event() for i in range(len(shares))}
    coordinator = Coordinator(
        bootstrap=broker.bootstrap_servers,
        deployment=deployment,
        prefix="alice.",
        rounds=rounds,
        strategy=strategy,
        min_data=50,
        restrictions={"data_shape": [8, 8], "labels": list(range(10))},
        expected_sites=len(shares),
        join_timeout_s=90,
        round_timeout_s=60 if drop is None else 20,
        reporter=MemoryReporter(),
    )
    sites = []
    for i, (x, y) in enumerate(shares):
        name = f"s{i}"
        site = Site(
            bootstrap=broker.bootstrap_servers,
            deployment=deployment,
            name=name,
            job=job(framework),
            x=x,
            y=y,
            prefix="alice.",
            test_rate=0.1,
            epochs=EPOCHS,
            should_stop=stop[name].is_set,
        )
        if drop is not None and name == drop[0]:
            # the site vanishes while training round drop[1]: its trainer is killed mid-fit
            site.on_round = lambda k, name=name: k == drop[1] and stop[name].set()
        sites.append((site, site.start_thread()))
    weights = coordinator.run()
    for _, thread in sites:
        thread.join(60)
    return coordinator, weights, [s for s, _ in sites]


@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_three_non_iid_sites_beat_each_site_alone(broker, digits, framework):
    shares, test = non_iid(digits)
    coordinator, weights, _ = federate(broker, framework, shares)
    assert [r.round for r in coordinator.history] == list(range(1, ROUNDS + 1))
    assert all(
        sorted(r.answered) == ["s0", "s1", "s2"] and not r.dropped for r in coordinator.history
    )
    assert "loss" in coordinator.history[-1].metrics
    # each round reached the result like an epoch: the UI's "Round k / N"
    assert [(k, m["round"], m["rounds"]) for k, m in coordinator.reporter.epochs] == [
        (k, float(k), float(ROUNDS)) for k in range(1, ROUNDS + 1)
    ]
    federated = accuracy(framework, weights, test)
    # each site alone: as many epochs on its own share (a one-site federation)
    alone = []
    for share in shares:
        _solo, solo_weights, _ = federate(broker, framework, [share], rounds=ROUNDS)
        alone.append(accuracy(framework, solo_weights, test))
    print(framework, "federated", federated, "alone", alone)
    assert federated > max(alone) + 0.1, (federated, alone)


@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_a_site_vanishing_mid_round_does_not_stop_the_run(broker, digits, framework):
    shares, _ = non_iid(digits)
    coordinator, weights, sites = federate(
        broker, framework, shares, drop=("s1", 2), rounds=3, strategy="fedprox"
    )
    assert [r.round for r in coordinator.history] == [1, 2, 3]
    assert sorted(coordinator.history[0].answered) == ["s0", "s1", "s2"]
    assert coordinator.history[1].dropped == ["s1"]
    assert sorted(coordinator.history[1].answered) == ["s0", "s2"]
    assert sorted(coordinator.history[2].sites) == ["s0", "s2"]
    assert coordinator.dropped == {"s1": 2}
    assert weights is not None
