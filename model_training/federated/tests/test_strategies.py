"""The aggregation strategies against hand-computed values and NumPy references."""

from __future__ import annotations

import numpy as np
import pytest

from model_training.federated import messages
from model_training.federated.coordinator import (
    RoundReport,
    _weighted_metrics,
    qualifies,
    round_metrics,
)
from model_training.federated.strategies import STRATEGY_NAMES, get_strategy, weighted_average

CURRENT = [np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), np.array([0.5, -0.5], np.float32)]
SITE_A = [np.array([[2.0, 2.0], [2.0, 2.0]], np.float32), np.array([1.0, 1.0], np.float32)]
SITE_B = [np.array([[0.0, 4.0], [8.0, 0.0]], np.float32), np.array([-1.0, 0.0], np.float32)]
UPDATES = [(SITE_A, 30), (SITE_B, 10)]


def test_fedavg_equals_the_numpy_reference_on_fixed_weights():
    out = get_strategy("fedavg").aggregate(CURRENT, UPDATES)
    # by hand: (30 * A + 10 * B) / 40
    assert np.allclose(out[0], [[1.5, 2.5], [3.5, 1.5]])
    assert np.allclose(out[1], [0.5, 0.75])
    for i in range(2):
        reference = np.average(np.stack([SITE_A[i], SITE_B[i]]), axis=0, weights=[30, 10])
        assert np.allclose(out[i], reference)
        assert out[i].dtype == np.float32


def test_fedprox_aggregates_like_fedavg_and_sends_mu_to_the_sites():
    prox = get_strategy("fedprox", proximal_mu=0.1)
    assert prox.proximal_mu == 0.1
    for a, b in zip(prox.aggregate(CURRENT, UPDATES), weighted_average(UPDATES), strict=True):
        assert np.array_equal(a, b)
    assert get_strategy("fedavg").proximal_mu == 0


def _reference_fedopt(kind, rounds, eta=0.1, b1=0.9, b2=0.99, tau=1e-9):
    """Reddi et al. 2021, Algorithm 2, written out for plain arrays."""
    w = [c.astype(np.float64) for c in CURRENT]
    m = [np.zeros_like(x) for x in w]
    v = [np.full_like(x, tau**2) for x in w]
    for updates in rounds:
        avg = [
            np.average(
                np.stack([u[0][i] for u in updates]), axis=0, weights=[u[1] for u in updates]
            )
            for i in range(len(w))
        ]
        for i in range(len(w)):
            d = avg[i] - w[i]
            m[i] = b1 * m[i] + (1 - b1) * d
            if kind == "fedadagrad":
                v[i] = v[i] + d**2
            elif kind == "fedadam":
                v[i] = b2 * v[i] + (1 - b2) * d**2
            else:
                v[i] = v[i] - (1 - b2) * d**2 * np.sign(v[i] - d**2)
            w[i] = w[i] + eta * m[i] / (np.sqrt(v[i]) + tau)
    return w


@pytest.mark.parametrize("kind", ["fedadagrad", "fedadam", "fedyogi"])
def test_fedopt_family_matches_the_reference_formulas_over_two_rounds(kind):
    strategy = get_strategy(kind, eta=0.1)
    first = strategy.aggregate(CURRENT, UPDATES)
    second_round = [(SITE_B, 5), (SITE_A, 15)]
    second = strategy.aggregate(first, second_round)
    # round 1 by hand for FedAdam: Δ = avg - w; m = 0.1 Δ; v = τ² ·0.99 + 0.01 Δ²
    # so m / sqrt(v) = 0.1 Δ / (0.1 |Δ|) = sign(Δ): w moves by η sign(Δ)
    if kind == "fedadam":
        delta = np.array([[0.5, 0.5], [0.5, -2.5]])
        assert np.allclose(first[0], CURRENT[0] + 0.1 * np.sign(delta), atol=1e-5)
    reference = _reference_fedopt(kind, [UPDATES, second_round])
    ref_first = _reference_fedopt(kind, [UPDATES])
    for a, b in zip(first, ref_first, strict=True):
        assert np.allclose(a, b, atol=1e-5)
    for a, b in zip(second, reference, strict=True):
        assert np.allclose(a, b, atol=1e-5)


def test_unknown_strategy_or_parameter_is_refused():
    with pytest.raises(ValueError, match="unknown aggregation strategy"):
        get_strategy("fedmedian")
    with pytest.raises(ValueError, match="unknown parameters"):
        get_strategy("fedavg", eta=1)
    assert set(STRATEGY_NAMES) == {"fedavg", "fedprox", "fedadagrad", "fedadam", "fedyogi"}


def test_integer_arrays_stay_integers_and_shape_mismatch_is_refused():
    out = weighted_average([([np.array([1, 3])], 1), ([np.array([2, 4])], 1)])
    assert out[0].dtype == np.array([1]).dtype and out[0].tolist() == [2, 4]
    with pytest.raises(ValueError, match="same shapes"):
        weighted_average([([np.zeros(2)], 1), ([np.zeros(3)], 1)])


def test_messages_round_trip_without_pickle():
    meta, weights = messages.decode(messages.encode({"kind": "round", "round": 2}, SITE_A))
    assert meta == {"kind": "round", "round": 2}
    assert all(np.array_equal(a, b) for a, b in zip(weights, SITE_A, strict=True))
    assert messages.topics(7, "alice.") == ("alice.fed-7-global", "alice.fed-7-updates")


def test_restrictions_pick_the_sites():
    site = {"samples": 100, "data_shape": [8, 8], "labels": [0, 1, 2], "framework": "pytorch"}
    assert qualifies(site, 50, {"data_shape": [8, 8], "labels": list(range(10))}) is None
    assert "min_data" in qualifies(site, 200, {})
    assert "shape" in qualifies(site, 0, {"data_shape": [64]})
    assert "labels" in qualifies(site, 0, {"labels": [0, 1]})
    assert "min_labels" in qualifies(site, 0, {"min_labels": 4})
    assert "framework" in qualifies(site, 0, {"framework": "tensorflow"})


def test_round_metrics_are_weighted_by_samples():
    metas = [{"samples": 30, "metrics": {"loss": 1.0}}, {"samples": 10, "metrics": {"loss": 3.0}}]
    assert _weighted_metrics(metas) == {"loss": 1.5}


def test_a_round_is_reported_like_an_epoch():
    report = RoundReport(2, 5, ["a", "b"], ["a"], ["b"], 120, {"loss": 0.5}, 1.0)
    assert round_metrics(report) == {
        "loss": 0.5,
        "round": 2.0,
        "rounds": 5.0,
        "sites": 1.0,
        "dropped": 1.0,
        "samples": 120.0,
    }
