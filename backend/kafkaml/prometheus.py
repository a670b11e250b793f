"""Prometheus metrics of the backend: ``GET /metrics`` (outside ``/api/v1``).

Access: with ``KAFKAML_METRICS_TOKEN`` set, only ``Authorization: Bearer <token>`` (what a
Prometheus scrape config's ``authorization`` / a ServiceMonitor's ``bearerTokenSecret`` sends);
without it, only clients on the loopback interface (a sidecar, ``kubectl port-forward``, the
local launcher) whose request carries no ``X-Forwarded-For`` / ``Forwarded`` header (through
a proxy, the address may be the proxy's or one the client wrote). Series (docs/inference.md, "Prometheus metrics"):

* ``kafkaml_http_requests_total{view, method, status}`` and
  ``kafkaml_http_request_duration_seconds{view}``: every request, by URL name (bounded: the
  route's name, not the path);
* ``kafkaml_inferences{state}``, ``kafkaml_training_results{state}``,
  ``kafkaml_inference_replicas``: workloads by state, counted in the database at scrape time;
* ``kafkaml_predict_rows_total`` and ``kafkaml_predict_duration_seconds``: the synchronous
  predict endpoint.

Counters are per backend process (each uvicorn worker has its own; Prometheus sums them).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

HTTP_REQUESTS = Counter(
    "kafkaml_http_requests",
    "HTTP requests answered by the backend, by URL name, method and status code.",
    ["view", "method", "status"],
)
HTTP_DURATION = Histogram(
    "kafkaml_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL name.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PREDICT_ROWS = Counter("kafkaml_predict_rows", "Rows predicted by the predict endpoint.")
PREDICT_DURATION = Histogram(
    "kafkaml_predict_duration_seconds",
    "Time to answer one predict request (model load on a cache miss included).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
log = logging.getLogger(__name__)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def predict_observe(rows: int, seconds: float) -> None:
    PREDICT_ROWS.inc(rows)
    PREDICT_DURATION.observe(seconds)


def _view_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unmatched>"
    return match.view_name or match.route or "<unnamed>"


def _record(request, response, started: float) -> None:
    view = _view_name(request)
    method = request.method if request.method in _METHODS else "other"
    HTTP_REQUESTS.labels(view, method, str(response.status_code)).inc()
    HTTP_DURATION.labels(view).observe(time.perf_counter() - started)


class PrometheusMiddleware:
    """Counts every request (sync and async: the backend runs under uvicorn)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        _record(request, response, started)
        return response

    async def _acall(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        _record(request, response, started)
        return response


class WorkloadCollector:
    """Workloads by state, read from the database when scraped."""

    def describe(self):
        return []

    def collect(self):
        try:
            yield from self._collect()
        except Exception as exc:  # noqa: BLE001 - a database down must not take /metrics down
            log.warning("workload series left out: %s: %s", type(exc).__name__, exc)

    def _collect(self):
        from django.db.models import Count, Sum

        from kafkaml.inference.models import Inference, InferenceStatus
        from kafkaml.training.models import ResultStatus, TrainingResult

        inferences = GaugeMetricFamily(
            "kafkaml_inferences", "Inferences by state.", labels=["state"]
        )
        counts = dict(Inference.objects.values_list("status").annotate(n=Count("id")))
        for state in InferenceStatus.values:
            inferences.add_metric([state], counts.get(state, 0))
        yield inferences
        replicas = GaugeMetricFamily(
            "kafkaml_inference_replicas", "Replicas requested by the running inferences."
        )
        running = Inference.objects.filter(status=InferenceStatus.RUNNING)
        replicas.add_metric([], running.aggregate(n=Sum("replicas"))["n"] or 0)
        yield replicas
        results = GaugeMetricFamily(
            "kafkaml_training_results", "Training results by state.", labels=["state"]
        )
        counts = dict(TrainingResult.objects.values_list("status").annotate(n=Count("id")))
        for state in ResultStatus.values:
            results.add_metric([state], counts.get(state, 0))
        yield results


REGISTRY.register(WorkloadCollector())


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _proxied(request) -> bool:
    """Came through a proxy: its address may be the proxy's (uvicorn's --proxy-headers turns
    a client's own X-Forwarded-For into REMOTE_ADDR), so it is not a loopback client."""
    return any(k in request.META for k in ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED"))


def metrics_view(request):
    """``GET /metrics``: the text exposition format (see the module's docstring for access)."""
    token = getattr(settings, "KAFKAML_METRICS_TOKEN", "")
    if token:
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            response = JsonResponse({"detail": "A valid metrics token is required."}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not _loopback(request.META.get("REMOTE_ADDR", "")) or _proxied(request):
        return JsonResponse(
            {"detail": "Metrics are served to loopback only; set KAFKAML_METRICS_TOKEN."},
            status=403,
        )
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"detail": "Method not allowed."}, status=405)
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
