"""ONNX Runtime (default: fastest on CPU)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .base import Runtime, RuntimeLoadError, artifact_file


class OnnxRuntime(Runtime):
    """Options: ``intra_op_threads`` (default ``KAFKAML_ORT_THREADS`` or 1), ``spinning``."""

    name = "onnx"

    def _load(self, artifact_dir: Path) -> None:
        import onnxruntime as ort

        path = artifact_file(artifact_dir, self.metadata, "onnx", "model.onnx")
        if not path.exists():
            raise RuntimeLoadError(f"no ONNX model at {path}")
        threads = self.options.get("intra_op_threads")
        if threads is None:
            threads = int(os.environ.get("KAFKAML_ORT_THREADS", "1"))
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not self.options.get("spinning", False):
            # Busy-waiting worker threads steal the core the broker and librdkafka need.
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.output_names = [o.name for o in self.session.get_outputs()]
        ort_dtype = _ORT_TYPES.get(model_input.type)
        if ort_dtype is not None:
            self.input_dtype = np.dtype(ort_dtype)
        dims = tuple(model_input.shape[1:])
        if dims and all(isinstance(d, int) and d > 0 for d in dims):
            self.input_shape = dims

    def _predict(self, batch: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.output_names, {self.input_name: batch})

    def close(self) -> None:
        self.session = None


_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}
