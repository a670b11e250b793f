"""The wire between the service and its zygote (one Unix-socket connection per job): length-
prefixed JSON messages, and the shape of an error answer. Both sides import this module; it
imports nothing of either."""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

MAX_MESSAGE = 16 * 1024 * 1024


def send_msg(sock: socket.socket, obj: Any) -> None:
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack(">I", len(data)) + data)


def recv_msg(sock: socket.socket) -> Any:
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    if size > MAX_MESSAGE:
        raise ValueError(f"message too large ({size} bytes)")
    body = _recv_exact(sock, size)
    if body is None:
        return None
    return json.loads(body)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def error(type_: str, message: str, kind: str, **extra: Any) -> dict[str, Any]:
    """``{"ok": False, "error": {...}}`` with every field a user-code error has."""
    err = {
        "type": type_,
        "message": message,
        "line": None,
        "column": None,
        "source_line": None,
        "section": None,
        "kind": kind,
        "trace": [],
    }
    err.update(extra)
    return {"ok": False, "error": err}


def tail(path: str, cap: int) -> str:
    """The last ``cap`` bytes of a file, marked when cut."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - cap))
            data = f.read(cap)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    if size > cap:
        text = f"[... {size - cap} bytes cut ...]\n" + text
    return text


def cpu_limit(limits: dict[str, Any]) -> int:
    """CPU seconds a validation may use: a backstop behind the wall-clock timer (which names
    the running line). TensorFlow's start-up threads count as CPU time too, so by default it
    sits well above the timeout; ``--cpu`` sets it explicitly."""
    if limits.get("cpu_s"):
        return max(1, int(limits["cpu_s"]))
    return max(1, int(float(limits["timeout_s"]) * 2 + 5))
