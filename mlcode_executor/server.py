"""HTTP API of the validation service (stdlib ``ThreadingHTTPServer``).

GET  /health            -> {"status": "ok"|"starting", "sandbox": {...}}
POST /validate          {framework, imports, code, input_shape?, timeout?}
                        -> {ok: true, result: {...}} | {ok: false, error: {...}}
POST /validate-chain    {framework, models: [{name, imports, code, input_shape?}, ...] edge first}
                        -> {ok, models: [{name, ok, result|error}], links: [...], error?}
POST /validate-kwargs   {framework, kind: "fit"|"evaluate", text}
                        -> {ok: true, kwargs: {...}} | {ok: false, error: {type, message, key}}

A malformed request answers 400 ``{"detail": ..., "errors": {field: [...]}}``; a validation
failure of the user's code is a normal 200 answer with ``ok: false``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mlcode_executor import kwargs as kwargs_mod
from mlcode_executor.sandbox import Sandbox, SandboxConfig, SandboxUnavailable
from mlcode_executor.usercode import normalize_framework

MAX_BODY = 1024 * 1024
MAX_CODE = 200_000
MAX_CHAIN = 16


class BadRequest(Exception):
    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


def _text(body: dict[str, Any], key: str, field: str | None = None) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadRequest("invalid request", {field or key: ["must be a string"]})
    if len(value) > MAX_CODE:
        raise BadRequest("invalid request", {field or key: [f"longer than {MAX_CODE} chars"]})
    return value


def _framework(body: dict[str, Any]) -> str:
    try:
        return normalize_framework(body.get("framework", ""))
    except ValueError as exc:
        raise BadRequest("invalid request", {"framework": [str(exc)]}) from None


def _input_shape(value: Any, field: str) -> Any:
    if value is None:
        return None
    ok = (
        isinstance(value, list)
        and value
        and (
            all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in value)
            or all(
                isinstance(s, list)
                and s
                and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in s)
                for s in value
            )
        )
    )
    if not ok:
        raise BadRequest(
            "invalid request",
            {
                field: [
                    "must be a list of positive integers (one sample, no batch dimension) or a list "
                    "of such lists"
                ]
            },
        )
    return value


class Service:
    def __init__(self, config: SandboxConfig) -> None:
        self.sandbox = Sandbox(config)
        self.started = time.time()

    def validate(self, body: dict[str, Any]) -> dict[str, Any]:
        job = {
            "op": "validate",
            "framework": _framework(body),
            "imports": _text(body, "imports"),
            "code": _text(body, "code"),
            "input_shape": _input_shape(body.get("input_shape"), "input_shape"),
        }
        return self.sandbox.run(job, _timeout(body))

    def validate_chain(self, body: dict[str, Any]) -> dict[str, Any]:
        framework = _framework(body)
        models = body.get("models")
        if not isinstance(models, list) or not models:
            raise BadRequest("invalid request", {"models": ["a non-empty list, edge first"]})
        if len(models) > MAX_CHAIN:
            raise BadRequest("invalid request", {"models": [f"at most {MAX_CHAIN} models"]})
        clean = []
        for i, m in enumerate(models):
            if not isinstance(m, dict):
                raise BadRequest("invalid request", {f"models[{i}]": ["must be an object"]})
            name = m.get("name") or f"model {i + 1}"
            clean.append(
                {
                    "name": str(name),
                    "imports": _text(m, "imports", f"models[{i}].imports"),
                    "code": _text(m, "code", f"models[{i}].code"),
                    "input_shape": _input_shape(m.get("input_shape"), f"models[{i}].input_shape"),
                }
            )
        job = {"op": "validate-chain", "framework": framework, "models": clean}
        return self.sandbox.run(job, _timeout(body))

    def validate_kwargs(self, body: dict[str, Any]) -> dict[str, Any]:
        text = body.get("text", body.get("kwargs", ""))
        try:
            parsed = kwargs_mod.parse_kwargs(
                text, body.get("framework", "tensorflow"), body.get("kind", "fit")
            )
        except kwargs_mod.KwargsError as exc:
            return {"ok": False, "error": exc.to_dict()}
        return {"ok": True, "kwargs": json.loads(json.dumps(parsed, default=str))}


def _timeout(body: dict[str, Any]) -> float | None:
    value = body.get("timeout")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise BadRequest("invalid request", {"timeout": ["a positive number of seconds"]})
    return float(value)


class Handler(BaseHTTPRequestHandler):
    server_version = "mlcode-executor/1"
    service: Service  # set by make_server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        sys.stderr.write(f"mlcode_executor: {self.address_string()} {format % args}\n")

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0] in ("/health", "/healthz"):
            health = self.service.sandbox.health()
            status = "ok" if health["ready"] else "starting"
            code = HTTPStatus.OK if health["ready"] else HTTPStatus.SERVICE_UNAVAILABLE
            self._send(code, {"status": status, "sandbox": health})
            return
        self._send(HTTPStatus.NOT_FOUND, {"detail": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        routes = {
            "/validate": self.service.validate,
            "/validate-chain": self.service.validate_chain,
            "/validate-kwargs": self.service.validate_kwargs,
        }
        route = routes.get(self.path.split("?")[0].rstrip("/") or "/")
        if route is None:
            self._send(HTTPStatus.NOT_FOUND, {"detail": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise BadRequest(f"request body larger than {MAX_BODY} bytes")
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                raise BadRequest(f"invalid JSON: {exc}") from None
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            self._send(HTTPStatus.OK, route(body))
        except BadRequest as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"detail": exc.detail, "errors": exc.errors})
        except SandboxUnavailable as exc:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, {"detail": str(exc)})
        except Exception as exc:  # never let one request take the server down
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"detail": f"internal error: {type(exc).__name__}: {exc}"},
            )


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def make_server(host: str, port: int, config: SandboxConfig) -> tuple[Server, Service]:
    service = Service(config)
    handler = type("BoundHandler", (Handler,), {"service": service})
    server = Server((host, port), handler)
    return server, service


def serve(host: str, port: int, config: SandboxConfig) -> None:
    server, service = make_server(host, port, config)
    service.sandbox.start(wait=False)
    bound_port = server.server_address[1]
    print(json.dumps({"event": "listening", "url": f"http://{host}:{bound_port}"}), flush=True)
    threading.Thread(target=_announce_ready, args=(service,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        service.sandbox.stop()


def _announce_ready(service: Service) -> None:
    try:
        service.sandbox.wait_ready(service.sandbox.config.start_timeout_s)
        versions = service.sandbox.health()["versions"]
        print(json.dumps({"event": "ready", "versions": versions}), flush=True)
    except SandboxUnavailable as exc:
        print(json.dumps({"event": "error", "detail": str(exc)}), flush=True)
