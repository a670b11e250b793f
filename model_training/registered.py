"""Wait for the data source the backend registered for a deployment.

The training worker never reads the control topic. The control logger reads it and posts each
control message to the backend, which registers it as a datasource of the deployment only if
every topic it announces belongs to the deployment's owner (otherwise it records a control
error). The worker asks the backend for the deployment's registered datasources
(``GET /api/v1/worker/deployments/<id>/datasources/``, scoped to the workload's credential)
about once a second until there is one, and trains on the first one registered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import requests

from model_training.errors import TrainingError
from model_training.job import DatasourceSpec
from worker_common.backend import BackendClient, BackendError

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 10.0
STILL_WAITING_SECONDS = 60.0  # how often the wait says so in the log
# The backend restarting or overloaded: wait and ask again. Any other 4xx (a revoked
# credential, a deleted deployment) will not change by asking again.
TRANSIENT_STATUS = {408, 429}


def _transient(exc: Exception) -> bool:
    if not isinstance(exc, BackendError):  # a read timeout and the like
        return True
    code = exc.status_code
    return code is None or code >= 500 or code in TRANSIENT_STATUS


def first_registered(datasources: list[dict]) -> dict | None:
    """The datasource registered first (lowest id), as the first control message was."""
    if not datasources:
        return None
    return min(datasources, key=lambda d: int(d.get("id") or 0))


def wait_for_registered_datasource(
    backend: BackendClient,
    deployment_id: int,
    *,
    timeout: float = 0.0,
    should_stop: Callable[[], bool] = lambda: False,
    interval: float = POLL_SECONDS,
) -> DatasourceSpec:
    """Block until the backend lists a datasource for the deployment (``timeout`` 0 = forever).

    Raises :class:`TrainingError` when ``should_stop()`` turns true, on timeout, and when the
    backend refuses the request for good (revoked credential, unknown deployment).
    """
    started = time.monotonic()
    deadline = started + timeout if timeout else None
    delay = interval
    next_note = started + STILL_WAITING_SECONDS
    log.info("waiting for the backend to register a datasource for deployment %s", deployment_id)
    while True:
        if should_stop():
            raise TrainingError("stopped while waiting for the deployment's datasource")
        now = time.monotonic()
        if deadline is not None and now > deadline:
            raise TrainingError(
                f"no datasource registered for deployment {deployment_id} within "
                f"{timeout:.0f}s: send the data with a control message for this deployment "
                "that announces only your own topics"
            )
        try:
            found = first_registered(backend.deployment_datasources(deployment_id, max_retries=0))
        except (BackendError, requests.RequestException) as exc:
            if not _transient(exc):
                raise TrainingError(
                    f"cannot ask the backend for deployment {deployment_id}'s datasource: {exc}"
                ) from exc
            log.warning("backend unavailable (%s); asking again in %.0fs", exc, delay)
            _sleep(delay, should_stop, deadline)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
            continue
        delay = interval
        if found is not None:
            try:
                spec = DatasourceSpec.from_message(found)
            except (ValueError, TypeError) as exc:
                raise TrainingError(f"registered datasource {found.get('id')}: {exc}") from exc
            log.info(
                "registered datasource %s for deployment %s: %s",
                found.get("id"),
                deployment_id,
                spec,
            )
            return spec
        if now >= next_note:
            next_note = now + STILL_WAITING_SECONDS
            log.info(
                "still no registered datasource for deployment %s after %.0fs (a control "
                "message announcing another user's topic is refused by the backend)",
                deployment_id,
                now - started,
            )
        _sleep(interval, should_stop, deadline)


def _sleep(seconds: float, should_stop: Callable[[], bool], deadline: float | None) -> None:
    """Sleep in short steps so a stop (or the deadline) is noticed at once."""
    end = time.monotonic() + seconds
    if deadline is not None:
        end = min(end, deadline + 0.01)
    while time.monotonic() < end and not should_stop():
        time.sleep(min(0.2, max(0.0, end - time.monotonic())))
