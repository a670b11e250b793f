"""Client of the validation service (stdlib only), for the backend::

from mlcode_executor.client import ExecutorClient
client = ExecutorClient()            # MLCODE_EXECUTOR_URL or http://127.0.0.1:8001,
                                     # MLCODE_EXECUTOR_SECRET
answer = client.validate("tensorflow", imports, code, user="42")
answer = client.validate("tensorflow", imports, code)
if answer["ok"]: summary = answer["result"]
else: error = answer["error"]         # {type, message, line, column, source_line, section}
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from mlcode_executor import DEFAULT_PORT


class ExecutorUnavailable(RuntimeError):
    """The service cannot be reached or answered with an unexpected status."""


class ExecutorClient:
    def __init__(
        self, base_url: str | None = None, timeout: float = 120.0, secret: str | None = None
    ) -> None:
        self.base_url = (
            base_url or os.environ.get("MLCODE_EXECUTOR_URL") or f"http://127.0.0.1:{DEFAULT_PORT}"
        ).rstrip("/")
        self.timeout = timeout
        self.secret = secret if secret is not None else os.environ.get("MLCODE_EXECUTOR_SECRET")

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, user: str | None = None
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers["Authorization"] = f"Bearer {self.secret}"
        if user is not None:
            headers["X-Kafkaml-User"] = str(user)
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read())
            except ValueError:
                payload = {"detail": str(exc)}
            if exc.code == 400:
                raise ValueError(json.dumps(payload)) from None
            raise ExecutorUnavailable(f"{exc.code}: {payload.get('detail')}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ExecutorUnavailable(f"cannot reach {self.base_url}: {exc}") from None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def validate(
        self,
        framework: str,
        imports: str,
        code: str,
        input_shape: list[int] | None = None,
        user: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {"framework": framework, "imports": imports, "code": code, **extra}
        if input_shape is not None:
            body["input_shape"] = list(input_shape)
        return self._call("POST", "/validate", body, user)

    def validate_chain(
        self, framework: str, models: list[dict[str, Any]], user: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        return self._call(
            "POST", "/validate-chain", {"framework": framework, "models": models, **extra}, user
        )

    def validate_kwargs(
        self, framework: str, text: str, kind: str = "fit", user: str | None = None
    ) -> dict[str, Any]:
        return self._call(
            "POST", "/validate-kwargs", {"framework": framework, "kind": kind, "text": text}, user
        )
