"""PyTorch TorchScript models: ``model.pt`` (loads without the user's class)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .base import Runtime, RuntimeLoadError, artifact_file


class TorchRuntime(Runtime):
    name = "pytorch"

    def _load(self, artifact_dir: Path) -> None:
        import torch

        threads = self.options.get("intra_op_threads")
        if threads:
            torch.set_num_threads(int(threads))
        path = artifact_file(artifact_dir, self.metadata, "native", "model.pt")
        if not path.exists():
            raise RuntimeLoadError(f"no TorchScript model at {path}")
        self._torch = torch
        with warnings.catch_warnings():  # TorchScript is deprecated but is the contract's format
            warnings.simplefilter("ignore", DeprecationWarning)
            self.model = torch.jit.load(str(path), map_location="cpu")
        self.model.eval()

    def _predict(self, batch: np.ndarray) -> list[np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            out = self.model(torch.from_numpy(np.ascontiguousarray(batch)))
        if isinstance(out, dict):
            out = list(out.values())
        if not isinstance(out, (list, tuple)):
            out = [out]
        return [o.detach().cpu().numpy() for o in out]

    def close(self) -> None:
        self.model = None
