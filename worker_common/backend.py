"""REST client the workers use to talk to the backend (docs/contracts.md).

Each workload authenticates with its own credential (``KAFKAML_API_TOKEN``, sent as
``Authorization: Workload <key>``), valid only for its own result(s) or inference and revoked
when the workload ends. Transient failures (connection refused while the
backend restarts, 502/503/504) are retried with exponential backoff; a 4xx is the caller's bug
and raises at once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import requests

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {502, 503, 504}
AUTH_KEYWORD = "Workload"
FINAL_STATUSES = {"finished", "failed", "stopped"}


class BackendError(RuntimeError):
    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class BackendClient:
    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 8,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = (base_url or os.environ.get("KAFKAML_BACKEND_URL", "")).rstrip("/")
        token = token or os.environ.get("KAFKAML_API_TOKEN", "")
        if not self.base_url or not token:
            raise BackendError("KAFKAML_BACKEND_URL and KAFKAML_API_TOKEN must be set")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"{AUTH_KEYWORD} {token}"

    # -- generic --------------------------------------------------------------------------
    def request(
        self, method: str, path: str, *, max_retries: int | None = None, **kwargs: Any
    ) -> requests.Response:
        """``max_retries`` (default: the client's) transient failures are retried here; a
        caller that polls anyway passes 0 and retries on its own schedule."""
        url = f"{self.base_url}{path}"
        kwargs.setdefault("timeout", self.timeout)
        retries = self.max_retries if max_retries is None else max_retries
        delay = self.backoff
        for attempt in range(retries + 1):
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.ConnectionError as exc:
                error: Exception | None = exc
                response = None
            else:
                error = None
                if response.status_code not in RETRYABLE_STATUS:
                    break
            if attempt == retries:
                break
            log.warning(
                "backend %s %s failed (%s); retrying in %.1fs",
                method,
                path,
                error or response.status_code,
                delay,
            )
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
        if response is None:
            raise BackendError(f"backend unreachable at {self.base_url}: {error}")
        if response.status_code >= 400:
            raise BackendError(
                f"{method} {path} -> {response.status_code}: {response.text[:500]}",
                response.status_code,
            )
        return response

    def get_json(self, path: str, *, max_retries: int | None = None, **params: Any) -> Any:
        return self.request("GET", path, params=params or None, max_retries=max_retries).json()

    def post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        response = self.request("POST", path, json=body)
        return response.json() if response.content else None

    # -- training -------------------------------------------------------------------------
    def result(self, result_id: int) -> dict:
        return self.get_json(f"/api/v1/worker/results/{result_id}/")

    def set_result_status(
        self, result_id: int, status: str, *, error: str = "", log_tail: str = ""
    ) -> None:
        try:
            self.post_json(
                f"/api/v1/worker/results/{result_id}/status/",
                {"status": status, "error": error, "log_tail": log_tail},
            )
        except BackendError as exc:
            # The backend revokes the credential as soon as the workload's last result is
            # final (e.g. when its model was uploaded): a final status sent after that has
            # nothing left to say.
            if status in FINAL_STATUSES and exc.status_code == 401:
                log.info("result %s is already final; not reporting %s", result_id, status)
                return
            raise

    def report_epoch(self, result_id: int, epoch: int, metrics: Mapping[str, float]) -> None:
        self.post_json(
            f"/api/v1/worker/results/{result_id}/epochs/",
            {"epoch": epoch, "metrics": dict(metrics)},
        )

    def upload_artifacts(self, result_id: int, archive_path: str, summary: Mapping) -> dict:
        import json

        with open(archive_path, "rb") as archive:
            return self.request(
                "POST",
                f"/api/v1/worker/results/{result_id}/artifacts/",
                files={"archive": ("model.tar.gz", archive, "application/gzip")},
                data={"summary": json.dumps(summary)},
            ).json()

    def download_artifacts(self, result_id: int, dest_path: str, version: int | None = None) -> str:
        params = {"version": version} if version is not None else None
        response = self.request(
            "GET", f"/api/v1/worker/results/{result_id}/artifacts/", params=params, stream=True
        )
        with open(dest_path, "wb") as out:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
        return dest_path

    def deployment_datasources(
        self, deployment_id: int, *, max_retries: int | None = None
    ) -> list[dict]:
        """The datasources the backend registered for the deployment (newest first)."""
        return self.get_json(
            f"/api/v1/worker/deployments/{deployment_id}/datasources/", max_retries=max_retries
        )

    # -- control logger -------------------------------------------------------------------
    def register_datasource(self, body: Mapping[str, Any]) -> dict:
        return self.post_json("/api/v1/worker/datasources/", body)

    def record_control_error(self, body: Mapping[str, Any]) -> None:
        self.post_json("/api/v1/worker/control-errors/", body)

    # -- inference ------------------------------------------------------------------------
    def inference(self, inference_id: int) -> dict:
        return self.get_json(f"/api/v1/worker/inferences/{inference_id}/")

    def report_inference_metrics(self, inference_id: int, metrics: Mapping[str, Any]) -> None:
        self.post_json(f"/api/v1/worker/inferences/{inference_id}/metrics/", metrics)
