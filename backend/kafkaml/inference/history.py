"""Serving history: a bounded series of an inference's totals (records/s, latency, lag),
one point each time a replica reports, so the UI charts them over time."""

from __future__ import annotations

from .models import Inference, InferenceMetricsPoint
from .selectors import inference_metrics_summary

METRICS_HISTORY_POINTS = 720  # at a report every ~5 s a replica, about the last hour


def inference_history_append(inference: Inference) -> InferenceMetricsPoint:
    """Record the inference's totals now; drop the points beyond the newest 720.

    Called inside the transaction that stored the replica's report (the inference row is
    locked), so concurrent reports append in order and the bound holds."""
    summary = inference_metrics_summary(inference)
    latency = summary["latency_ms"]
    point = InferenceMetricsPoint.objects.create(
        inference=inference,
        records_in_per_s=summary["records_in_per_s"],
        records_out_per_s=summary["records_out_per_s"],
        latency_p50_ms=latency["p50"],
        latency_p99_ms=latency["p99"],
        lag=summary["lag"],
        errors=summary["errors"],
        replicas_reporting=summary["replicas_reporting"],
    )
    oldest_kept = (
        InferenceMetricsPoint.objects.filter(inference=inference)
        .order_by("-id")
        .values_list("id", flat=True)[METRICS_HISTORY_POINTS - 1 : METRICS_HISTORY_POINTS]
    )
    cutoff = list(oldest_kept)
    if cutoff:
        InferenceMetricsPoint.objects.filter(inference=inference, id__lt=cutoff[0]).delete()
    return point


def inference_history(inference: Inference, *, limit: int = METRICS_HISTORY_POINTS) -> list:
    """The newest ``limit`` points, oldest first."""
    limit = max(1, min(limit, METRICS_HISTORY_POINTS))
    points = InferenceMetricsPoint.objects.filter(inference=inference).order_by("-id")[:limit]
    return list(reversed(points))
