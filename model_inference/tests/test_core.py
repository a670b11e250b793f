"""The transport-agnostic core: output encoding, early-exit routing, dead letters."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datasources.codecs import get_codec
from model_inference.core import (
    DLQ_ERROR_HEADER,
    DLQ_OFFSET_HEADER,
    ModelSpec,
    dlq_headers,
    dlq_topic,
    encode_outputs,
    encode_upper,
    process_batch,
)
from model_inference.runtimes import load_runtime
from model_inference.testing import MLP, write_mlp_artifact


def test_encode_outputs_is_json_with_values_first():
    rows = np.array([[0.1, 0.25, 1e-8], [1.0, 0.0, 3.5]], dtype=np.float32)
    out = encode_outputs(rows, {"model_version": 7})
    assert len(out) == 2
    for raw, row in zip(out, rows, strict=True):
        text = raw.decode()
        assert text.startswith('{"values": [')
        obj = json.loads(text)
        assert list(obj) == ["values", "model_version"]
        assert obj["model_version"] == 7
        # float32 round-trips exactly
        np.testing.assert_array_equal(np.asarray(obj["values"], dtype=np.float32), row)


def test_encode_outputs_special_values_and_types():
    out = encode_outputs(np.array([[np.nan, 1.0], [np.inf, 2.0]], dtype=np.float32))
    assert [json.loads(o)["values"] for o in out] == [[None, 1.0], [None, 2.0]]
    ints = encode_outputs(np.array([[3], [4]], dtype=np.int64), {"x": "100%"})
    assert [json.loads(o) for o in ints] == [{"values": [3], "x": "100%"}] * 1 + [
        {"values": [4], "x": "100%"}
    ]
    f64 = encode_outputs(np.array([0.1, 0.2]))  # 1-D: one value per record
    assert [json.loads(o)["values"] for o in f64] == [[0.1], [0.2]]
    assert encode_outputs(np.zeros((0, 3), np.float32)) == []


def test_encode_upper_is_raw_float32():
    rows = np.arange(6, dtype=np.float64).reshape(3, 2)
    out = encode_upper(rows)
    assert [np.frombuffer(o, "<f4").tolist() for o in out] == rows.tolist()


def test_dlq_headers_name_error_and_source():
    h = dlq_headers([("trace", b"1")], "bad", "in", 3, 42)
    assert dlq_topic("in") == "in.dlq"
    assert h[0] == ("trace", b"1")
    assert dict(h)[DLQ_ERROR_HEADER] == b"bad"
    assert dict(h)[DLQ_OFFSET_HEADER] == b"42"


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory):
    base = tmp_path_factory.mktemp("core")
    mlp = MLP.random(seed=3)
    plain = load_runtime(write_mlp_artifact(base / "plain", mlp))
    edge = load_runtime(write_mlp_artifact(base / "edge", mlp, distributed=True))
    return mlp, plain, edge


def test_process_batch_decodes_predicts_and_dead_letters(runtimes):
    mlp, plain, _ = runtimes
    codec = get_codec("RAW", {"data_type": "uint8", "data_reshape": "28 28"})
    x = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    values = [codec.encode(s) for s in x]
    values.insert(2, b"short")
    values.append(None)
    result = process_batch(values, codec, ModelSpec(plain, version=2, extra={"model_version": 2}))
    assert sorted(result.errors) == [2, 6]
    assert result.out_index == [0, 1, 3, 4, 5]
    got = np.array([json.loads(v)["values"] for v in result.out_values])
    np.testing.assert_allclose(got, mlp(x), rtol=1e-5, atol=1e-6)
    assert result.count == len(values)


def test_process_batch_early_exit_routes_by_limit(runtimes):
    mlp, _, edge = runtimes
    codec = get_codec("RAW", {"data_type": "uint8", "data_reshape": "28 28"})
    x = np.random.default_rng(1).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    conf = mlp(x).max(axis=1)
    limit = float(np.median(conf))
    model = ModelSpec(edge, distributed=True, limit=limit)
    result = process_batch([s.tobytes() for s in x], codec, model, route_upper=True)
    assert sorted(result.upper_index) == np.flatnonzero(conf < limit).tolist()
    assert sorted(result.out_index) == np.flatnonzero(conf >= limit).tolist()
    hidden = mlp.hidden(x)
    for i, raw in zip(result.upper_index, result.upper_values, strict=True):
        np.testing.assert_allclose(np.frombuffer(raw, "<f4"), hidden[i], rtol=1e-5, atol=1e-5)
    # without an upper topic everything is answered locally
    local = process_batch([s.tobytes() for s in x], codec, model, route_upper=False)
    assert local.out_index == list(range(64)) and not local.upper_index


class _Picky:
    """A runtime that fails on any batch holding a record whose first value is 255."""

    def predict(self, batch):
        if (batch.reshape(len(batch), -1)[:, 0] == 255).any():
            raise ValueError("cannot")
        return [batch.reshape(len(batch), -1)[:, :2].astype(np.float32)]


def test_prediction_errors_are_isolated_to_the_failing_records():
    codec = get_codec("RAW", {"data_type": "uint8", "data_reshape": "4"})
    values = [bytes([i, 1, 2, 3]) for i in range(10)]
    values[3] = bytes([255, 0, 0, 0])
    values[8] = bytes([255, 0, 0, 0])
    result = process_batch(values, codec, ModelSpec(_Picky()))
    assert sorted(result.errors) == [3, 8]
    assert "prediction failed" in result.errors[3]
    assert result.out_index == [0, 1, 2, 4, 5, 6, 7, 9]
    assert [json.loads(v)["values"][0] for v in result.out_values] == [0, 1, 2, 4, 5, 6, 7, 9]


def test_echo_forwards_values_unchanged():
    result = process_batch([b"a", b"b"], None, ModelSpec(None))
    assert result.out_values == [b"a", b"b"] and result.out_index == [0, 1]


def test_json_records_and_a_model_that_always_fails(tmp_path, runtimes):
    import onnx

    from model_inference.testing import failing_onnx, write_metadata

    mlp, plain, _ = runtimes
    codec = get_codec("JSON", {"data_reshape": "28 28"})
    x = np.random.default_rng(2).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    values = [json.dumps(s.tolist()).encode() for s in x] + [b"{not json"]
    result = process_batch(values, codec, ModelSpec(plain))
    assert list(result.errors) == [4] and "invalid JSON" in result.errors[4]
    got = np.array([json.loads(v)["values"] for v in result.out_values])
    np.testing.assert_allclose(got, mlp(x), rtol=1e-5, atol=1e-6)

    onnx.save(failing_onnx((4,)), tmp_path / "model.onnx")
    write_metadata(tmp_path, framework="pytorch", version=1, input_shape=(4,),
                   outputs=[("output", [None, 7919])])  # fmt: skip
    broken = load_runtime(tmp_path)
    codec = get_codec("RAW", {"data_type": "float32", "data_reshape": "4"})
    values = [np.arange(4, dtype="<f4").tobytes()] * 3
    result = process_batch(values, codec, ModelSpec(broken))
    assert sorted(result.errors) == [0, 1, 2] and not result.out_index
    assert all(r.startswith("prediction failed") for r in result.errors.values())
