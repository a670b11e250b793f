"""Runtimes: registry, choice, and agreement of ONNX / TorchScript / Keras with the reference."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_inference.runtimes import (
    RuntimeLoadError,
    choose_runtime_name,
    get_runtime_class,
    load_runtime,
)
from model_inference.testing import MLP, write_mlp_artifact

X = np.random.default_rng(5).integers(0, 256, (33, 28, 28), dtype=np.uint8)


def test_registry_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown runtime 'tensorrt'"):
        get_runtime_class("tensorrt")
    assert get_runtime_class("ONNX").name == "onnx"


def test_onnx_matches_reference_and_reshapes(tmp_path):
    mlp = MLP.random(seed=2)
    runtime = load_runtime(write_mlp_artifact(tmp_path / "a", mlp, version=4))
    assert runtime.name == "onnx" and runtime.version == 4
    (out,) = runtime.predict(X)  # uint8 (N, 28, 28) cast to float32
    np.testing.assert_allclose(out, mlp(X), rtol=1e-5, atol=1e-6)
    (flat,) = runtime.predict(X.reshape(33, 784))  # same element count: reshaped
    np.testing.assert_allclose(flat, out, rtol=1e-6)
    with pytest.raises(ValueError, match="does not fit"):
        runtime.predict(np.zeros((2, 10), np.uint8))
    runtime.close()


def test_torchscript_runtime(tmp_path):
    mlp = MLP.random(seed=2)
    art = write_mlp_artifact(tmp_path / "a", mlp, torchscript=True, onnx_file=False)
    assert choose_runtime_name(art) == "pytorch"  # no ONNX file: the native one
    assert choose_runtime_name(art, "onnx") == "pytorch"  # even when ONNX was asked for
    runtime = load_runtime(art)
    (out,) = runtime.predict(X)
    np.testing.assert_allclose(out, mlp(X), rtol=1e-4, atol=1e-6)
    edge = load_runtime(
        write_mlp_artifact(tmp_path / "e", mlp, torchscript=True, distributed=True),
        "pytorch",
    )
    to_upper, output = edge.predict(X)
    np.testing.assert_allclose(to_upper, mlp.hidden(X), rtol=1e-4, atol=1e-5)


def test_keras_runtime(tmp_path):
    mlp = MLP.random(seed=2)
    art = write_mlp_artifact(tmp_path / "a", mlp, keras=True)
    assert choose_runtime_name(art) == "onnx"
    assert choose_runtime_name(art, "keras") == "keras"
    runtime = load_runtime(art, "keras")
    (out,) = runtime.predict(X)
    np.testing.assert_allclose(out, mlp(X), rtol=1e-4, atol=1e-6)


def test_missing_files_fail_loudly(tmp_path):
    with pytest.raises(RuntimeLoadError, match="metadata.json"):
        load_runtime(tmp_path)
    art = write_mlp_artifact(tmp_path / "a", MLP.random(), onnx_file=False)
    meta = json.loads((art / "metadata.json").read_text())
    meta["framework"] = "sklearn"
    (art / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(RuntimeLoadError, match="unknown framework"):
        load_runtime(art)
    with pytest.raises(RuntimeLoadError, match="no TorchScript model"):
        load_runtime(art, "pytorch")
