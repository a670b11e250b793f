"""What the coordinator and the sites send each other over Kafka.

Every message is an ``.npz`` archive (``numpy.savez``, never pickled): the weight arrays
``w0 … wN`` in order, and ``meta``, a JSON document as UTF-8 bytes. Both topics live in the
owner's namespace: ``<prefix>fed-<deployment>-global`` (coordinator → sites: ``kind`` ``init``,
``round`` or ``end``) and ``<prefix>fed-<deployment>-updates`` (sites → coordinator: ``kind``
``announce``, ``init`` or ``update``).
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

MAX_MESSAGE_BYTES = 64 << 20


def topics(deployment: str | int, prefix: str = "") -> tuple[str, str]:
    """``(global, updates)`` topic names of a federated deployment in ``prefix``'s namespace."""
    base = f"{prefix}fed-{deployment}"
    return f"{base}-global", f"{base}-updates"


def encode(meta: dict[str, Any], weights: list[np.ndarray] | None = None) -> bytes:
    arrays = {f"w{i}": np.ascontiguousarray(w) for i, w in enumerate(weights or [])}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def decode(data: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValueError(f"federated message of {len(data)} bytes is over the limit")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        meta = json.loads(bytes(npz["meta"]).decode())
        n = sum(1 for k in npz.files if k.startswith("w"))
        weights = [npz[f"w{i}"] for i in range(n)]
    if not isinstance(meta, dict):
        raise ValueError("federated message without a JSON object header")
    return meta, weights


def save_weights(path, weights: list[np.ndarray]) -> None:
    np.savez(path, **{f"w{i}": np.ascontiguousarray(w) for i, w in enumerate(weights)})


def load_weights(path) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return [npz[f"w{i}"] for i in range(len(npz.files))]
