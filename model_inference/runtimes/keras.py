"""Keras (TensorFlow) native models: ``model.keras``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .base import Runtime, RuntimeLoadError, artifact_file


class KerasRuntime(Runtime):
    name = "keras"

    def _load(self, artifact_dir: Path) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import tensorflow as tf

        threads = self.options.get("intra_op_threads")
        if threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(int(threads))
                tf.config.threading.set_inter_op_parallelism_threads(1)
            except RuntimeError:  # already initialised in this process
                pass
        path = artifact_file(artifact_dir, self.metadata, "native", "model.keras")
        if not path.exists():
            raise RuntimeLoadError(f"no Keras model at {path}")
        self.model = keras.models.load_model(str(path), compile=False)
        self._fn = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def _predict(self, batch: np.ndarray) -> list[np.ndarray]:
        out = self._fn(batch)
        if isinstance(out, dict):
            out = list(out.values())
        if not isinstance(out, (list, tuple)):
            out = [out]
        return [o.numpy() if hasattr(o, "numpy") else np.asarray(o) for o in out]

    def close(self) -> None:
        self.model = None
        self._fn = None
