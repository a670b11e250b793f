"""TensorFlow Lite export of a trained Keras model (runs inside the sandboxed trainer).

Two files next to the native and ONNX ones: ``model.tflite`` (float) and ``model_int8.tflite``
(full-integer quantization: int8 weights, activations, input and output, calibrated on a few
hundred training rows). Both are evaluated with the TFLite interpreter on the test split, so the
result shows what quantization cost. A failed conversion is recorded, never fatal.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FLOAT_FILE = "model.tflite"
INT8_FILE = "model_int8.tflite"
#: training rows used to calibrate the int8 model's activation ranges
REPRESENTATIVE_ROWS = 300


def convert(model, representative: np.ndarray, *, int8: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rows = np.asarray(representative, dtype=np.float32)
        if not len(rows):
            raise ValueError("no training rows to calibrate the int8 model with")

        def dataset():
            for i in range(len(rows)):
                yield [rows[i : i + 1]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.convert()


def _interpreter(content: bytes):
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        return tf.lite.Interpreter(model_content=content)


def predict(content: bytes, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """The model's (dequantized) output for ``x`` through the TFLite interpreter."""
    interpreter = _interpreter(content)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    x = np.asarray(x, dtype=np.float32)
    chunks = []
    for start in range(0, len(x), batch):
        xb = x[start : start + batch]
        interpreter.resize_tensor_input(inp["index"], [len(xb), *xb.shape[1:]])
        interpreter.allocate_tensors()
        if inp["dtype"] in (np.int8, np.uint8):
            scale, zero = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            xb = np.clip(np.round(xb / scale + zero), info.min, info.max)
        interpreter.set_tensor(inp["index"], xb.astype(inp["dtype"]))
        interpreter.invoke()
        yb = interpreter.get_tensor(out["index"]).astype(np.float32)
        if out["dtype"] in (np.int8, np.uint8):
            scale, zero = out["quantization"]
            yb = (yb - zero) * scale
        chunks.append(yb)
    return np.concatenate(chunks) if chunks else np.zeros((0,), dtype=np.float32)


def accuracy(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Share of rows whose argmax (or > 0.5 for one output) is the label; None for regression."""
    y = np.asarray(y_true)
    scores = np.asarray(scores)
    if not len(y):
        return None
    if y.ndim > 1 and y.shape[-1] > 1:
        y = y.argmax(axis=-1)
    y = y.reshape(-1)
    if y.dtype.kind == "f" and not np.all(np.equal(np.mod(y, 1), 0)):
        return None
    if scores.ndim == 1 or scores.shape[-1] == 1:
        predicted = (scores.reshape(-1) > 0.5).astype(np.int64)
    else:
        predicted = scores.reshape(len(scores), -1).argmax(axis=1)
    return float(np.mean(predicted == y.astype(np.int64)))


def export(
    model, directory: Path, representative: np.ndarray, test: tuple[np.ndarray, np.ndarray] | None
) -> tuple[dict[str, str], dict[str, Any]]:
    """Write the float and int8 files; returns (files for metadata, the ``tflite`` summary)."""
    files: dict[str, str] = {}
    info: dict[str, Any] = {}
    for kind, filename, int8 in (("tflite", FLOAT_FILE, False), ("tflite_int8", INT8_FILE, True)):
        entry: dict[str, Any] = {"file": None}
        info[kind] = entry
        try:
            content = convert(model, representative, int8=int8)
        except Exception as exc:  # recorded: the native and ONNX files still ship
            log.warning("TensorFlow Lite conversion (%s) failed: %s", kind, exc)
            entry["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            continue
        (Path(directory) / filename).write_bytes(content)
        files[kind] = filename
        entry.update(file=filename, bytes=len(content))
        if int8:
            entry["calibration_rows"] = int(len(representative))
        if test is not None and len(test[0]):
            try:
                entry["test_accuracy"] = accuracy(test[1], predict(content, test[0]))
            except Exception as exc:
                log.warning("TensorFlow Lite evaluation (%s) failed: %s", kind, exc)
                entry["evaluation_error"] = f"{type(exc).__name__}: {exc}"[:2000]
    return files, info
