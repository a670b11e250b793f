"""Prometheus ``/metrics`` for the workers (inference replicas, training jobs).

``KAFKAML_METRICS_PORT`` set to a port number starts ``prometheus_client``'s HTTP server on
that port (all interfaces: the scraper lives in another pod); unset, empty or 0: off.
``KAFKAML_METRICS_ADDR`` changes the listen address (default ``0.0.0.0``). The series of each
worker are documented in docs/inference.md and docs/training.md.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

PORT_ENV = "KAFKAML_METRICS_PORT"
ADDR_ENV = "KAFKAML_METRICS_ADDR"

_started: dict[int, object] = {}


def metrics_port(environ=None) -> int:
    """The configured port, 0 when off (unset, empty, 0 or not a number)."""
    raw = (environ if environ is not None else os.environ).get(PORT_ENV, "").strip()
    if not raw:
        return 0
    try:
        port = int(raw)
    except ValueError:
        log.warning("%s=%r is not a port number: metrics endpoint off", PORT_ENV, raw)
        return 0
    return port if 0 < port < 65536 else 0


def start_metrics_server(port: int | None = None, addr: str | None = None) -> int:
    """Serve the default registry on ``port`` (default: ``KAFKAML_METRICS_PORT``).

    Returns the port served, 0 when off or when ``prometheus_client`` is missing (a worker
    never fails for want of metrics). Starting twice on one port is a no-op.
    """
    port = metrics_port() if port is None else port
    if not port:
        return 0
    if port in _started:
        return port
    try:
        from prometheus_client import start_http_server
    except ImportError:
        log.warning("prometheus_client is not installed: no /metrics on port %s", port)
        return 0
    addr = addr or os.environ.get(ADDR_ENV) or "0.0.0.0"  # noqa: S104 - scraped from outside
    try:
        _started[port] = start_http_server(port, addr=addr)
    except OSError as exc:
        log.warning("could not serve /metrics on %s:%s: %s", addr, port, exc)
        return 0
    log.info("Prometheus metrics on http://%s:%s/metrics", addr, port)
    return port
