"""Record codecs: the one place that turns samples into Kafka record bytes and back.

Every part of the platform that reads or writes training/inference records goes through this
module (sinks, the training worker, the inference worker), so the three formats of the wire
protocol (``docs/protocol.md``) have exactly one implementation:

``RAW``
    value = the sample's bytes, C order, little-endian; key = the label's bytes.
    ``input_config``: ``data_type``, ``label_type``, ``data_reshape``, ``label_reshape``.
``AVRO``
    value / key = schemaless Avro binary of one record (no container header).
    ``input_config``: ``data_scheme``, ``label_scheme`` (schema JSON, string or object).
    The sample's features are the record's fields in schema order.
``JSON``
    value = a JSON array (nested for tensors) or an object; key = the label as JSON.
    ``input_config``: ``data_reshape``, ``fields`` (key order for objects), optional
    ``data_type`` / ``label_type``.
``TELEGRAF_STR_JSON``
    value = one metric of Telegraf's JSON output (``{"fields": {...}, "name", "tags",
    "timestamp"}``); the sample is the vector of the configured ``fields``; key as ``JSON``.
    ``input_config``: ``fields``, optional ``name``, ``data_type``, ``data_reshape``.

Usage::

    codec = get_codec("RAW", {"data_type": "uint8", "data_reshape": "28 28", "label_type": "uint8"})
    value = codec.encode(image)             # bytes
    batch = codec.decode_batch(values)      # ndarray (N, 28, 28), raises RecordDecodeError
    part = codec.decode_batch_partial(values)  # DecodedBatch(array, indices, errors)
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "AvroCodec",
    "Codec",
    "DecodedBatch",
    "JsonCodec",
    "RawCodec",
    "RecordDecodeError",
    "TelegrafJsonCodec",
    "available_formats",
    "get_codec",
    "parse_dtype",
    "parse_shape",
    "register_codec",
]

# ---------------------------------------------------------------------------------------------
# errors and results
# ---------------------------------------------------------------------------------------------


class RecordDecodeError(ValueError):
    """One record of a batch could not be decoded.

    ``index`` is the record's position in the batch given to ``decode_batch`` / ``decode_labels``
    and ``reason`` says what is wrong with it.
    """

    def __init__(self, index: int, reason: str):
        self.index = index
        self.reason = reason
        super().__init__(f"record {index}: {reason}")

    def __reduce__(self):  # keep it picklable across processes
        return (type(self), (self.index, self.reason))


@dataclass
class DecodedBatch:
    """Result of a lenient decode.

    ``array`` stacks the records that decoded (in their original order), ``indices`` gives the
    position of each of them in the input, ``errors`` maps the position of each bad record to
    the reason.
    """

    array: np.ndarray
    indices: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def ok(self) -> bool:
        return not self.errors


# ---------------------------------------------------------------------------------------------
# dtype and shape parsing
# ---------------------------------------------------------------------------------------------

DTYPE_ALIASES = {
    "half": "float16",
    "float": "float32",
    "double": "float64",
    "single": "float32",
    "boolean": "bool",
    "bool_": "bool",
}


def parse_dtype(name: Any, *, what: str = "data_type") -> np.dtype:
    """A protocol dtype name (``uint8``, ``float32``, ``float`` = float32, ...) to a NumPy dtype.

    Only numeric and boolean types are accepted. The result is in native byte order.
    """
    if isinstance(name, np.dtype):
        dtype = name
    else:
        if isinstance(name, type) and issubclass(name, np.generic):
            key = np.dtype(name).name
        else:
            key = str(name).strip()
        key = DTYPE_ALIASES.get(key.lower(), key)
        try:
            dtype = np.dtype(key)
        except TypeError as exc:
            raise ValueError(f"{what}: unknown dtype {name!r}") from exc
    if dtype.kind not in "biuf":
        raise ValueError(f"{what}: dtype {name!r} is not numeric (expected e.g. uint8, float32)")
    return dtype.newbyteorder("=")


def dtype_name(dtype: np.dtype) -> str:
    """The protocol name of a dtype (``np.dtype('float32')`` -> ``"float32"``)."""
    return np.dtype(dtype).newbyteorder("=").name


def parse_shape(spec: Any, *, what: str = "data_reshape") -> tuple[int, ...] | None:
    """``"28 28"`` -> ``(28, 28)``; empty or ``None`` -> ``None`` (undeclared).

    Lists/tuples of ints are accepted as well; commas and brackets are tolerated
    (``"(28, 28)"``).
    """
    if spec is None:
        return None
    if isinstance(spec, int | np.integer):
        dims = [int(spec)]
    elif isinstance(spec, list | tuple):
        dims = [int(d) for d in spec]
    else:
        text = str(spec).strip().strip("()[]").replace(",", " ")
        if not text:
            return None
        try:
            dims = [int(d) for d in text.split()]
        except ValueError as exc:
            raise ValueError(f"{what}: {spec!r} is not a list of dimensions like '28 28'") from exc
    if not dims:
        return None
    if any(d <= 0 for d in dims):
        raise ValueError(f"{what}: dimensions must be positive, got {spec!r}")
    return tuple(dims)


def shape_to_string(shape: Sequence[int]) -> str:
    """``(28, 28)`` -> ``"28 28"``; ``()`` -> ``""``."""
    return " ".join(str(int(d)) for d in shape)


def _config(input_config: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if input_config is None:
        return {}
    if isinstance(input_config, str | bytes):
        text = input_config.strip() if isinstance(input_config, str) else input_config
        if not text:
            return {}
        try:
            input_config = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"input_config is not valid JSON: {exc}") from exc
    if not isinstance(input_config, Mapping):
        raise ValueError(f"input_config must be an object, got {type(input_config).__name__}")
    return dict(input_config)


def _as_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return None


# ---------------------------------------------------------------------------------------------
# base class
# ---------------------------------------------------------------------------------------------


class Codec:
    """Encode samples/labels to record bytes and decode batches of records.

    Subclasses implement ``encode``, ``encode_label``, ``_decode_one`` and ``_decode_label_one``;
    ``RawCodec`` overrides the batch methods with vectorised versions.
    """

    format: str = ""

    def __init__(self, input_config: Mapping[str, Any] | str | None = None):
        self.input_config: dict[str, Any] = _config(input_config)

    # -- what one decoded sample looks like ------------------------------------------------
    sample_shape: tuple[int | None, ...] = ()
    dtype: np.dtype = np.dtype("float32")
    label_shape: tuple[int | None, ...] = ()
    label_dtype: np.dtype | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.input_config!r}>"

    # -- encoding ----------------------------------------------------------------------------
    def encode(self, sample: Any) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode_label(self, label: Any) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- decoding ----------------------------------------------------------------------------
    def decode(self, value: bytes) -> np.ndarray:
        """Decode one record value (raises ``RecordDecodeError`` with index 0)."""
        return self.decode_batch([value])[0]

    def _decode_one(self, value: bytes) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decode_label_one(self, key: bytes) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _empty(self, shape: tuple[int | None, ...], dtype: np.dtype) -> np.ndarray:
        return np.empty((0, *[d if d is not None else 0 for d in shape]), dtype=dtype)

    @staticmethod
    def _stack(
        items: list[tuple[int, np.ndarray]],
    ) -> tuple[list[tuple[int, np.ndarray]], dict[int, str]]:
        """Keep the items whose shape matches the batch's (most common) shape."""
        errors: dict[int, str] = {}
        if not items:
            return items, errors
        shapes = Counter(arr.shape for _, arr in items)
        target = shapes.most_common(1)[0][0]
        kept = []
        for index, arr in items:
            if arr.shape != target:
                errors[index] = f"shape {arr.shape} differs from the batch's shape {target}"
            else:
                kept.append((index, arr))
        return kept, errors

    def _generic_batch(self, values, one: Callable[[Any], np.ndarray], dtype, shape, strict):
        items: list[tuple[int, np.ndarray]] = []
        errors: dict[int, str] = {}
        for index, value in enumerate(values):
            try:
                items.append((index, one(value)))
            except RecordDecodeError as exc:
                if strict:
                    raise RecordDecodeError(index, exc.reason) from None
                errors[index] = exc.reason
            except Exception as exc:  # noqa: BLE001 - any parse error marks the record bad
                reason = f"{type(exc).__name__}: {exc}"
                if strict:
                    raise RecordDecodeError(index, reason) from exc
                errors[index] = reason
        kept, shape_errors = self._stack(items)
        if shape_errors and strict:
            index = min(shape_errors)
            raise RecordDecodeError(index, shape_errors[index])
        errors.update(shape_errors)
        if kept:
            array = np.stack([arr for _, arr in kept])
            if dtype is not None:
                array = array.astype(dtype, copy=False)
        else:
            array = self._empty(shape, dtype if dtype is not None else np.dtype("float32"))
        indices = np.fromiter((i for i, _ in kept), dtype=np.int64, count=len(kept))
        return DecodedBatch(array, indices, dict(sorted(errors.items())))

    def decode_batch(self, values: Sequence[bytes]) -> np.ndarray:
        """Decode every record; the first bad one raises ``RecordDecodeError(index, reason)``."""
        return self._generic_batch(
            values, self._decode_one, self.dtype, self.sample_shape, True
        ).array

    def decode_batch_partial(self, values: Sequence[bytes]) -> DecodedBatch:
        """Decode what can be decoded; bad records are reported in ``errors``."""
        return self._generic_batch(values, self._decode_one, self.dtype, self.sample_shape, False)

    def decode_labels(self, keys: Sequence[bytes]) -> np.ndarray:
        """Decode record keys as labels (strict)."""
        dtype = self.label_dtype if self.label_dtype is not None else np.dtype("float32")
        batch = self._generic_batch(keys, self._decode_label_one, dtype, self.label_shape, True)
        return batch.array


# ---------------------------------------------------------------------------------------------
# RAW
# ---------------------------------------------------------------------------------------------


def _cast_checked(arr: np.ndarray, dtype: np.dtype, what: str) -> np.ndarray:
    """Cast ``arr`` to ``dtype`` when no value changes (float narrowing is allowed)."""
    if arr.dtype == dtype:
        return arr
    if np.can_cast(arr.dtype, dtype, casting="safe"):
        return arr.astype(dtype)
    if arr.dtype.kind == "f" and dtype.kind == "f":
        return arr.astype(dtype)
    if arr.dtype.kind in "biu" and dtype.kind in "biuf":
        cast = arr.astype(dtype)
        if np.array_equal(cast, arr):
            return cast
        raise ValueError(f"{what}: values of dtype {arr.dtype} do not fit in {dtype}")
    raise ValueError(f"{what}: dtype {arr.dtype} cannot be sent as {dtype} without losing values")


class RawCodec(Codec):
    """Fixed-size little-endian C-order tensors (see module docstring)."""

    format = "RAW"

    def __init__(self, input_config: Mapping[str, Any] | str | None = None):
        super().__init__(input_config)
        cfg = self.input_config
        if cfg.get("data_type") in (None, ""):
            raise ValueError("RAW input_config needs data_type (e.g. 'uint8', 'float32')")
        self.dtype = parse_dtype(cfg["data_type"], what="data_type")
        self.wire_dtype = self.dtype.newbyteorder("<")
        declared = parse_shape(cfg.get("data_reshape"), what="data_reshape")
        self._declared_shape = declared
        # Undeclared shape: every record is a flat vector whose length is read from the bytes.
        self.sample_shape = declared if declared is not None else (None,)
        self.record_size = (
            math.prod(declared) * self.dtype.itemsize if declared is not None else None
        )

        label_type = cfg.get("label_type")
        self.label_dtype = (
            parse_dtype(label_type, what="label_type") if label_type not in (None, "") else None
        )
        label_shape = parse_shape(cfg.get("label_reshape"), what="label_reshape")
        # Original Kafka-ML sinks announce "1" for a scalar label: decode it as a scalar.
        if label_shape == (1,):
            label_shape = ()
        self._declared_label_shape = label_shape
        self.label_shape = label_shape if label_shape is not None else ()

    # -- encoding ----------------------------------------------------------------------------
    def encode(self, sample: Any) -> bytes:
        arr = np.asarray(sample)
        arr = _cast_checked(arr, self.dtype, "data")
        if self._declared_shape is not None and arr.size != math.prod(self._declared_shape):
            raise ValueError(
                f"data: sample has {arr.size} values, data_reshape {self._declared_shape} "
                f"needs {math.prod(self._declared_shape)}"
            )
        return arr.astype(self.wire_dtype, order="C", copy=False).tobytes(order="C")

    def encode_label(self, label: Any) -> bytes:
        arr = np.asarray(label)
        dtype = self.label_dtype if self.label_dtype is not None else arr.dtype
        if dtype.kind not in "biuf":
            raise ValueError(f"label: dtype {arr.dtype} is not numeric")
        arr = _cast_checked(arr, dtype, "label")
        return arr.astype(dtype.newbyteorder("<"), copy=False).tobytes(order="C")

    # -- decoding ----------------------------------------------------------------------------
    def _lengths(self, values: Sequence[Any]) -> list[int]:
        lengths = []
        for v in values:
            try:
                lengths.append(len(v) if v is not None else -1)
            except TypeError:
                lengths.append(-1)
        return lengths

    def _vector_batch(
        self,
        values: Sequence[Any],
        dtype: np.dtype,
        record_size: int | None,
        shape: tuple[int, ...] | None,
        strict: bool,
        flat_scalar: bool,
        what: str,
    ) -> DecodedBatch:
        """Decode fixed-size records: one join + frombuffer; per-record checks only on misfits."""
        n = len(values)
        lengths = self._lengths(values)
        itemsize = dtype.itemsize
        if record_size is None:
            # Undeclared shape: the batch's most common valid length is the record size.
            valid = [x for x in lengths if x > 0 and x % itemsize == 0]
            record_size = Counter(valid).most_common(1)[0][0] if valid else itemsize
        errors: dict[int, str] = {}
        if any(x != record_size for x in lengths):
            for i, x in enumerate(lengths):
                if x == record_size:
                    continue
                if x < 0:
                    reason = f"{what} is missing (null)" if values[i] is None else "not bytes"
                elif x % itemsize:
                    reason = f"{what} has {x} bytes, not a multiple of {dtype.name}'s {itemsize}"
                else:
                    reason = f"{what} has {x} bytes, expected {record_size}"
                if strict:
                    raise RecordDecodeError(i, reason)
                errors[i] = reason
            good = [i for i, x in enumerate(lengths) if x == record_size]
            chunks = [values[i] for i in good]
            indices = np.asarray(good, dtype=np.int64)
        else:
            chunks = values
            indices = np.arange(n, dtype=np.int64)
        count = len(chunks)
        try:
            joined = bytearray().join(chunks)  # one copy, writable result
        except TypeError:
            joined = bytearray().join(bytes(c) for c in chunks)
        wire = dtype.newbyteorder("<")
        flat = np.frombuffer(joined, dtype=wire, count=count * (record_size // itemsize))
        if not wire.isnative:  # pragma: no cover - big-endian host
            flat = flat.astype(dtype)
        if shape is not None:
            out_shape = (count, *shape)
        elif flat_scalar and record_size == itemsize:
            out_shape = (count,)
        else:
            out_shape = (count, record_size // itemsize)
        return DecodedBatch(flat.reshape(out_shape), indices, errors)

    def decode_batch(self, values: Sequence[bytes]) -> np.ndarray:
        return self._vector_batch(
            values, self.dtype, self.record_size, self._declared_shape, True, False, "value"
        ).array

    def decode_batch_partial(self, values: Sequence[bytes]) -> DecodedBatch:
        return self._vector_batch(
            values, self.dtype, self.record_size, self._declared_shape, False, False, "value"
        )

    def decode_labels(self, keys: Sequence[bytes]) -> np.ndarray:
        if self.label_dtype is None:
            raise ValueError("RAW input_config has no label_type: labels cannot be decoded")
        shape = self._declared_label_shape
        size = math.prod(shape) * self.label_dtype.itemsize if shape is not None else None
        return self._vector_batch(keys, self.label_dtype, size, shape, True, True, "key").array


# ---------------------------------------------------------------------------------------------
# AVRO
# ---------------------------------------------------------------------------------------------

_AVRO_INT_TYPES = {"int", "long"}
_AVRO_FLOAT_TYPES = {"float", "double"}
_AVRO_NUMERIC = _AVRO_INT_TYPES | _AVRO_FLOAT_TYPES | {"boolean"}


def _load_schema(spec: Any, what: str) -> dict[str, Any] | None:
    if spec in (None, ""):
        return None
    if isinstance(spec, str | bytes):
        try:
            spec = json.loads(spec)
        except ValueError as exc:
            raise ValueError(f"{what} is not valid Avro schema JSON: {exc}") from exc
    if not isinstance(spec, Mapping):
        raise ValueError(f"{what} must be an Avro record schema (a JSON object)")
    if spec.get("type") != "record":
        raise ValueError(f"{what}: the schema's type must be 'record', got {spec.get('type')!r}")
    return dict(spec)


def _field_kind(ftype: Any) -> tuple[str, str | None]:
    """('scalar'|'array'|'other', base type) of an Avro field type (nullable unions unwrapped)."""
    if isinstance(ftype, list):
        non_null = [t for t in ftype if t != "null"]
        if len(non_null) == 1:
            return _field_kind(non_null[0])
        return "other", None
    if isinstance(ftype, Mapping):
        if ftype.get("type") == "array":
            kind, base = _field_kind(ftype.get("items"))
            return ("array", base) if kind == "scalar" else ("other", None)
        if "logicalType" in ftype or ftype.get("type") in _AVRO_NUMERIC:
            return _field_kind(ftype.get("type"))
        return "other", None
    if ftype in _AVRO_NUMERIC:
        return "scalar", ftype
    return "other", None


class AvroCodec(Codec):
    """Schemaless Avro records; features = numeric fields in schema order."""

    format = "AVRO"

    def __init__(self, input_config: Mapping[str, Any] | str | None = None):
        super().__init__(input_config)
        import fastavro

        self._fastavro = fastavro
        cfg = self.input_config
        data_schema = _load_schema(cfg.get("data_scheme"), "data_scheme")
        if data_schema is None:
            raise ValueError("AVRO input_config needs data_scheme (an Avro record schema)")
        self.data_schema = data_schema
        self._data_parsed = fastavro.parse_schema(data_schema)
        self._data_fields = [f["name"] for f in data_schema.get("fields", [])]
        kinds = [_field_kind(f["type"]) for f in data_schema.get("fields", [])]
        self.dtype = parse_dtype(cfg.get("data_type") or "float32", what="data_type")
        reshape = parse_shape(cfg.get("data_reshape"))
        self._reshape = reshape
        if reshape is not None:
            self.sample_shape = reshape
        elif all(k == "scalar" for k, _ in kinds):
            self.sample_shape = (len(kinds),)
        else:
            self.sample_shape = (None,)

        label_schema = _load_schema(cfg.get("label_scheme"), "label_scheme")
        self.label_schema = label_schema
        self._label_parsed = fastavro.parse_schema(label_schema) if label_schema else None
        self._label_fields = [f["name"] for f in (label_schema or {}).get("fields", [])]
        if label_schema is not None:
            lkinds = [_field_kind(f["type"]) for f in label_schema.get("fields", [])]
            if cfg.get("label_type"):
                self.label_dtype = parse_dtype(cfg["label_type"], what="label_type")
            elif lkinds and all(b in _AVRO_INT_TYPES for _, b in lkinds):
                self.label_dtype = np.dtype("int64")
            elif lkinds and all(b == "boolean" for _, b in lkinds):
                self.label_dtype = np.dtype("bool")
            else:
                self.label_dtype = np.dtype("float32")
            if len(lkinds) == 1 and lkinds[0][0] == "scalar":
                self.label_shape = ()
            elif all(k == "scalar" for k, _ in lkinds):
                self.label_shape = (len(lkinds),)
            else:
                self.label_shape = (None,)

    @staticmethod
    def _record(value: Any, names: list[str], what: str) -> dict[str, Any]:
        if isinstance(value, Mapping):
            return dict(value)
        arr = np.asarray(value)
        if arr.ndim == 0:
            if len(names) != 1:
                raise ValueError(f"{what}: a single value needs a one-field schema")
            return {names[0]: arr.item()}
        items = arr.reshape(-1).tolist()
        if len(items) != len(names):
            raise ValueError(f"{what}: {len(items)} values for {len(names)} schema fields")
        return dict(zip(names, items, strict=True))

    def _write(self, parsed, record) -> bytes:
        buf = io.BytesIO()
        self._fastavro.schemaless_writer(buf, parsed, record)
        return buf.getvalue()

    def encode(self, sample: Any) -> bytes:
        return self._write(self._data_parsed, self._record(sample, self._data_fields, "data"))

    def encode_label(self, label: Any) -> bytes:
        if self._label_parsed is None:
            raise ValueError("AVRO input_config has no label_scheme")
        return self._write(self._label_parsed, self._record(label, self._label_fields, "label"))

    def _read(self, parsed, value: Any) -> dict[str, Any]:
        raw = _as_bytes(value)
        if raw is None:
            raise RecordDecodeError(
                -1, "record is missing (null)" if value is None else "not bytes"
            )
        buf = io.BytesIO(raw)
        try:
            record = self._fastavro.schemaless_reader(buf, parsed)
        except Exception as exc:  # noqa: BLE001
            raise RecordDecodeError(-1, f"invalid Avro: {type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(raw):
            raise RecordDecodeError(
                -1, f"invalid Avro: {len(raw) - buf.tell()} trailing bytes after the record"
            )
        return record

    @staticmethod
    def _features(record: Mapping[str, Any], names: list[str], dtype: np.dtype) -> np.ndarray:
        parts = []
        for name in names:
            v = record.get(name)
            if v is None:
                raise RecordDecodeError(-1, f"field {name!r} is null")
            if isinstance(v, list | tuple):
                parts.extend(v)
            elif isinstance(v, bool | int | float):
                parts.append(v)
            else:
                raise RecordDecodeError(-1, f"field {name!r} is not numeric ({type(v).__name__})")
        try:
            return np.asarray(parts, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise RecordDecodeError(-1, f"non-numeric feature: {exc}") from exc

    def _decode_one(self, value: Any) -> np.ndarray:
        arr = self._features(self._read(self._data_parsed, value), self._data_fields, self.dtype)
        if self._reshape is not None:
            if arr.size != math.prod(self._reshape):
                raise RecordDecodeError(
                    -1, f"{arr.size} features do not fit data_reshape {self._reshape}"
                )
            arr = arr.reshape(self._reshape)
        return arr

    def _decode_label_one(self, key: Any) -> np.ndarray:
        record = self._read(self._label_parsed, key)
        arr = self._features(record, self._label_fields, self.label_dtype)
        if self.label_shape == ():
            arr = arr.reshape(())
        return arr

    def decode_labels(self, keys: Sequence[bytes]) -> np.ndarray:
        if self._label_parsed is None:
            raise ValueError("AVRO input_config has no label_scheme: labels cannot be decoded")
        return super().decode_labels(keys)

    def decode_records(self, values: Sequence[bytes]) -> list[dict[str, Any]]:
        """The raw Avro records (dicts), for callers that want field access."""
        out = []
        for index, value in enumerate(values):
            try:
                out.append(self._read(self._data_parsed, value))
            except RecordDecodeError as exc:
                raise RecordDecodeError(index, exc.reason) from None
        return out


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, bytes):
        return obj.decode("utf-8")
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _json_dumps(obj: Any) -> bytes:
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    return json.dumps(obj, default=_json_default, separators=(",", ":"), allow_nan=False).encode()


class JsonCodec(Codec):
    """JSON arrays (nested for tensors) or objects; labels are JSON in the key."""

    format = "JSON"

    def __init__(self, input_config: Mapping[str, Any] | str | None = None):
        super().__init__(input_config)
        cfg = self.input_config
        self.dtype = parse_dtype(cfg.get("data_type") or "float32", what="data_type")
        self._reshape = parse_shape(cfg.get("data_reshape"))
        fields = cfg.get("fields")
        if isinstance(fields, str):
            fields = [f for f in fields.replace(",", " ").split() if f]
        self.fields: list[str] | None = list(fields) if fields else None
        if self._reshape is not None:
            self.sample_shape = self._reshape
        elif self.fields is not None:
            self.sample_shape = (len(self.fields),)
        else:
            self.sample_shape = (None,)
        label_type = cfg.get("label_type")
        self.label_dtype = parse_dtype(label_type, what="label_type") if label_type else None
        label_shape = parse_shape(cfg.get("label_reshape"), what="label_reshape")
        self.label_shape = () if label_shape in (None, (1,)) else label_shape

    def encode(self, sample: Any) -> bytes:
        if isinstance(sample, Mapping) and self.fields is not None:
            missing = [f for f in self.fields if f not in sample]
            if missing:
                raise ValueError(f"data: object lacks the fields {missing}")
        return _json_dumps(sample)

    def encode_label(self, label: Any) -> bytes:
        return _json_dumps(label)

    def _parse(self, value: Any) -> Any:
        raw = _as_bytes(value)
        if raw is None:
            if isinstance(value, str):
                raw = value.encode()
            else:
                raise RecordDecodeError(
                    -1, "record is missing (null)" if value is None else "not bytes"
                )
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise RecordDecodeError(-1, f"invalid JSON: {exc}") from exc

    def _to_array(self, obj: Any, dtype: np.dtype | None, what: str) -> np.ndarray:
        if isinstance(obj, Mapping):
            names = self.fields if self.fields is not None else list(obj)
            parts = []
            for name in names:
                if name not in obj:
                    raise RecordDecodeError(-1, f"{what} lacks field {name!r}")
                v = obj[name]
                parts.extend(v) if isinstance(v, list) else parts.append(v)
            obj = parts
        if obj is None or isinstance(obj, str):
            raise RecordDecodeError(-1, f"{what} is not a number, array or object")
        try:
            arr = np.asarray(obj, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise RecordDecodeError(
                -1, f"{what} is not a numeric (rectangular) array: {exc}"
            ) from exc
        if arr.dtype.kind not in "biuf":
            raise RecordDecodeError(-1, f"{what} is not numeric")
        return arr

    def _decode_one(self, value: Any) -> np.ndarray:
        return self._reshaped(self._to_array(self._parse(value), self.dtype, "value"))

    def _reshaped(self, arr: np.ndarray) -> np.ndarray:
        if self._reshape is not None:
            if arr.size != math.prod(self._reshape):
                raise RecordDecodeError(
                    -1, f"{arr.size} values do not fit data_reshape {self._reshape}"
                )
            arr = arr.reshape(self._reshape)
        elif arr.ndim == 0:
            arr = arr.reshape(1)
        return arr

    def _decode_label_one(self, key: Any) -> np.ndarray:
        arr = self._to_array(self._parse(key), self.label_dtype, "key")
        if self.label_shape == () and arr.size == 1:
            arr = arr.reshape(())
        return arr

    def decode_labels(self, keys: Sequence[bytes]) -> np.ndarray:
        if self.label_dtype is not None:
            return super().decode_labels(keys)
        # No declared label type: let NumPy pick (ints stay ints, floats become float32).
        batch = self._generic_batch(keys, self._decode_label_one, None, self.label_shape, True)
        arr = batch.array
        if arr.dtype.kind == "f" and arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        return arr


# ---------------------------------------------------------------------------------------------
# TELEGRAF_STR_JSON
# ---------------------------------------------------------------------------------------------


class TelegrafJsonCodec(JsonCodec):
    """Telegraf's JSON output (``data_format = "json"``), one metric per record::

        {"fields": {"temp": 21.5, "hum": "40"}, "name": "sensor",
         "tags": {"host": "edge-1"}, "timestamp": 1700000000}

    The sample is the vector of the configured ``fields`` (names inside the metric's
    ``fields`` object, in that order; default: every field, sorted by name). Values may be
    numbers, booleans or numeric strings (Telegraf's string fields). ``name`` (optional) keeps
    only metrics of that measurement name: another name is a bad record. Labels, when training,
    are JSON in the record key as with ``JSON``. ``data_type`` / ``data_reshape`` / ``label_type``
    apply as with ``JSON``.
    """

    format = "TELEGRAF_STR_JSON"

    def __init__(self, input_config: Mapping[str, Any] | str | None = None):
        super().__init__(input_config)
        name = self.input_config.get("name")
        if name is not None and not isinstance(name, str):
            raise ValueError("input_config name must be a string (the Telegraf measurement name)")
        self.measurement: str | None = name or None

    def encode(self, sample: Any, *, tags: Mapping[str, str] | None = None) -> bytes:
        """A Telegraf metric holding ``sample`` (a mapping, or a vector for the ``fields``)."""
        if isinstance(sample, Mapping):
            values = dict(sample)
        else:
            flat = np.asarray(sample).reshape(-1).tolist()
            names = self.fields or [f"field_{i}" for i in range(len(flat))]
            if len(names) != len(flat):
                raise ValueError(f"data: {len(flat)} values for the {len(names)} fields {names}")
            values = dict(zip(names, flat, strict=True))
        metric = {
            "fields": values,
            "name": self.measurement or "kafkaml",
            "tags": dict(tags or {}),
            "timestamp": 0,
        }
        return _json_dumps(metric)

    @staticmethod
    def _number(name: str, value: Any) -> float | int:
        if isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise RecordDecodeError(-1, f"field {name!r} is not numeric: {value!r}")

    def _decode_one(self, value: Any) -> np.ndarray:
        metric = self._parse(value)
        if not isinstance(metric, Mapping) or not isinstance(metric.get("fields"), Mapping):
            raise RecordDecodeError(-1, "not a Telegraf JSON metric (no 'fields' object)")
        if self.measurement is not None and metric.get("name") != self.measurement:
            raise RecordDecodeError(
                -1, f"metric name {metric.get('name')!r} is not {self.measurement!r}"
            )
        fields = metric["fields"]
        names = self.fields if self.fields is not None else sorted(fields)
        missing = [n for n in names if n not in fields]
        if missing:
            raise RecordDecodeError(-1, f"metric lacks the fields {missing}")
        vector = [self._number(n, fields[n]) for n in names]
        return self._reshaped(self._to_array(vector, self.dtype, "value"))


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------

_REGISTRY: dict[str, Callable[[dict[str, Any]], Codec]] = {}


def register_codec(name: str, factory: Callable[[dict[str, Any]], Codec]) -> None:
    """Register a codec class (or factory taking ``input_config``) under a format name."""
    key = name.strip().upper()
    if not key:
        raise ValueError("codec name must not be empty")
    _REGISTRY[key] = factory


def available_formats() -> list[str]:
    return sorted(_REGISTRY)


def get_codec(input_format: str, input_config: Mapping[str, Any] | str | None = None) -> Codec:
    """The codec for ``input_format`` (``RAW`` / ``AVRO`` / ``JSON``) with its ``input_config``.

    Raises ``ValueError`` for an unknown format or an invalid configuration.
    """
    key = str(input_format or "").strip().upper()
    try:
        factory = _REGISTRY[key]
    except KeyError:
        known = ", ".join(available_formats())
        msg = f"unknown input format {input_format!r}; expected one of {known}"
        raise ValueError(msg) from None
    return factory(_config(input_config))


register_codec("RAW", RawCodec)
register_codec("AVRO", AvroCodec)
register_codec("JSON", JsonCodec)
register_codec("TELEGRAF_STR_JSON", TelegrafJsonCodec)
