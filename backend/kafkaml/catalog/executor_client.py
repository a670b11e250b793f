"""Client of the model-code executor service (mlcode_executor). User code never runs in the
web process: it is sent there."""

from __future__ import annotations

import requests
from django.conf import settings

from kafkaml.errors import ServiceUnavailableError


def _post(path: str, body: dict) -> dict:
    url = settings.MLCODE_EXECUTOR_URL.rstrip("/") + path
    try:
        response = requests.post(url, json=body, timeout=settings.MLCODE_EXECUTOR_TIMEOUT)
    except requests.RequestException as exc:
        raise ServiceUnavailableError(
            "The model-code executor is not reachable, so the model could not be validated. "
            "Start it (`kafkaml up` does) and try again.",
            extra={"executor_url": settings.MLCODE_EXECUTOR_URL, "reason": str(exc)[:200]},
        ) from exc
    if response.status_code >= 500:
        raise ServiceUnavailableError(
            f"The model-code executor failed ({response.status_code}); try again.",
        )
    return response.json()


def validate_model(*, framework: str, imports: str, code: str) -> dict:
    return _post("/validate", {"framework": framework, "imports": imports, "code": code})


def validate_chain(*, framework: str, models: list[dict]) -> dict:
    return _post("/validate-chain", {"framework": framework, "models": models})
