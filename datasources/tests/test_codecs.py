"""Codec round-trips and error reporting (no broker needed)."""

from __future__ import annotations

import json

import fastavro
import numpy as np
import pytest

from datasources.codecs import (
    AvroCodec,
    DecodedBatch,
    JsonCodec,
    RawCodec,
    RecordDecodeError,
    available_formats,
    get_codec,
    parse_dtype,
    parse_shape,
)

RAW_DTYPES = [
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint16",
    "float16",
    "float32",
    "float64",
    "bool",
]


def _sample(dtype: str, shape, rng) -> np.ndarray:
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return rng.standard_normal(size=shape).astype(dtype)


# -- RAW ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", RAW_DTYPES)
def test_raw_round_trip_every_dtype(dtype):
    rng = np.random.default_rng(1)
    codec = get_codec(
        "RAW", {"data_type": dtype, "label_type": dtype, "data_reshape": "3 4", "label_reshape": ""}
    )
    samples = _sample(dtype, (5, 3, 4), rng)
    labels = _sample(dtype, (5,), rng)
    values = [codec.encode(s) for s in samples]
    keys = [codec.encode_label(lab) for lab in labels]
    assert all(len(v) == 12 * np.dtype(dtype).itemsize for v in values)
    decoded = codec.decode_batch(values)
    assert decoded.shape == (5, 3, 4) and decoded.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(decoded, samples)
    np.testing.assert_array_equal(codec.decode_labels(keys), labels)
    assert codec.sample_shape == (3, 4) and codec.dtype == np.dtype(dtype)
    assert decoded.flags.writeable


@pytest.mark.parametrize(
    ("alias", "real"), [("half", "float16"), ("float", "float32"), ("double", "float64")]
)
def test_raw_dtype_aliases(alias, real):
    codec = get_codec("RAW", {"data_type": alias, "data_reshape": "2"})
    assert codec.dtype == np.dtype(real)
    value = np.array([1.5, -2.0], dtype=real).tobytes()
    np.testing.assert_array_equal(codec.decode_batch([value])[0], [1.5, -2.0])


def test_raw_is_little_endian_c_order():
    codec = get_codec("RAW", {"data_type": "float32", "data_reshape": "2 2"})
    sample = np.asfortranarray(np.arange(4, dtype=">f4").reshape(2, 2))
    assert codec.encode(sample) == np.arange(4, dtype="<f4").tobytes()


def test_raw_wrong_length_is_invalid():
    codec = get_codec("RAW", {"data_type": "uint8", "data_reshape": "28 28"})
    good = bytes(784)
    values = [good, good, bytes(783), good, None, bytes(785)]
    with pytest.raises(RecordDecodeError) as info:
        codec.decode_batch(values)
    assert info.value.index == 2 and "783" in info.value.reason
    part = codec.decode_batch_partial(values)
    assert isinstance(part, DecodedBatch)
    assert part.array.shape == (3, 28, 28)
    assert part.indices.tolist() == [0, 1, 3]
    assert sorted(part.errors) == [2, 4, 5]
    assert "null" in part.errors[4]


def test_raw_without_reshape_is_a_flat_vector():
    codec = get_codec("RAW", {"data_type": "int16", "label_type": "uint8"})
    values = [np.arange(5, dtype="<i2").tobytes()] * 3
    assert codec.decode_batch(values).shape == (3, 5)
    assert codec.sample_shape == (None,)
    part = codec.decode_batch_partial([*values, b"\x00\x01\x02"])
    assert part.indices.tolist() == [0, 1, 2] and 3 in part.errors
    # scalar labels decode to (N,), original sinks' "1" too
    assert codec.decode_labels([b"\x07", b"\x02"]).tolist() == [7, 2]
    old = get_codec("RAW", {"data_type": "uint8", "label_type": "uint8", "label_reshape": "1"})
    assert old.decode_labels([b"\x07", b"\x02"]).shape == (2,)


def test_raw_bad_label_raises_with_index():
    codec = get_codec("RAW", {"data_type": "uint8", "label_type": "int32"})
    with pytest.raises(RecordDecodeError) as info:
        codec.decode_labels([bytes(4), bytes(4), bytes(2)])
    assert info.value.index == 2


def test_raw_empty_batch():
    codec = get_codec("RAW", {"data_type": "float32", "data_reshape": "2 3"})
    assert codec.decode_batch([]).shape == (0, 2, 3)
    part = codec.decode_batch_partial([])
    assert part.array.shape == (0, 2, 3) and len(part) == 0 and part.ok


def test_raw_encode_refuses_wrong_size_and_lossy_cast():
    codec = get_codec("RAW", {"data_type": "uint8", "data_reshape": "2 2"})
    with pytest.raises(ValueError, match="needs 4"):
        codec.encode(np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError):
        codec.encode(np.array([1, 2, 3, 300]))
    assert codec.encode([1, 2, 3, 4]) == bytes([1, 2, 3, 4])


def test_raw_needs_data_type():
    with pytest.raises(ValueError, match="data_type"):
        get_codec("RAW", {})


# -- registry and parsing ----------------------------------------------------------------------


def test_registry():
    assert available_formats() == ["AVRO", "JSON", "RAW", "TELEGRAF_STR_JSON"]
    assert isinstance(get_codec("raw", '{"data_type": "uint8"}'), RawCodec)
    with pytest.raises(ValueError, match="unknown input format"):
        get_codec("PROTOBUF", {})
    with pytest.raises(ValueError):
        get_codec("", {})


def test_parse_helpers():
    assert parse_shape("28 28") == (28, 28)
    assert parse_shape("(28, 28)") == (28, 28)
    assert parse_shape("") is None and parse_shape(None) is None
    with pytest.raises(ValueError):
        parse_shape("a b")
    with pytest.raises(ValueError):
        parse_dtype("str")
    with pytest.raises(ValueError):
        parse_dtype("nonsense")


def test_record_decode_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(RecordDecodeError(3, "bad")))
    assert (err.index, err.reason) == (3, "bad")


# -- AVRO ---------------------------------------------------------------------------------------

DATA_SCHEMA = {
    "type": "record",
    "name": "sample",
    "fields": [
        {"name": "a", "type": "int"},
        {"name": "b", "type": "double"},
        {"name": "c", "type": "float"},
        {"name": "d", "type": "long"},
        {"name": "e", "type": "boolean"},
    ],
}
LABEL_SCHEMA = {"type": "record", "name": "label", "fields": [{"name": "y", "type": "int"}]}


def test_avro_round_trip():
    codec = get_codec(
        "AVRO", {"data_scheme": json.dumps(DATA_SCHEMA), "label_scheme": json.dumps(LABEL_SCHEMA)}
    )
    assert isinstance(codec, AvroCodec)
    records = [{"a": i, "b": i / 2, "c": 1.5, "d": -i, "e": i % 2 == 0} for i in range(4)]
    values = [codec.encode(r) for r in records]
    keys = [codec.encode_label({"y": i}) for i in range(4)]
    out = codec.decode_batch(values)
    assert out.shape == (4, 5) and out.dtype == np.float32 and codec.sample_shape == (5,)
    np.testing.assert_allclose(out[3], [3, 1.5, 1.5, -3, 0])
    assert codec.decode_labels(keys).tolist() == [0, 1, 2, 3]
    # sequences in field order and bare label values encode too
    assert codec.encode([3, 1.5, 1.5, -3, False]) == values[3]
    assert codec.encode_label(2) == keys[2]
    # compatible with any schemaless Avro writer
    import io

    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(DATA_SCHEMA), records[1])
    assert buf.getvalue() == values[1]


def test_avro_arrays_and_reshape():
    schema = {
        "type": "record",
        "name": "img",
        "fields": [{"name": "pixels", "type": {"type": "array", "items": "float"}}],
    }
    codec = get_codec("AVRO", {"data_scheme": schema, "data_reshape": "2 2"})
    values = [codec.encode({"pixels": [1, 2, 3, 4]}), codec.encode({"pixels": [1, 2, 3]})]
    with pytest.raises(RecordDecodeError) as info:
        codec.decode_batch(values)
    assert info.value.index == 1
    part = codec.decode_batch_partial(values)
    assert part.array.shape == (1, 2, 2) and list(part.errors) == [1]


def test_avro_bad_records():
    codec = get_codec("AVRO", {"data_scheme": DATA_SCHEMA})
    good = codec.encode({"a": 1, "b": 2.0, "c": 3.0, "d": 4, "e": True})
    values = [good, good[:3], good + b"\x00", None, good]
    with pytest.raises(RecordDecodeError) as info:
        codec.decode_batch(values)
    assert info.value.index == 1
    part = codec.decode_batch_partial(values)
    assert part.indices.tolist() == [0, 4]
    assert sorted(part.errors) == [1, 2, 3]
    assert "trailing" in part.errors[2]
    with pytest.raises(ValueError, match="label_scheme"):
        codec.decode_labels([b"\x00"])


def test_avro_config_errors():
    with pytest.raises(ValueError, match="data_scheme"):
        get_codec("AVRO", {})
    with pytest.raises(ValueError):
        get_codec("AVRO", {"data_scheme": "{not json"})


# -- JSON ---------------------------------------------------------------------------------------


def test_json_arrays_round_trip():
    codec = get_codec("JSON", {"data_reshape": "2 3", "data_type": "float64"})
    assert isinstance(codec, JsonCodec)
    samples = np.arange(12, dtype=np.float64).reshape(2, 2, 3)
    values = [codec.encode(s) for s in samples]
    assert json.loads(values[0]) == [[0, 1, 2], [3, 4, 5]]
    np.testing.assert_array_equal(codec.decode_batch(values), samples)
    assert codec.decode_labels([codec.encode_label(np.int64(3)), b"1"]).tolist() == [3, 1]
    # flat arrays reshaped by data_reshape
    assert codec.decode_batch([b"[1,2,3,4,5,6]"]).shape == (1, 2, 3)


def test_json_objects_with_fields():
    codec = get_codec("JSON", {"fields": ["x", "y"], "label_type": "int64"})
    values = [b'{"y": 2, "x": 1, "z": 9}', b'{"x": 5, "y": 6}']
    np.testing.assert_array_equal(codec.decode_batch(values), [[1, 2], [5, 6]])
    assert codec.sample_shape == (2,)
    assert codec.decode_labels([b"1", b"0"]).dtype == np.int64


def test_json_bad_records():
    codec = get_codec("JSON", {"fields": ["x", "y"]})
    values = [b'{"x": 1, "y": 2}', b"{oops", b'{"x": 1}', b'"text"', b'{"x": 3, "y": 4}']
    with pytest.raises(RecordDecodeError) as info:
        codec.decode_batch(values)
    assert info.value.index == 1
    part = codec.decode_batch_partial(values)
    assert part.indices.tolist() == [0, 4]
    assert sorted(part.errors) == [1, 2, 3]
    ragged = get_codec("JSON", {})
    part = ragged.decode_batch_partial([b"[1,2]", b"[1,2,3]", b"[3,4]"])
    assert part.indices.tolist() == [0, 2] and 1 in part.errors
