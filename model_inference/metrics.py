"""Live metrics of one replica: counters, batch sizes, end-to-end latency percentiles.

Latency is measured per record from the input record's timestamp to the moment the broker
acknowledged its output (or its dead-letter / upper-topic record), on a log-scale histogram
(100 bins a decade, ~2% resolution) so that recording a batch costs a few microseconds.

The same figures are exposed to Prometheus (``/metrics`` with ``KAFKAML_METRICS_PORT``, see
:mod:`worker_common.prometheus`) by a collector that reads them at scrape time, so the hot
path pays nothing extra; the series are listed in docs/inference.md.
"""

from __future__ import annotations

import bisect
import time
import weakref
from dataclasses import dataclass, field

import numpy as np

_EDGES = np.logspace(-2, 7, 901)  # 0.01 ms .. 10,000 s


class LatencyHistogram:
    def __init__(self) -> None:
        self.counts = np.zeros(len(_EDGES) + 1, dtype=np.int64)
        self.total = 0
        self.sum = 0.0  # ms
        self.max = 0.0

    def add(self, latencies_ms: np.ndarray) -> None:
        if not len(latencies_ms):
            return
        latencies_ms = np.maximum(latencies_ms, 0.0)
        self.counts += np.bincount(
            np.searchsorted(_EDGES, latencies_ms), minlength=len(self.counts)
        )
        self.total += len(latencies_ms)
        self.sum += float(latencies_ms.sum())
        self.max = max(self.max, float(latencies_ms.max()))

    def merge(self, other: LatencyHistogram) -> None:
        self.counts += other.counts
        self.total += other.total
        self.sum += other.sum
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
        # for Prometheus: the inference id (label), batch sizes, the last lag and version
        self.inference = ""
        self.batch_size_counts = [0] * (len(BATCH_SIZE_BUCKETS) + 1)
        self.batch_size_sum = 0
        self.lag: int | None = None
        self.model_version = None
        _register(self)

    def consumed(self, count: int) -> None:
        self.batch_size_counts[bisect.bisect_left(BATCH_SIZE_BUCKETS, count)] += 1
        self.batch_size_sum += count
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
        self.lag, self.model_version = lag, model_version
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


# ---------------------------------------------------------------------------------------------
# Prometheus
# ---------------------------------------------------------------------------------------------

BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
LATENCY_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0
)  # fmt: skip
# index of the last log-scale bin wholly below each Prometheus bucket bound
_LATENCY_BIN_ENDS = [
    int(np.searchsorted(_EDGES, b * 1000.0 * (1 + 1e-9), side="right")) for b in LATENCY_BUCKETS_S
]

_live: weakref.WeakSet = weakref.WeakSet()
_registered = False


def _register(metrics: Metrics) -> None:
    """Expose ``metrics`` on the default registry (once per process for the collector)."""
    global _registered
    _live.add(metrics)
    if _registered:
        return
    try:
        from prometheus_client import REGISTRY
    except ImportError:  # metrics are optional for the worker
        return
    REGISTRY.register(InferenceCollector())
    _registered = True


class InferenceCollector:
    """Reads every live :class:`Metrics` of the process at scrape time."""

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        labels = ["inference", "replica"]

        def counter(name, doc):
            return CounterMetricFamily(f"kafkaml_inference_{name}", doc, labels=labels)

        records_in = counter("records_in", "Records consumed from the input topic.")
        records_out = counter(
            "records_out", "Records answered (output and upper topic), acknowledged by the broker."
        )
        upper = counter("upper_records", "Records forwarded to the upper topic (early exit).")
        errors = counter("errors", "Records sent to the dead-letter topic.")
        swaps = counter("model_swaps", "Model versions swapped in since the replica started.")
        lag = GaugeMetricFamily(
            "kafkaml_inference_consumer_lag",
            "Records of the assigned partitions not consumed yet (at the last report).",
            labels=labels,
        )
        version = GaugeMetricFamily(
            "kafkaml_inference_model_version_info",
            "The model version served (1 for the version label).",
            labels=[*labels, "version"],
        )
        batch = HistogramMetricFamily(
            "kafkaml_inference_batch_size", "Records a micro-batch.", labels=labels
        )
        latency = HistogramMetricFamily(
            "kafkaml_inference_latency_seconds",
            "End to end latency a record: input timestamp to its output acknowledged.",
            labels=labels,
        )
        for m in list(_live):
            key = [str(m.inference or ""), m.replica]
            records_in.add_metric(key, m.records_in)
            records_out.add_metric(key, m.records_out)
            upper.add_metric(key, m.upper)
            errors.add_metric(key, m.errors)
            swaps.add_metric(key, m.swaps)
            if m.lag is not None:
                lag.add_metric(key, m.lag)
            if m.model_version is not None:
                version.add_metric([*key, str(m.model_version)], 1)
            cumulative, buckets = 0, []
            for bound, count in zip(BATCH_SIZE_BUCKETS, m.batch_size_counts, strict=False):
                cumulative += count
                buckets.append((str(float(bound)), cumulative))
            buckets.append(("+Inf", sum(m.batch_size_counts)))
            batch.add_metric(key, buckets, m.batch_size_sum)
            cum = np.cumsum(m.latency.counts)
            buckets = [
                (str(float(b)), int(cum[end - 1]) if end else 0)
                for b, end in zip(LATENCY_BUCKETS_S, _LATENCY_BIN_ENDS, strict=True)
            ]
            buckets.append(("+Inf", int(m.latency.total)))
            latency.add_metric(key, buckets, m.latency.sum / 1000.0)
        yield from (records_in, records_out, upper, errors, swaps, lag, version, batch, latency)
