from __future__ import annotations

from datetime import datetime, timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone

from kafkaml.workloads.models import CredentialKind, WorkloadCredential

from .models import Inference, InferenceStatus
from .updates import models_topic

STALE_AFTER = timedelta(seconds=30)


def inference_metrics_summary(inference) -> dict:
    """Totals over the replicas that reported in the last 30 s."""
    fresh = _fresh_reports(inference)

    def total(key):
        return sum(float(r.get(key) or 0) for r in fresh)

    latencies = [r.get("latency_ms") or {} for r in fresh]
    return {
        "replicas_reporting": len(fresh),
        "records_in_per_s": total("records_in_per_s"),
        "records_out_per_s": total("records_out_per_s"),
        "records_in": total("records_in"),
        "records_out": total("records_out"),
        "errors": total("errors"),
        "lag": total("lag"),
        "batch_size_avg": (total("batch_size_avg") / len(fresh)) if fresh else 0,
        "latency_ms": {
            p: max((float(lat.get(p) or 0) for lat in latencies), default=0)
            for p in ("p50", "p95", "p99")
        },
    }


def _fresh_reports(inference) -> list[dict]:
    now = timezone.now()
    fresh = []
    for report in (inference.metrics or {}).values():
        try:
            at = datetime.fromisoformat(report.get("at", ""))
        except ValueError:
            continue
        if now - at <= STALE_AFTER:
            fresh.append(report)
    return fresh


def inference_degraded(inference) -> dict | None:
    """Why a running inference is not serving, or None: a replica that reported in the last
    30 s has reached no Kafka broker since ``since`` (the earliest such replica)."""
    if inference.status != InferenceStatus.RUNNING:
        return None
    since = sorted(
        r["cluster_unreachable_since"]
        for r in _fresh_reports(inference)
        if r.get("cluster_unreachable_since")
    )
    if not since:
        return None
    return {"reason": "cluster_unreachable", "since": since[0]}


def worker_candidate(inference: Inference) -> dict | None:
    """What the replicas serve next to the primary (the worker's settings payload)."""
    if inference.candidate_result_id is None:
        return None
    return {
        "result_id": inference.candidate_result_id,
        "version": inference.candidate_version,
        "mode": inference.candidate_mode,
        "share": inference.canary_share,
        "shadow_topic": inference.shadow_topic or None,
    }


def worker_inference_payload(inference) -> dict:
    return {
        "id": inference.pk,
        "status": inference.status,
        "replicas": inference.replicas,
        "input_format": inference.input_format,
        "input_config": inference.input_config,
        "input_topic": inference.input_topic,
        "output_topic": inference.output_topic,
        "upper_topic": inference.upper_topic,
        "limit": inference.limit,
        "result_id": inference.serving_result_id,
        "model_version": inference.model_version,
        "batch_size": inference.batch_size,
        "max_wait_ms": inference.max_wait_ms,
        "runtime": inference.runtime,
        "delivery": inference.delivery,
        "input_bootstrap_servers": inference.input_bootstrap_servers,
        "output_bootstrap_servers": inference.output_bootstrap_servers,
        "upper_bootstrap_servers": inference.upper_bootstrap_servers,
        "models_topic": models_topic(inference),
        "external": inference.external or {},
        "candidate": worker_candidate(inference),
    }


def worker_inference_get(*, credential: WorkloadCredential, pk: int) -> Inference:
    """The inference credential's own inference; anything else is 404."""
    scope = Inference.objects.filter(
        pk=credential.subject_id if credential.kind == CredentialKind.INFERENCE else None,
        owner=credential.owner,
    )
    return get_object_or_404(scope, pk=pk)
