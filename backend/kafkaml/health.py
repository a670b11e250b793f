"""GET /api/v1/health: each component's state, 200 when all are up, 503 otherwise."""

from __future__ import annotations

import os
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "engine": connection.vendor}
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": str(exc)[:200]}


def check_broker() -> dict:
    servers = settings.KAFKA_BOOTSTRAP_SERVERS
    if not servers:
        return {"status": "down", "error": "KAFKA_BOOTSTRAP_SERVERS is not set"}
    from confluent_kafka.admin import AdminClient

    try:
        metadata = AdminClient({"bootstrap.servers": servers}).list_topics(timeout=3)
        return {"status": "ok", "brokers": len(metadata.brokers)}
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": str(exc)[:200]}


def check_heartbeat(component: str) -> dict:
    from kafkaml.workloads.models import Heartbeat

    beat = Heartbeat.objects.filter(component=component).first()
    if beat is None:
        return {"status": "down", "error": "never seen"}
    age = timezone.now() - beat.last_seen
    if age > timedelta(seconds=settings.HEARTBEAT_STALE_SECONDS):
        return {"status": "down", "error": f"last seen {int(age.total_seconds())}s ago"}
    return {"status": "ok", "last_seen": beat.last_seen.isoformat()}


def check_executor() -> dict:
    import requests

    try:
        url = settings.MLCODE_EXECUTOR_URL.rstrip("/") + "/health"
        response = requests.get(url, timeout=3)
        return {"status": "ok" if response.ok else "down"}
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": str(exc)[:200]}


def health_report() -> tuple[bool, dict]:
    components = {
        "database": check_database(),
        "broker": check_broker(),
        "celery": check_heartbeat("celery"),
        "control_logger": check_heartbeat("control_logger"),
        "executor": check_executor(),
    }
    healthy = all(c["status"] == "ok" for c in components.values())
    return healthy, {
        "status": "ok" if healthy else "degraded",
        "components": components,
        "pid": os.getpid(),
    }


class HealthApi(APIView):
    """The one endpoint open without login: it names no user data."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request):
        healthy, body = health_report()
        return Response(body, status=200 if healthy else 503)
