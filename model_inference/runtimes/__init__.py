"""Runtime registry: ``onnx`` (default), ``keras``, ``pytorch``, ``external`` (a model server).

Framework imports happen inside each runtime module's ``load``, so importing this package
costs nothing.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from .base import Runtime, RuntimeLoadError, RuntimeUnavailable, artifact_file, read_metadata

log = logging.getLogger(__name__)

__all__ = [
    "RUNTIMES",
    "Runtime",
    "RuntimeLoadError",
    "RuntimeUnavailable",
    "choose_runtime_name",
    "get_runtime_class",
    "load_runtime",
]

# name -> "module:Class"; aliases point at the same entry
RUNTIMES: dict[str, str] = {
    "onnx": "model_inference.runtimes.onnx:OnnxRuntime",
    "keras": "model_inference.runtimes.keras:KerasRuntime",
    "tensorflow": "model_inference.runtimes.keras:KerasRuntime",
    "pytorch": "model_inference.runtimes.torch:TorchRuntime",
    "torch": "model_inference.runtimes.torch:TorchRuntime",
    # a model server (Open Inference Protocol V2 or TF Serving REST): runtimes/external.py
    "external": "model_inference.runtimes.external:ExternalRuntime",
}


# canonical framework (mlcode_executor.frameworks, the one alias table) -> native runtime
NATIVE_RUNTIMES = {"tensorflow": "keras", "pytorch": "pytorch"}


def get_runtime_class(name: str) -> type[Runtime]:
    try:
        target = RUNTIMES[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown runtime {name!r}; choose one of {', '.join(sorted(RUNTIMES))}"
        ) from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def choose_runtime_name(artifact_dir: str | Path, requested: str | None = None) -> str:
    """The requested runtime; ONNX (the default) falls back to the native runtime of the
    artifact's framework when the artifact has no ONNX file (e.g. the export failed)."""
    requested = (requested or "auto").lower()
    if requested != "auto":
        get_runtime_class(requested)  # fail loudly on unknown names
    metadata = read_metadata(artifact_dir)
    has_onnx = artifact_file(Path(artifact_dir), metadata, "onnx", "model.onnx").exists()
    if requested not in ("auto", "onnx") or has_onnx:
        return "onnx" if requested == "auto" else requested
    if requested == "onnx":
        log.warning("%s has no ONNX model: using the native one", artifact_dir)
    from mlcode_executor.frameworks import normalize_framework

    framework = metadata.get("framework") or ""
    try:
        return NATIVE_RUNTIMES[normalize_framework(framework)]
    except ValueError:
        raise RuntimeLoadError(
            f"{artifact_dir}: no ONNX model and unknown framework {framework!r} in metadata.json"
        ) from None


def load_runtime(artifact_dir: str | Path, requested: str | None = None, **options: Any) -> Runtime:
    """Pick (see :func:`choose_runtime_name`), instantiate and load a runtime."""
    name = choose_runtime_name(artifact_dir, requested)
    runtime = get_runtime_class(name)(**options)
    runtime.load(artifact_dir)
    return runtime
