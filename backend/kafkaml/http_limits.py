"""A cap on request bodies, enforced before Django reads one: a body declared too large is
refused at once (413) without reading it, and a body that streams past the cap (chunked, or
longer than declared) is cut off. Only the workers' artifact uploads (``/api/v1/worker/``)
get the larger ``KAFKAML_MAX_UPLOAD_BYTES``; everything else ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

from __future__ import annotations

import json

from django.conf import settings

UPLOAD_PREFIX = "/api/v1/worker/"


class _TooLarge(Exception):
    pass


def body_cap(path: str) -> int:
    if path.startswith(UPLOAD_PREFIX):
        return settings.KAFKAML_MAX_UPLOAD_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail, "errors": {}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cap = body_cap(scope.get("path", ""))
        too_large = f"The request body is larger than {cap} bytes."
        declared = [v for k, v in scope.get("headers", []) if k.lower() == b"content-length"]
        if declared:
            value = declared[0].strip()
            if not value.isdigit():
                return await _refuse(send, 400, "Invalid Content-Length.")
            if int(value) > cap:
                return await _refuse(send, 413, too_large)

        received = 0
        started = False

        async def capped_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise _TooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            return await self.app(scope, capped_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _refuse(send, 413, too_large)
