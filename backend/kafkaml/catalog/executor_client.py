"""The backend's use of the executor service. User code never runs in the web process: it is
sent to ``mlcode_executor`` over HTTP (its own client), and an unreachable executor is a 503.

Every call carries the shared secret (``MLCODE_EXECUTOR_SECRET``, set by ``kafkaml up``) and the
id of the user it is made for, which the executor's fair queue uses (one user's slow
validations never delay another's)."""

from __future__ import annotations

import os

from django.conf import settings

from kafkaml.errors import ApplicationError, ServiceUnavailableError


def _client():
    from mlcode_executor.client import ExecutorClient

    secret = getattr(settings, "MLCODE_EXECUTOR_SECRET", None) or os.environ.get(
        "MLCODE_EXECUTOR_SECRET"
    )
    return ExecutorClient(
        settings.MLCODE_EXECUTOR_URL, timeout=settings.MLCODE_EXECUTOR_TIMEOUT, secret=secret or ""
    )


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


def _user(user: object) -> str | None:
    """The fair queue's key: a user id (or a user object)."""
    if user is None:
        return None
    return str(getattr(user, "pk", user))


def validate_model(*, framework: str, imports: str, code: str, user: object = None) -> dict:
    return _call("validate", framework=framework, imports=imports, code=code, user=_user(user))


def validate_chain(*, framework: str, models: list[dict], user: object = None) -> dict:
    return _call("validate_chain", framework=framework, models=models, user=_user(user))
