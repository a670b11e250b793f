"""Issue 13 (5): the exported artifact says whether the model outputs probabilities or logits."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from model_training.artifacts import write_metadata
from model_training.trainers.base import Exported

torch = pytest.importorskip("torch")


def export(model, directory, two=False) -> Exported:
    directory.mkdir(parents=True, exist_ok=True)
    sample = torch.zeros(4, 8)
    names = ["to_upper", "output"] if two else ["output"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (sample,),
            str(directory / "model.onnx"),
            input_names=["input"],
            output_names=names,
            dynamic_axes={n: {0: "batch"} for n in ["input", *names]},
            dynamo=False,
        )
    with torch.no_grad():
        out = model(sample)
    outs = list(out) if isinstance(out, tuple) else [out]
    return Exported(directory, "model.pt", sample.numpy(), [o.numpy() for o in outs])


class Edge(torch.nn.Module):
    def __init__(self, head):
        super().__init__()
        self.hidden, self.head = torch.nn.Linear(8, 5), head

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        return h, self.head(h)


@pytest.mark.parametrize(
    ("model", "two", "kind"),
    [
        (lambda: torch.nn.Linear(8, 3), False, "logits"),  # the PyTorch template's ending
        (lambda: torch.nn.Sequential(torch.nn.Linear(8, 3), torch.nn.Softmax(dim=1)), False,
         "probabilities"),
        (lambda: torch.nn.Sequential(torch.nn.Linear(8, 1), torch.nn.Sigmoid()), False,
         "probabilities"),
        (lambda: Edge(torch.nn.Linear(5, 3)), True, "logits"),
        (lambda: Edge(torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Softmax(dim=1))), True,
         "probabilities"),
    ],
)  # fmt: skip
def test_metadata_records_the_output_kind(tmp_path, model, two, kind):
    exported = export(model().eval(), tmp_path / "m", two)
    meta = write_metadata(
        exported,
        framework="pytorch",
        framework_version="test",
        version=1,
        input_format="RAW",
        input_config={"data_type": "float32", "data_reshape": "8"},
    )
    assert meta["distributed"] is two
    assert meta["output_kind"] == kind
    assert json.loads((tmp_path / "m" / "metadata.json").read_text())["output_kind"] == kind
    assert np.isfinite(meta["onnx_max_abs_diff"])
