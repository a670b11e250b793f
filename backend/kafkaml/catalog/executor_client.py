"""The backend's use of the executor service. User code never runs in the web process: it is
sent to ``mlcode_executor`` over HTTP (its own client), and an unreachable executor is a 503."""

from __future__ import annotations

from django.conf import settings

from kafkaml.errors import ApplicationError, ServiceUnavailableError


def _client():
    from mlcode_executor.client import ExecutorClient

    return ExecutorClient(settings.MLCODE_EXECUTOR_URL, timeout=settings.MLCODE_EXECUTOR_TIMEOUT)


def _call(method: str, **kwargs) -> dict:
    from mlcode_executor.client import ExecutorUnavailable

    try:
        return getattr(_client(), method)(**kwargs)
    except ExecutorUnavailable as exc:
        raise ServiceUnavailableError(
            "The model-code executor is not reachable, so the model could not be validated. "
            "Start it (`kafkaml up` does) and try again.",
            extra={"executor_url": settings.MLCODE_EXECUTOR_URL, "reason": str(exc)[:200]},
        ) from exc
    except ValueError as exc:  # the executor refused the request itself
        raise ApplicationError(f"The executor refused the request: {exc}") from exc


def validate_model(*, framework: str, imports: str, code: str) -> dict:
    return _call("validate", framework=framework, imports=imports, code=code)


def validate_chain(*, framework: str, models: list[dict]) -> dict:
    return _call("validate_chain", framework=framework, models=models)
