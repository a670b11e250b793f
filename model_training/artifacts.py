"""Trained artifact directories (docs/contracts.md): native + ONNX + ``metadata.json``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from model_training.trainers.base import Exported
from worker_common.onnx_outputs import prediction_output_kind

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def _tensor_info(value_info) -> dict[str, Any]:
    from onnx import helper

    ttype = value_info.type.tensor_type
    shape = [d.dim_value if d.HasField("dim_value") else None for d in ttype.shape.dim]
    if shape:
        shape[0] = None  # the batch axis is dynamic by construction
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(ttype.elem_type)).name
    return {"name": value_info.name, "shape": shape, "dtype": dtype}


def onnx_signature(path: Path) -> tuple[list[dict], list[dict]]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {init.name for init in graph.initializer}
    inputs = [_tensor_info(v) for v in graph.input if v.name not in initializers]
    return inputs, [_tensor_info(v) for v in graph.output]


def check_onnx(path: Path, sample: np.ndarray, reference: list[np.ndarray]) -> float:
    """Largest absolute difference between ONNX Runtime and the trained model on ``sample``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.asarray(sample, dtype=np.float32)}
    outputs = session.run(None, feed)
    if len(outputs) != len(reference):
        raise RuntimeError(f"ONNX model has {len(outputs)} outputs, the model {len(reference)}")
    return max(
        float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
        for a, b in zip(outputs, reference, strict=True)
    )


def write_metadata(
    exported: Exported,
    *,
    framework: str,
    framework_version: str,
    version: int,
    input_format: str,
    input_config: dict,
    extra: dict | None = None,
) -> dict:
    onnx_path = exported.directory / "model.onnx"
    inputs, outputs = onnx_signature(onnx_path)
    diff = check_onnx(onnx_path, exported.sample, exported.reference)
    if diff > 1e-3:
        log.warning("ONNX export of %s differs from the model by %.2g", exported.directory, diff)
    metadata = {
        "framework": framework,
        "framework_version": framework_version,
        "format_version": FORMAT_VERSION,
        "version": version,
        "inputs": inputs,
        "outputs": outputs,
        "distributed": len(outputs) == 2,
        # what a confidence is read from: "probabilities" (Softmax/Sigmoid last) or "logits"
        "output_kind": prediction_output_kind(onnx_path, len(outputs) == 2),
        "input_format": input_format,
        "input_config": input_config,
        "files": {"native": exported.native, "onnx": "model.onnx", **exported.files},
        "onnx_max_abs_diff": diff,
        **exported.info,
        **(extra or {}),
    }
    (exported.directory / "metadata.json").write_text(json.dumps(metadata, indent=2))
    return metadata


def confusion_matrix(y_true: np.ndarray, scores: np.ndarray) -> list[list[int]] | None:
    """Rows: true class, columns: predicted class (argmax of the scores)."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    if y_true.ndim > 1 and y_true.shape[-1] > 1:  # one-hot labels
        y_true = y_true.argmax(axis=-1)
    y_true = y_true.reshape(-1)
    if scores.ndim == 1 or scores.shape[-1] == 1:
        predicted = (scores.reshape(-1) > 0.5).astype(np.int64)
    else:
        predicted = scores.reshape(len(scores), -1).argmax(axis=1)
    if y_true.dtype.kind == "f":
        if not np.all(np.equal(np.mod(y_true, 1), 0)):
            return None  # regression targets
        y_true = y_true.astype(np.int64)
    if len(y_true) == 0:
        return []
    n = int(max(y_true.max(initial=0), predicted.max(initial=0))) + 1
    if scores.ndim > 1 and scores.shape[-1] > 1:
        n = max(n, scores.shape[-1])
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (y_true.astype(np.int64), predicted), 1)
    return matrix.tolist()
