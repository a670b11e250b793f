"""Aggregation strategies of federated training: NumPy on weight arrays, no user code.

Flower (``flwr``) would be the well-kept implementation to reuse, but ``flwr`` 1.42.0 cannot be
installed with our pins (it needs ``certifi>=2026.10.19``; we pin 2026.10.18), so the server-side
update rules are written here, each after its paper and checked against hand-computed values
(``model_training/federated/tests/test_strategies.py``):

- **FedAvg** — McMahan et al., "Communication-Efficient Learning of Deep Networks from
  Decentralized Data", AISTATS 2017: the new global model is the average of the sites' models
  weighted by their sample counts, ``w = Σ n_k w_k / Σ n_k``.
- **FedProx** — Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020: the
  server aggregates like FedAvg; the sites minimise ``F_k(w) + μ/2 ‖w − w_global‖²`` (the
  proximal term, applied by the site's trainer: ``proximal_mu`` goes out with the global model).
- **FedOpt** (FedAdagrad, FedAdam, FedYogi) — Reddi et al., "Adaptive Federated Optimization",
  ICLR 2021, Algorithm 2: the weighted average of the sites' updates is a pseudo-gradient
  ``Δ = avg(w_k) − w``, then ``m = β1 m + (1 − β1) Δ`` and

  - FedAdagrad: ``v = v + Δ²``
  - FedAdam:    ``v = β2 v + (1 − β2) Δ²``
  - FedYogi:    ``v = v − (1 − β2) Δ² sign(v − Δ²)``

  and ``w = w + η m / (√v + τ)``. Like Flower's strategies, ``v`` starts at ``τ²`` and no bias
  correction is applied (the paper's Algorithm 2 has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

Weights = list[np.ndarray]


def weighted_average(updates: Sequence[tuple[Weights, int]]) -> Weights:
    """``Σ n_k w_k / Σ n_k`` per array (in float64; cast back to each array's dtype)."""
    if not updates:
        raise ValueError("no updates to aggregate")
    total = sum(int(n) for _, n in updates)
    if total <= 0:
        raise ValueError("the updates carry no samples")
    first = updates[0][0]
    for weights, _ in updates:
        if len(weights) != len(first) or any(
            a.shape != b.shape for a, b in zip(weights, first, strict=True)
        ):
            raise ValueError("the sites' weights do not have the same shapes")
    out = []
    for i, ref in enumerate(first):
        acc = np.zeros(ref.shape, dtype=np.float64)
        for weights, n in updates:
            acc += np.asarray(weights[i], dtype=np.float64) * int(n)
        avg = acc / total
        if np.issubdtype(ref.dtype, np.integer):  # counters (num_batches_tracked)
            avg = np.rint(avg)
        out.append(avg.astype(ref.dtype))
    return out


@dataclass
class Strategy:
    """A server-side update rule: ``aggregate(global, [(weights, n), ...]) -> new global``."""

    name: str = "fedavg"
    #: what a site adds to its loss (FedProx); 0 for the others
    proximal_mu: float = 0.0

    def aggregate(self, current: Weights, updates: Sequence[tuple[Weights, int]]) -> Weights:
        return weighted_average(updates)

    def describe(self) -> dict:
        return {"name": self.name, "proximal_mu": self.proximal_mu}


@dataclass
class FedAvg(Strategy):
    name: str = "fedavg"


@dataclass
class FedProx(Strategy):
    name: str = "fedprox"
    proximal_mu: float = 0.01


@dataclass
class FedOpt(Strategy):
    """Reddi et al. 2021, Algorithm 2, with the server optimiser of a subclass."""

    name: str = "fedopt"
    eta: float = 0.1  # server learning rate
    beta_1: float = 0.9
    beta_2: float = 0.99
    tau: float = 1e-9  # adaptivity
    m: Weights | None = field(default=None, repr=False)
    v: Weights | None = field(default=None, repr=False)

    def second_moment(self, v: np.ndarray, delta: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def aggregate(self, current: Weights, updates: Sequence[tuple[Weights, int]]) -> Weights:
        avg = weighted_average(updates)
        deltas = [
            np.asarray(a, np.float64) - np.asarray(c, np.float64)
            for a, c in zip(avg, current, strict=True)
        ]
        if self.m is None:
            self.m = [np.zeros_like(d) for d in deltas]
            self.v = [np.full_like(d, self.tau**2) for d in deltas]
        assert self.v is not None
        self.m = [
            self.beta_1 * m + (1 - self.beta_1) * d for m, d in zip(self.m, deltas, strict=True)
        ]
        self.v = [self.second_moment(v, d) for v, d in zip(self.v, deltas, strict=True)]
        out = []
        for c, m, v in zip(current, self.m, self.v, strict=True):
            new = np.asarray(c, np.float64) + self.eta * m / (np.sqrt(v) + self.tau)
            if np.issubdtype(np.asarray(c).dtype, np.integer):
                new = np.rint(new)
            out.append(new.astype(np.asarray(c).dtype))
        return out

    def describe(self) -> dict:
        return {
            **super().describe(),
            "eta": self.eta,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "tau": self.tau,
        }


@dataclass
class FedAdagrad(FedOpt):
    name: str = "fedadagrad"

    def second_moment(self, v, delta):
        return v + delta**2


@dataclass
class FedAdam(FedOpt):
    name: str = "fedadam"

    def second_moment(self, v, delta):
        return self.beta_2 * v + (1 - self.beta_2) * delta**2


@dataclass
class FedYogi(FedOpt):
    name: str = "fedyogi"

    def second_moment(self, v, delta):
        d2 = delta**2
        return v - (1 - self.beta_2) * d2 * np.sign(v - d2)


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (FedAvg, FedProx, FedAdagrad, FedAdam, FedYogi)
}


def get_strategy(name: str, **params) -> Strategy:
    """``fedavg``, ``fedprox`` (``proximal_mu``), ``fedadagrad``/``fedadam``/``fedyogi``
    (``eta``, ``beta_1``, ``beta_2``, ``tau``). Unknown names or parameters raise ValueError."""
    key = str(name).lower().replace("_", "").replace("-", "")
    if key not in STRATEGIES:
        raise ValueError(f"unknown aggregation strategy {name!r}; one of {sorted(STRATEGIES)}")
    cls = STRATEGIES[key]
    allowed = {f for f in cls.__dataclass_fields__ if f not in ("name", "m", "v")}
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"{name}: unknown parameters {sorted(unknown)}; allowed {sorted(allowed)}")
    return cls(**{k: float(v) for k, v in params.items()})


STRATEGY_NAMES = ("fedavg", "fedprox", "fedadagrad", "fedadam", "fedyogi")
