"""HTTP API of the validation service (stdlib ``ThreadingHTTPServer``).

Every request but ``GET /health`` carries ``Authorization: Bearer <MLCODE_EXECUTOR_SECRET>``
(401 otherwise, before the body is read) and names the user it is made for in
``X-Kafkaml-User`` (the fair queue's key). ``GET /health`` answers anyone with the status only;
with the secret it adds the sandbox's details.

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

import hmac
import json
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mlcode_executor import kwargs as kwargs_mod
from mlcode_executor.frameworks import normalize_framework
from mlcode_executor.sandbox import Sandbox, SandboxConfig, SandboxUnavailable

MAX_BODY = 1024 * 1024
USER_HEADER = "X-Kafkaml-User"
MAX_CODE = 200_000
MAX_CHAIN = 16


class BadRequest(Exception):
    status = HTTPStatus.BAD_REQUEST

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class TooLarge(BadRequest):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def content_length(value: str | None) -> int:
    """The body size a request announces, checked before anything is read: a missing header
    is an empty body; anything but a plain decimal in [0, MAX_BODY] is refused."""
    if value is None or value.strip() == "":
        return 0
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise BadRequest("invalid Content-Length")
    if len(text) > 12 or int(text) > MAX_BODY:
        raise TooLarge(f"request body larger than {MAX_BODY} bytes")
    return int(text)


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
    def __init__(self, config: SandboxConfig, secret: str | None = None) -> None:
        self.sandbox = Sandbox(config)
        self.started = time.time()
        self.secret = secret or None

    def authorized(self, header: str | None) -> bool:
        if self.secret is None:  # make_server refuses to start without one
            return False
        expected = f"Bearer {self.secret}".encode()
        return hmac.compare_digest((header or "").encode(), expected)

    def validate(self, body: dict[str, Any], user: str = "") -> dict[str, Any]:
        job = {
            "op": "validate",
            "framework": _framework(body),
            "imports": _text(body, "imports"),
            "code": _text(body, "code"),
            "input_shape": _input_shape(body.get("input_shape"), "input_shape"),
        }
        return self.sandbox.run(job, _timeout(body), user)

    def validate_chain(self, body: dict[str, Any], user: str = "") -> dict[str, Any]:
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
        return self.sandbox.run(job, _timeout(body), user)

    def validate_kwargs(self, body: dict[str, Any], user: str = "") -> dict[str, Any]:
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
    timeout = 30  # a client that announces a body and never sends it

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        sys.stderr.write(f"mlcode_executor: {self.address_string()} {format % args}\n")

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, payload: dict[str, Any]) -> None:
        """Answer without reading the body, and close: the unread bytes must not be taken for
        the next request on this connection."""
        self.close_connection = True
        data = json.dumps(payload).encode()
        self.send_response(status)
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Bearer realm="mlcode-executor"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        return self.service.authorized(self.headers.get("Authorization"))

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0] in ("/health", "/healthz"):
            health = self.service.sandbox.health()
            status = "ok" if health["ready"] else "starting"
            code = HTTPStatus.OK if health["ready"] else HTTPStatus.SERVICE_UNAVAILABLE
            payload: dict[str, Any] = {"status": status}
            if self._authorized():
                payload["sandbox"] = health
                payload["authenticated"] = self.service.secret is not None
            self._send(code, payload)
            return
        if not self._authorized():
            self._refuse(HTTPStatus.UNAUTHORIZED, {"detail": "authentication required"})
            return
        self._send(HTTPStatus.NOT_FOUND, {"detail": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if not self._authorized():
            self._refuse(HTTPStatus.UNAUTHORIZED, {"detail": "authentication required"})
            return
        routes = {
            "/validate": self.service.validate,
            "/validate-chain": self.service.validate_chain,
            "/validate-kwargs": self.service.validate_kwargs,
        }
        route = routes.get(self.path.split("?")[0].rstrip("/") or "/")
        if route is None:
            self._refuse(HTTPStatus.NOT_FOUND, {"detail": "not found"})
            return
        try:
            if self.headers.get("Transfer-Encoding"):
                raise BadRequest("Transfer-Encoding is not supported; send a Content-Length")
            lengths = self.headers.get_all("Content-Length") or []
            if len(set(lengths)) > 1:
                raise BadRequest("conflicting Content-Length headers")
            length = content_length(lengths[0] if lengths else None)
        except BadRequest as exc:
            self._refuse(exc.status, {"detail": exc.detail, "errors": exc.errors})
            return
        user = (self.headers.get(USER_HEADER) or "").strip()[:64]
        try:
            raw = self.rfile.read(length) if length else b""
            if len(raw) != length:
                raise BadRequest("the body is shorter than its Content-Length")
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                raise BadRequest(f"invalid JSON: {exc}") from None
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            self._send(HTTPStatus.OK, route(body, user))
        except BadRequest as exc:
            self._send(exc.status, {"detail": exc.detail, "errors": exc.errors})
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


def make_server(
    host: str, port: int, config: SandboxConfig, secret: str | None = None
) -> tuple[Server, Service]:
    if not secret:
        raise SystemExit(
            "mlcode_executor: refusing to start without MLCODE_EXECUTOR_SECRET (every caller "
            "must authenticate; `kafkaml up` generates one per run)"
        )
    service = Service(config, secret)
    handler = type("BoundHandler", (Handler,), {"service": service})
    server = Server((host, port), handler)
    return server, service


def serve(host: str, port: int, config: SandboxConfig, secret: str | None = None) -> None:
    server, service = make_server(host, port, config, secret)
    caps = service.sandbox.health()["jail"]
    if not caps["complete"]:
        sys.stderr.write(
            "mlcode_executor: the sandbox is incomplete (single-user mode): "
            + "; ".join(caps["missing"])
            + "\n"
        )
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
