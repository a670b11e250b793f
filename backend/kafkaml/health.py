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
        client = {"bootstrap.servers": servers, **settings.KAFKA_SECURITY}
        metadata = AdminClient(client).list_topics(timeout=3)
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
    from kafkaml.accounts.mode import sandbox_missing

    components = {
        "database": check_database(),
        "broker": check_broker(),
        "celery": check_heartbeat("celery"),
        "control_logger": check_heartbeat("control_logger"),
        "executor": check_executor(),
    }
    healthy = all(c["status"] == "ok" for c in components.values())
    missing = sandbox_missing()
    return healthy, {
        "status": "ok" if healthy else "degraded",
        "components": components,
        "single_user_mode": bool(missing),
        "sandbox": {"complete": not missing, "missing": list(missing)},
        "pid": os.getpid(),
    }


def public_view(body: dict) -> dict:
    """What anyone may see: the overall state and each component up or down. Errors, pids,
    versions and the sandbox's gaps are for staff (they help an attacker more than a user)."""
    return {
        "status": body["status"],
        "components": {name: {"status": c["status"]} for name, c in body["components"].items()},
        "single_user_mode": body["single_user_mode"],
    }


class HealthApi(APIView):
    """The one endpoint open without login: it names no user data. Staff see the details."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict, 503: dict})
    def get(self, request):
        healthy, body = health_report()
        if not (request.user.is_authenticated and request.user.is_staff):
            body = public_view(body)
        return Response(body, status=200 if healthy else 503)
