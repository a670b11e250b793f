"""The Runtime seam: one loaded model that predicts on whole batches."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np


class RuntimeLoadError(RuntimeError):
    """A model could not be loaded or run."""


class RuntimeUnavailable(RuntimeError):
    """The model cannot be reached now (an external model server that is down): the whole
    batch is to be read again later, never sent to the dead-letter topic."""


class Runtime(ABC):
    """``load(artifact_dir)`` / ``predict(batch) -> list[np.ndarray]`` / ``close()``.

    ``predict`` takes one stacked batch (first dimension = records) and returns every model
    output as an array whose first dimension is the same batch dimension. Implementations cast
    and reshape the batch to what the model declares (``metadata.json`` inputs) when the
    element count per record matches.
    """

    name: str = ""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.metadata: dict = {}
        self.input_shape: tuple[int, ...] | None = None  # one record, without the batch dim
        self.input_dtype: np.dtype = np.dtype(np.float32)

    def load(self, artifact_dir: str | Path) -> Runtime:
        artifact_dir = Path(artifact_dir)
        self.metadata = read_metadata(artifact_dir)
        inputs = self.metadata.get("inputs") or []
        if inputs:
            shape = inputs[0].get("shape")
            if shape:
                dims = tuple(shape[1:])
                if all(isinstance(d, int) and d > 0 for d in dims):
                    self.input_shape = dims
            dtype = inputs[0].get("dtype")
            if dtype:
                self.input_dtype = np.dtype(dtype)
        self._load(artifact_dir)
        self._detect_output_kind(artifact_dir)
        return self

    @abstractmethod
    def _load(self, artifact_dir: Path) -> None: ...

    @abstractmethod
    def _predict(self, batch: np.ndarray) -> list[np.ndarray]: ...

    def predict(self, batch: np.ndarray) -> list[np.ndarray]:
        return self._predict(self.prepare(batch))

    def prepare(self, batch: np.ndarray) -> np.ndarray:
        """Cast to the declared input dtype and reshape to the declared record shape."""
        batch = np.asarray(batch)
        if batch.dtype != self.input_dtype:
            batch = batch.astype(self.input_dtype)
        if self.input_shape is not None and batch.shape[1:] != self.input_shape:
            per_record = int(np.prod(self.input_shape))
            if batch.ndim == 0 or batch[0].size != per_record:
                raise ValueError(
                    f"record shape {batch.shape[1:]} does not fit model input {self.input_shape}"
                )
            batch = batch.reshape((batch.shape[0], *self.input_shape))
        return batch

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @property
    def version(self) -> Any:
        return self.metadata.get("version")

    @property
    def distributed(self) -> bool:
        return bool(self.metadata.get("distributed"))

    @property
    def output_kind(self) -> str | None:
        """ "probabilities" or "logits" (of the output a confidence is read from): recorded in
        metadata.json at training time, or, for older artifacts, read from the ONNX graph."""
        return self.metadata.get("output_kind") or getattr(self, "_detected_output_kind", None)

    def _detect_output_kind(self, artifact_dir: Path) -> None:
        if self.metadata.get("output_kind"):
            return
        from worker_common.onnx_outputs import prediction_output_kind

        path = artifact_file(artifact_dir, self.metadata, "onnx", "model.onnx")
        if path.exists():
            distributed = self.distributed if "distributed" in self.metadata else None
            self._detected_output_kind = prediction_output_kind(path, distributed)


def read_metadata(artifact_dir: str | Path) -> dict:
    path = Path(artifact_dir) / "metadata.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise RuntimeLoadError(f"no metadata.json in {artifact_dir}") from exc
    except ValueError as exc:
        raise RuntimeLoadError(f"{path} is not valid JSON: {exc}") from exc


def artifact_file(artifact_dir: Path, metadata: dict, kind: str, default: str) -> Path:
    """The file of one format (``onnx`` / ``native``) named by metadata, or the default name."""
    name = (metadata.get("files") or {}).get(kind) or default
    return Path(artifact_dir) / name
