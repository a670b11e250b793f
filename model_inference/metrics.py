"""Live metrics of one replica: counters, batch sizes, end-to-end latency percentiles.

Latency is measured per record from the input record's timestamp to the moment the broker
acknowledged its output (or its dead-letter / upper-topic record), on a log-scale histogram
(100 bins a decade, ~2% resolution) so that recording a batch costs a few microseconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

_EDGES = np.logspace(-2, 7, 901)  # 0.01 ms .. 10,000 s


class LatencyHistogram:
    def __init__(self) -> None:
        self.counts = np.zeros(len(_EDGES) + 1, dtype=np.int64)
        self.total = 0
        self.max = 0.0

    def add(self, latencies_ms: np.ndarray) -> None:
        if not len(latencies_ms):
            return
        latencies_ms = np.maximum(latencies_ms, 0.0)
        self.counts += np.bincount(
            np.searchsorted(_EDGES, latencies_ms), minlength=len(self.counts)
        )
        self.total += len(latencies_ms)
        self.max = max(self.max, float(latencies_ms.max()))

    def merge(self, other: LatencyHistogram) -> None:
        self.counts += other.counts
        self.total += other.total
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0..100) in ms, the geometric middle of its bin."""
        if not self.total:
            return None
        rank = max(1, int(np.ceil(self.total * q / 100.0)))
        index = int(np.searchsorted(np.cumsum(self.counts), rank))
        if index == 0:
            return float(_EDGES[0])
        if index >= len(_EDGES):
            return self.max
        return min(float(np.sqrt(_EDGES[index - 1] * _EDGES[index])), self.max)

    def summary(self) -> dict[str, float | None]:
        def r(v):
            return None if v is None else round(v, 3)

        return {
            "p50": r(self.percentile(50)),
            "p95": r(self.percentile(95)),
            "p99": r(self.percentile(99)),
            "max": r(self.max) if self.total else None,
        }


@dataclass
class Window:
    """What happened since the last report."""

    started: float = field(default_factory=time.monotonic)
    records_in: int = 0
    records_out: int = 0
    errors: int = 0
    batches: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)


class Metrics:
    """Counters for the whole run plus a window that each report resets."""

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self.records_in = 0
        self.records_out = 0
        self.upper = 0
        self.errors = 0
        self.batches = 0
        self.swaps = 0
        self.latency = LatencyHistogram()
        self.window = Window()
        self.first_in: float | None = None  # wall clock of the first record consumed
        self.last_ack: float | None = None  # wall clock of the last output acknowledged
        self.started = time.time()

    def consumed(self, count: int) -> None:
        if self.first_in is None and count:
            self.first_in = time.time()
        self.records_in += count
        self.window.records_in += count
        self.batches += 1
        self.window.batches += 1

    def completed(
        self, outputs: int, upper: int, errors: int, done_at: float, timestamps_ms: np.ndarray
    ) -> None:
        """A batch whose records all have acknowledged outputs."""
        self.records_out += outputs + upper
        self.window.records_out += outputs + upper
        self.upper += upper
        self.errors += errors
        self.window.errors += errors
        self.last_ack = done_at if self.last_ack is None else max(self.last_ack, done_at)
        if len(timestamps_ms):
            lat = done_at * 1000.0 - timestamps_ms
            self.latency.add(lat)
            self.window.latency.add(lat)

    def report(self, lag: int | None, model_version=None) -> dict:
        """The payload of ``POST /api/v1/worker/inferences/{id}/metrics/``; resets the window.

        ``records_in`` / ``records_out`` / ``errors`` are totals since the replica started
        (monotonic, so a lost report loses nothing); ``*_per_s`` are rates over the window;
        ``batch_size_avg`` and ``latency_ms`` describe the window.
        """
        w, now = self.window, time.monotonic()
        elapsed = max(now - w.started, 1e-6)
        self.window = Window(started=now)
        return {
            "replica": self.replica,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "errors": self.errors,
            "batch_size_avg": round(w.records_in / w.batches, 2) if w.batches else 0.0,
            "latency_ms": w.latency.summary(),
            "lag": lag,
            "records_in_per_s": round(w.records_in / elapsed, 1),
            "records_out_per_s": round(w.records_out / elapsed, 1),
            "errors_window": w.errors,
            "interval_s": round(elapsed, 3),
            "model_version": model_version,
        }

    def totals(self) -> dict:
        """Whole-run figures (written to ``--metrics-file``; the benchmark reads them)."""
        span = (
            self.last_ack - self.first_in
            if self.first_in is not None and self.last_ack is not None
            else None
        )
        return {
            "replica": self.replica,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "upper": self.upper,
            "errors": self.errors,
            "batches": self.batches,
            "batch_size_avg": round(self.records_in / self.batches, 2) if self.batches else 0.0,
            "latency_ms": self.latency.summary(),
            "first_in": self.first_in,
            "last_ack": self.last_ack,
            "throughput": round(self.records_in / span, 1) if span and span > 0 else None,
            "swaps": self.swaps,
        }
