"""Prometheus series of a training worker (``/metrics`` with ``KAFKAML_METRICS_PORT``).

Every reporter of the run is wrapped by :func:`instrumented`, so what reaches the backend is
also what Prometheus sees (docs/training.md, "Prometheus metrics"):

* ``kafkaml_training_epochs_total{result}``: epochs reported;
* ``kafkaml_training_epoch{result}``: the last epoch number;
* ``kafkaml_training_metric{result, name}``: the last value of each epoch metric (``loss``,
  ``accuracy``, ``val_loss`` ...);
* ``kafkaml_training_status{result, status}``: 1 for the run's current status;
* ``kafkaml_training_artifacts_total{result}``: model versions uploaded.

Without ``prometheus_client`` installed the wrapper only delegates.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

STATUSES = ("deployed", "finished", "stopped", "failed")

try:
    from prometheus_client import Counter, Gauge
except ImportError:  # metrics are optional for a worker
    Counter = Gauge = None

if Counter is not None:
    EPOCHS = Counter("kafkaml_training_epochs", "Epochs reported.", ["result"])
    EPOCH = Gauge("kafkaml_training_epoch", "The last epoch reported.", ["result"])
    METRIC = Gauge(
        "kafkaml_training_metric", "The last value of each epoch metric.", ["result", "name"]
    )
    STATUS = Gauge(
        "kafkaml_training_status", "1 for the run's current status.", ["result", "status"]
    )
    ARTIFACTS = Counter("kafkaml_training_artifacts", "Model versions uploaded.", ["result"])


class InstrumentedReporter:
    """A :class:`model_training.reporting.Reporter` that also updates the Prometheus series."""

    def __init__(self, reporter: Any, result: str) -> None:
        self._reporter = reporter
        self._result = str(result)

    def __getattr__(self, name: str) -> Any:  # statuses, epochs ... of a MemoryReporter
        return getattr(self._reporter, name)

    def set_status(self, status: str, *, error: str = "", log_tail: str = "") -> None:
        if Counter is not None:
            for known in {*STATUSES, status}:
                STATUS.labels(self._result, known).set(1 if known == status else 0)
        self._reporter.set_status(status, error=error, log_tail=log_tail)

    def epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        if Counter is not None:
            EPOCHS.labels(self._result).inc()
            EPOCH.labels(self._result).set(epoch)
            for name, value in metrics.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    if math.isfinite(value):
                        METRIC.labels(self._result, str(name)).set(value)
        self._reporter.epoch(epoch, metrics)

    def upload_artifacts(self, directory: Path, summary: dict[str, Any]) -> None:
        self._reporter.upload_artifacts(directory, summary)
        if Counter is not None:
            ARTIFACTS.labels(self._result).inc()


def instrumented(reporters: list, results: list) -> list:
    """Each reporter wrapped once (a chain's sub-models may share one), labelled by result."""
    wrapped: dict[int, InstrumentedReporter] = {}
    return [
        wrapped.setdefault(id(r), InstrumentedReporter(r, result))
        for r, result in zip(reporters, results, strict=True)
    ]
