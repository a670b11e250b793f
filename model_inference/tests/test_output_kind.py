"""Issue 13 (5): a model that outputs logits (the PyTorch template ends in nn.Linear) gives
confidences within [0, 1], and its early-exit limit is compared with softmax probabilities."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from datasources.codecs import get_codec
from model_inference.core import ModelSpec, process_batch, to_probabilities
from model_inference.runtimes import load_runtime
from model_inference.testing import MLP, mlp_onnx, write_metadata
from worker_common.onnx_outputs import output_kinds_from_bytes, prediction_output_kind

torch = pytest.importorskip("torch")


class EdgeLogits(torch.nn.Module):
    """A distributed PyTorch sub-model ending in a Linear layer: (to_upper, logits)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.hidden = torch.nn.Linear(8, 6)
        self.out = torch.nn.Linear(6, 3)

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        return h, self.out(h) * 8  # large logits: max() alone would read as 800 %


def export(model, path: Path, names) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    sample = torch.zeros(2, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter, as model_training uses it
        torch.onnx.export(
            model,
            (sample,),
            str(path / "model.onnx"),
            input_names=["input"],
            output_names=names,
            dynamic_axes={n: {0: "batch"} for n in ["input", *names]},
            dynamo=False,
        )
    return path


@pytest.fixture(scope="module")
def edge_dir(tmp_path_factory):
    path = export(EdgeLogits().eval(), tmp_path_factory.mktemp("logits"), ["to_upper", "output"])
    # an artifact trained before output_kind was recorded: detected at load
    write_metadata(
        path,
        framework="pytorch",
        version=1,
        input_shape=(8,),
        outputs=[("to_upper", [None, 6]), ("output", [None, 3])],
        distributed=True,
    )
    assert "output_kind" not in json.loads((path / "metadata.json").read_text())
    return path


def test_the_onnx_graph_says_logits_or_probabilities(edge_dir, tmp_path):
    assert prediction_output_kind(edge_dir / "model.onnx") == "logits"
    mlp = MLP.random(input_shape=(4,), hidden=5, classes=3)
    assert output_kinds_from_bytes(mlp_onnx(mlp).SerializeToString()) == ["probabilities"]
    soft = torch.nn.Sequential(torch.nn.Linear(8, 3), torch.nn.Softmax(dim=1)).eval()
    assert prediction_output_kind(export(soft, tmp_path / "soft", ["output"]) / "model.onnx") == (
        "probabilities"
    )
    assert prediction_output_kind(tmp_path / "missing.onnx") is None


def test_logits_become_probabilities_within_0_and_1():
    logits = np.array([[10.3, -3.8, 1.2], [-3.8, -5.0, -4.0]])
    probs = to_probabilities(logits, "logits")
    assert ((probs >= 0) & (probs <= 1)).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1)
    assert to_probabilities(logits).max() <= 1  # unknown kind: outside [0, 1] means logits
    p = np.array([[0.2, 0.8]])
    np.testing.assert_array_equal(to_probabilities(p, "probabilities"), p)
    np.testing.assert_array_equal(to_probabilities(p), p)
    np.testing.assert_allclose(to_probabilities(np.array([[0.0]]), "logits"), [[0.5]])


@pytest.mark.parametrize("runtime_name", ["onnx"])
def test_early_exit_of_a_logits_model_compares_the_limit_with_softmax(edge_dir, runtime_name):
    runtime = load_runtime(edge_dir, runtime_name)
    assert runtime.output_kind == "logits"
    x = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    logits = runtime.predict(x)[1]
    probs = to_probabilities(logits, "logits")
    limit = float(np.median(probs.max(axis=1)))
    assert 0 < limit < 1 and logits.max() > 1  # raw maxima would all pass any limit
    codec = get_codec("RAW", {"data_type": "float32", "data_reshape": "8"})
    model = ModelSpec(runtime, distributed=True, limit=limit, output_kind=runtime.output_kind)
    result = process_batch([r.tobytes() for r in x], codec, model, route_upper=True)
    confident = probs.max(axis=1) >= limit
    assert sorted(result.out_index) == np.flatnonzero(confident).tolist()
    assert sorted(result.upper_index) == np.flatnonzero(~confident).tolist()
    assert result.upper_index and result.out_index  # some answered by the edge, some sent up
