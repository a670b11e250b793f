"""Transport-agnostic core of the inference worker: one batch of record values in, the output
records (per ``docs/protocol.md``) out. No Kafka here, so it is tested and benchmarked alone.

Output record (default):  ``{"values": [...], "model_version": V}`` with the input's key and
headers. ``values`` is always first. Distributed (early-exit) sub-models return
``(to_upper, output)``: when ``max(softmax(output)) < limit`` (logits; probabilities as they
are) the record's ``to_upper`` goes to the upper
topic as RAW float32 little-endian bytes; otherwise ``output`` goes to the output topic.
Records that cannot be decoded or predicted go to ``<input topic>.dlq`` unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .runtimes.base import RuntimeUnavailable

# Header names on dead-letter records (values are UTF-8 strings).
DLQ_ERROR_HEADER = "kafkaml.error"
DLQ_TOPIC_HEADER = "kafkaml.source.topic"
DLQ_PARTITION_HEADER = "kafkaml.source.partition"
DLQ_OFFSET_HEADER = "kafkaml.source.offset"
DLQ_SUFFIX = ".dlq"


def dlq_topic(input_topic: str) -> str:
    return f"{input_topic}{DLQ_SUFFIX}"


def dlq_headers(
    headers: Sequence[tuple[str, bytes]] | None, error: str, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    """The input record's headers plus the four naming the error and where the record came from."""
    out = list(headers or ())
    out.append((DLQ_ERROR_HEADER, error.encode("utf-8", "replace")[:4000]))
    out.append((DLQ_TOPIC_HEADER, topic.encode()))
    out.append((DLQ_PARTITION_HEADER, str(partition).encode()))
    out.append((DLQ_OFFSET_HEADER, str(offset).encode()))
    return out


# ---------------------------------------------------------------------------------------------
# output encoding
# ---------------------------------------------------------------------------------------------


def _suffix(extra: Mapping[str, Any] | None) -> bytes:
    """``, "model_version": 3}`` for the extra fields, escaped for %-formatting."""
    if not extra:
        return b"}"
    try:
        key = tuple(extra.items())
        cached = _SUFFIXES.get(key)
    except TypeError:  # unhashable values
        key, cached = None, None
    if cached is None:
        body = json.dumps(dict(extra), separators=(", ", ": "))[1:-1]
        cached = (", " + body + "}").encode().replace(b"%", b"%%")
        if key is not None and len(_SUFFIXES) < 64:
            _SUFFIXES[key] = cached
    return cached


_SUFFIXES: dict = {}


def encode_outputs(values: np.ndarray, extra: Mapping[str, Any] | None = None) -> list[bytes]:
    """One JSON object per row: ``{"values": [...], **extra}`` (bytes, UTF-8).

    float32/float16 are written in scientific notation with the 9 significant digits that
    round-trip, e.g. ``{"values": [2.69887950e-02, 6.14286482e-01]}``,
    built for the whole batch with NumPy (about 1 us a record for ten outputs, most of it
    without the GIL, against 1.5 us for ``%g`` formatting and 3+ us for ``json.dumps``).
    float64 uses Python's shortest repr, integers ``%d``. Non-finite numbers, which JSON
    cannot carry, become ``null``.
    """
    values = np.asarray(values)
    n = values.shape[0] if values.ndim else 0
    if n == 0:
        return []
    rows = values.reshape(n, -1)
    if rows.dtype == np.bool_:
        rows = rows.astype(np.int8)
    suffix = _suffix(extra)
    if rows.shape[1] == 0:
        return [b'{"values": []' + suffix.replace(b"%%", b"%")] * n
    if rows.dtype.kind == "f":
        if not np.isfinite(rows).all():
            return _encode_slow(rows, extra)
        if rows.dtype.itemsize <= 4 and n >= _NUMPY_MIN_ROWS:
            return _encode_floats(rows, 9, suffix)
    if rows.dtype.kind in "iuf":
        # float64: Python's repr is the shortest exact form; small float32 batches: %.9g
        # (exact too) is cheaper than the NumPy encoder's fixed cost (~50 us a call)
        if rows.dtype.kind == "f":
            fmt = b"%r" if rows.dtype.itemsize > 4 else b"%.9g"
        else:
            fmt = b"%d"
        record = b'{"values": [' + b", ".join([fmt] * rows.shape[1]) + b"]" + suffix
        # \n never occurs in the formatted numbers nor in json.dumps output of the extras
        text = (record + b"\n") * n % tuple(rows.ravel().tolist())
        return text.split(b"\n")[:n]
    return _encode_slow(rows, extra)


_NUMPY_MIN_ROWS = 32
_PREFIX = np.frombuffer(b'{"values": [', np.uint8)
_SEP = np.frombuffer(b", ", np.uint8)


def _encode_floats(rows: np.ndarray, digits: int, suffix: bytes) -> list[bytes]:
    """Fixed-width ``[-]d.ddde[+-]XX`` per value, assembled as one byte matrix."""
    n, k = rows.shape
    v = rows.astype(np.float64).ravel()
    a = np.abs(v)
    nonzero = a > 0
    exp = np.zeros(a.shape, np.int64)
    exp[nonzero] = np.floor(np.log10(a[nonzero])).astype(np.int64)
    mant = np.rint(a * np.power(10.0, (digits - 1) - exp)).astype(np.int64)
    # log10 may be off by one next to powers of ten: fix the mantissa's digit count
    high = mant >= 10**digits
    low = nonzero & (mant < 10 ** (digits - 1))
    if high.any() or low.any():
        exp[high] += 1
        exp[low] -= 1
        fix = high | low
        mant[fix] = np.rint(a[fix] * np.power(10.0, (digits - 1) - exp[fix])).astype(np.int64)
    exp_digits = 2 if np.abs(exp).max() < 100 else 3
    signed = bool(np.signbit(v).any())
    width = int(signed) + digits + 1 + 2 + exp_digits  # [-]d.ddd e+XX
    cells = np.empty((n * k, width + 2), np.uint8)  # value + ", "
    col = 0
    if signed:
        cells[:, 0] = np.where(np.signbit(v), ord("-"), ord(" "))
        col = 1
    rest = mant
    for j in range(digits - 1, -1, -1):  # digits right to left
        rest, digit = np.divmod(rest, 10)
        cells[:, col + (j if j == 0 else j + 1)] = digit + 48
    cells[:, col + 1] = ord(".")
    col += digits + 1
    cells[:, col] = ord("e")
    cells[:, col + 1] = np.where(exp < 0, ord("-"), ord("+"))
    rest = np.abs(exp)
    for j in range(exp_digits - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        cells[:, col + 2 + j] = digit + 48
    cells[:, width:] = _SEP
    tail = np.frombuffer(b"]" + suffix.replace(b"%%", b"%"), np.uint8)
    body = k * (width + 2) - 2
    size = len(_PREFIX) + body + len(tail)
    records = np.empty((n, size), np.uint8)
    records[:, : len(_PREFIX)] = _PREFIX
    records[:, len(_PREFIX) : len(_PREFIX) + body] = cells.reshape(n, -1)[:, :body]
    records[:, len(_PREFIX) + body :] = tail
    buf = records.tobytes()
    return [buf[i : i + size] for i in range(0, n * size, size)]


def _encode_slow(rows: np.ndarray, extra: Mapping[str, Any] | None) -> list[bytes]:
    out = []
    for row in rows.tolist():
        clean = [v if not isinstance(v, float) or math.isfinite(v) else None for v in row]
        out.append(json.dumps({"values": clean, **(extra or {})}).encode())
    return out


def encode_upper(to_upper: np.ndarray) -> list[bytes]:
    """Rows of the sub-model's ``to_upper`` output as RAW float32 little-endian bytes."""
    rows = np.ascontiguousarray(np.asarray(to_upper).reshape(len(to_upper), -1), dtype="<f4")
    size = rows.shape[1] * 4
    buf = rows.tobytes()
    return [buf[i : i + size] for i in range(0, len(buf), size)] if size else [b""] * len(rows)


# ---------------------------------------------------------------------------------------------
# one batch
# ---------------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """Where each record of a batch goes. Indices are positions in the batch given."""

    out_index: list[int] = field(default_factory=list)
    out_values: list[bytes] = field(default_factory=list)
    upper_index: list[int] = field(default_factory=list)
    upper_values: list[bytes] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    # shadow mode: the candidate's outputs (to the shadow topic) and how they agree
    shadow_index: list[int] = field(default_factory=list)
    shadow_values: list[bytes] = field(default_factory=list)
    agreement: dict | None = None  # {"records", "equal", "abs_diff_sum", "errors"}
    candidate_answered: int = 0  # canary mode: records answered by the candidate

    @property
    def count(self) -> int:
        return (
            len(self.out_index) + len(self.upper_index) + len(self.errors) + len(self.shadow_index)
        )


@dataclass
class ModelSpec:
    """What the core needs of a loaded model: its runtime and how to route its outputs."""

    runtime: Any  # model_inference.runtimes.Runtime, or None for the echo baseline
    version: Any = None
    distributed: bool = False
    limit: float | None = None  # early-exit threshold (only with an upper topic)
    extra: dict[str, Any] = field(default_factory=dict)  # fields appended to every output
    # "probabilities" | "logits" | None (unknown: values outside [0, 1] mean logits)
    output_kind: str | None = None


def to_probabilities(rows: np.ndarray, kind: str | None = None) -> np.ndarray:
    """Rows of outputs as probabilities: logits through a softmax (one column: the sigmoid),
    probabilities as they are. Unknown ``kind``: logits when any value is outside [0, 1]."""
    rows = np.asarray(rows, dtype=np.float64)
    if kind == "probabilities" or rows.size == 0:
        return rows
    if kind != "logits" and not ((rows < 0) | (rows > 1)).any():
        return rows
    if rows.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-rows))
    shifted = np.exp(rows - rows.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _predict_isolating(runtime, array: np.ndarray, positions: np.ndarray, errors: dict[int, str]):
    """Predict the batch; when it fails, bisect to find the records that fail alone.

    Returns ``(outputs, kept_positions)`` where ``outputs`` are the runtime's outputs for the
    kept records (possibly assembled from pieces).
    """
    try:
        return runtime.predict(array), positions
    except RuntimeUnavailable:  # the batch is read again later: no record is to blame
        raise
    except Exception as exc:  # noqa: BLE001 - a model error must not stop the worker
        if len(array) == 1:
            errors[int(positions[0])] = f"prediction failed: {type(exc).__name__}: {exc}"
            return None, positions[:0]
    mid = len(array) // 2
    left, lpos = _predict_isolating(runtime, array[:mid], positions[:mid], errors)
    right, rpos = _predict_isolating(runtime, array[mid:], positions[mid:], errors)
    if left is None:
        return right, rpos
    if right is None:
        return left, lpos
    return [np.concatenate([a, b]) for a, b in zip(left, right, strict=True)], np.concatenate(
        [lpos, rpos]
    )


def process_batch(
    values: Sequence[bytes | None],
    codec: Any,
    model: ModelSpec,
    *,
    route_upper: bool = False,
    keys: Sequence[bytes | None] | None = None,
    candidate: Candidate | None = None,
) -> BatchResult:
    """Decode the batch at once, predict once, and encode/route every record.

    ``route_upper`` is true when the deployment has an upper topic and a limit.
    ``candidate``: a second model version (shadow or canary, see :class:`Candidate`);
    canary needs the records' ``keys``.
    """
    result = BatchResult()
    if model.runtime is None:  # echo baseline: no decode, no model
        result.out_index = list(range(len(values)))
        result.out_values = list(values)
        return result
    decoded = codec.decode_batch_partial(values)
    if candidate is not None and candidate.model.runtime is not None:
        return _process_with_candidate(decoded, model, candidate, route_upper, keys)
    errors = dict(decoded.errors)
    positions = np.asarray(decoded.indices, dtype=np.int64)
    if len(positions):
        outputs, positions = _predict_isolating(model.runtime, decoded.array, positions, errors)
    else:
        outputs = None
    if outputs is not None and len(positions):
        try:
            _route(outputs, positions, model, route_upper, result)
        except Exception as exc:  # noqa: BLE001 - e.g. a model whose outputs do not fit
            reason = f"output could not be encoded: {type(exc).__name__}: {exc}"
            result = BatchResult()
            errors.update({int(p): reason for p in positions})
    result.errors = errors
    return result


def _route(outputs, positions: np.ndarray, model: ModelSpec, route_upper: bool, result) -> None:
    if model.distributed:
        if len(outputs) < 2:
            raise ValueError(
                f"a distributed sub-model must return (to_upper, output), got {len(outputs)}"
            )
        to_upper, output = outputs[0], outputs[1]
    else:
        to_upper, output = None, outputs[0]
    output = np.asarray(output)
    if output.ndim == 0 or output.shape[0] != len(positions):
        raise ValueError(f"model output shape {output.shape} does not match {len(positions)} rows")
    flat = output.reshape(len(positions), -1)
    if route_upper and to_upper is not None and model.limit is not None:
        # the limit is a probability: compare it with the highest class probability
        if flat.shape[1]:
            confident = to_probabilities(flat, model.output_kind).max(axis=1) >= model.limit
        else:
            confident = np.ones(len(flat), bool)
        if not confident.all():
            up = ~confident
            result.upper_index = positions[up].tolist()
            result.upper_values = encode_upper(np.asarray(to_upper)[up])
            flat = flat[confident]
            positions = positions[confident]
    result.out_index = positions.tolist()
    result.out_values = encode_outputs(flat, model.extra)


# ---------------------------------------------------------------------------------------------
# shadow and canary: a second model version on the same input
# ---------------------------------------------------------------------------------------------

SHADOW = "shadow"
CANARY = "canary"
CANDIDATE_MODES = (SHADOW, CANARY)


@dataclass
class Candidate:
    """A second model version next to the primary.

    * ``shadow``: every record is predicted by both; the primary answers on the output topic,
      the candidate's outputs go to the shadow topic; their agreement is measured per batch;
    * ``canary``: the records whose key hashes below ``share`` (:func:`canary_mask`) are
      answered by the candidate instead of the primary, on the output topic.
    """

    model: ModelSpec
    mode: str = SHADOW
    share: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in CANDIDATE_MODES:
            raise ValueError(f"candidate mode must be one of {', '.join(CANDIDATE_MODES)}")
        if not 0.0 <= float(self.share) <= 1.0:
            raise ValueError("canary share must be within [0, 1]")


def canary_bucket(key: bytes | str | None) -> float:
    """A record key's place in [0, 1): the first 8 bytes of its BLAKE2b digest. Deterministic
    across replicas, restarts and languages; a key keeps its model while the share stays."""
    import hashlib

    if key is None:
        key = b""
    elif isinstance(key, str):
        key = key.encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def canary_mask(keys: Sequence[bytes | str | None], share: float) -> np.ndarray:
    """True for the keys answered by the canary (bucket below ``share``)."""
    if share <= 0 or not len(keys):
        return np.zeros(len(keys), bool)
    return np.fromiter((canary_bucket(k) < share for k in keys), bool, len(keys))


def _served(outputs, model: ModelSpec) -> np.ndarray:
    out = outputs[1] if model.distributed and len(outputs) > 1 else outputs[0]
    out = np.asarray(out)
    return out.reshape(len(out), -1) if out.ndim else out


def agreement(primary: np.ndarray, shadow: np.ndarray, kind_p=None, kind_s=None) -> dict:
    """Rows of two models' outputs on the same records: how many predict the same class
    (argmax; one column: probability >= 0.5) and the sum over records of the mean absolute
    difference of their values."""
    p = np.asarray(primary, dtype=np.float64).reshape(len(primary), -1)
    s = np.asarray(shadow, dtype=np.float64).reshape(len(shadow), -1)
    if p.shape != s.shape:
        return {"records": len(p), "equal": 0, "abs_diff_sum": float(len(p)), "errors": 0}
    if p.shape[1] == 1:
        equal = (to_probabilities(p, kind_p) >= 0.5) == (to_probabilities(s, kind_s) >= 0.5)
        equal = equal[:, 0]
    else:
        equal = p.argmax(axis=1) == s.argmax(axis=1)
    diff = np.abs(p - s).mean(axis=1) if p.shape[1] else np.zeros(len(p))
    return {
        "records": len(p),
        "equal": int(equal.sum()),
        "abs_diff_sum": float(diff.sum()),
        "errors": 0,
    }


def _merge(into: BatchResult, part: BatchResult) -> None:
    into.out_index += part.out_index
    into.out_values += part.out_values
    into.upper_index += part.upper_index
    into.upper_values += part.upper_values


def _process_with_candidate(decoded, model, candidate: Candidate, route_upper, keys):
    result = BatchResult()
    errors = dict(decoded.errors)
    positions = np.asarray(decoded.indices, dtype=np.int64)
    array = decoded.array
    if not len(positions):
        result.errors = errors
        return result
    if candidate.mode == CANARY:
        if keys is None:
            raise ValueError("canary needs the records' keys")
        mask = canary_mask([keys[int(p)] for p in positions], candidate.share)
        for spec, sel in ((model, ~mask), (candidate.model, mask)):
            if not sel.any():
                continue
            outputs, kept = _predict_isolating(spec.runtime, array[sel], positions[sel], errors)
            if outputs is None or not len(kept):
                continue
            part = BatchResult()
            try:
                _route(outputs, kept, spec, route_upper, part)
            except Exception as exc:  # noqa: BLE001
                reason = f"output could not be encoded: {type(exc).__name__}: {exc}"
                errors.update({int(p): reason for p in kept})
                continue
            _merge(result, part)
            if spec is candidate.model:
                result.candidate_answered = len(kept)
        result.errors = errors
        return result
    # shadow: the primary answers as always; the candidate's failures are counted, never DLQ'd
    outputs, kept = _predict_isolating(model.runtime, array, positions, errors)
    if outputs is not None and len(kept):
        try:
            _route(outputs, kept, model, route_upper, result)
        except Exception as exc:  # noqa: BLE001
            reason = f"output could not be encoded: {type(exc).__name__}: {exc}"
            result = BatchResult()
            errors.update({int(p): reason for p in kept})
            outputs = None
    result.errors = errors
    try:
        shadow_out = _served(candidate.model.runtime.predict(array), candidate.model)
        if len(shadow_out) != len(positions):
            raise ValueError(f"shadow output shape {shadow_out.shape}")
    except Exception:  # noqa: BLE001 - the shadow never disturbs the primary
        result.agreement = {"records": 0, "equal": 0, "abs_diff_sum": 0.0, "errors": len(positions)}
        return result
    result.shadow_index = positions.tolist()
    result.shadow_values = encode_outputs(shadow_out, candidate.model.extra)
    if outputs is not None and len(kept):
        rows = np.searchsorted(positions, kept)
        result.agreement = agreement(
            _served(outputs, model),
            shadow_out[rows],
            model.output_kind,
            candidate.model.output_kind,
        )
    else:
        result.agreement = {"records": 0, "equal": 0, "abs_diff_sum": 0.0, "errors": 0}
    return result
