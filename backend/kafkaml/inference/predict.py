"""Synchronous predictions for clients that are not on Kafka (``POST .../predict``).

The request and answer follow the Open Inference Protocol (KServe/MLServer "V2") JSON:
``{"inputs": [{"name", "shape": [n, ...], "datatype": "FP32", "data": [...]}]}`` in,
``{"model_name", "model_version", "outputs": [{"name", "shape", "datatype", "data"}]}`` out.

The answer is computed by the streaming worker's own code: the served artifact is loaded with
:func:`model_inference.runtimes.load_runtime` (the runtime the inference is configured with)
and the batch goes through :func:`model_inference.core.process_batch`, the one place where the
worker predicts (isolating records that fail) and formats outputs, so a record predicted here
equals the one the worker writes to the output topic. Loaded models are kept per
(result, version) in a small LRU (``KAFKAML_PREDICT_CACHE``, default 4) of this process.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from kafkaml.errors import ApplicationError, ConflictError, ServiceUnavailableError
from kafkaml.training.models import ModelArtifact

from .models import Inference, InferenceStatus

DEFAULT_MAX_BATCH = 1024
DEFAULT_CACHE_SIZE = 4

# V2 datatypes with a NumPy equivalent (BYTES is not a tensor a model here takes)
DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}


def max_batch() -> int:
    value = getattr(settings, "KAFKAML_PREDICT_MAX_BATCH", None)
    if value is None:
        value = os.environ.get("KAFKAML_PREDICT_MAX_BATCH", DEFAULT_MAX_BATCH)
    return max(1, int(value))


def _bad(message: str, field: str = "inputs") -> ApplicationError:
    return ApplicationError(message, errors={field: [message]})


# ---------------------------------------------------------------------------------------------
# loaded models (LRU per process)
# ---------------------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    spec: object  # model_inference.core.ModelSpec
    runtime: object
    output_name: str
    workdir: tempfile.TemporaryDirectory


class ModelCache:
    """(result id, version, artifact id) -> LoadedModel, least recently used evicted."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._models: OrderedDict[tuple, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple, threading.Lock] = {}

    def get(self, key: tuple, load) -> LoadedModel:
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:  # one load per key, other keys load in parallel
            with self._lock:
                if key in self._models:
                    self._models.move_to_end(key)
                    return self._models[key]
            model = load()
            with self._lock:
                self._models[key] = model
                self._loading.pop(key, None)
                while len(self._models) > self.size:
                    _, old = self._models.popitem(last=False)
                    old.workdir.cleanup()  # sessions hold the model in memory, not the file
            return model

    def keys(self) -> list[tuple]:
        with self._lock:
            return list(self._models)

    def clear(self) -> None:
        with self._lock:
            for model in self._models.values():
                model.workdir.cleanup()
            self._models.clear()


_cache = ModelCache(int(os.environ.get("KAFKAML_PREDICT_CACHE", DEFAULT_CACHE_SIZE)))


def model_cache() -> ModelCache:
    return _cache


def _load(artifact: ModelArtifact, runtime_name: str | None, options: dict) -> LoadedModel:
    from model_inference.core import ModelSpec
    from model_inference.runtimes import load_runtime
    from model_inference.sources import extract_archive, find_artifact_root

    workdir = tempfile.TemporaryDirectory(prefix=f"kafkaml-predict-{artifact.result_id}-")
    try:
        archive = Path(workdir.name) / "artifact.tar.gz"
        with artifact.archive.open("rb") as src, open(archive, "wb") as dest:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dest.write(chunk)
        extract_archive(archive, Path(workdir.name) / "x")
        archive.unlink()
        root = find_artifact_root(Path(workdir.name) / "x")
        runtime = load_runtime(root, runtime_name or None, **options)
    except Exception as exc:  # noqa: BLE001 - any load failure is a 503, not a 500
        workdir.cleanup()
        raise ServiceUnavailableError(
            f"The served model could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    # the same extra fields as the worker's output records
    extra = {"model_version": artifact.version, "result_id": artifact.result_id}
    spec = ModelSpec(
        runtime=runtime,
        version=artifact.version,
        distributed=runtime.distributed,
        limit=None,
        extra=extra,
        output_kind=getattr(runtime, "output_kind", None),
    )
    names = list(getattr(runtime, "output_names", None) or [])
    index = 1 if runtime.distributed else 0
    output_name = names[index] if len(names) > index else "output"
    return LoadedModel(spec=spec, runtime=runtime, output_name=output_name, workdir=workdir)


def served_model(inference: Inference) -> LoadedModel:
    artifact = ModelArtifact.objects.filter(
        result_id=inference.serving_result_id, version=inference.model_version
    ).first()
    if artifact is None:
        raise ConflictError("The served model version has no artifact.")
    options = {}
    if (inference.runtime or "").lower() == "external":  # as the worker: the model server
        from model_inference.runtimes.external import external_options

        options = external_options(getattr(inference, "external", None))
    key = (
        artifact.result_id,
        artifact.version,
        artifact.pk,
        inference.runtime or "",
        json.dumps(options, sort_keys=True, default=str),
    )
    return _cache.get(key, lambda: _load(artifact, inference.runtime, options))


# ---------------------------------------------------------------------------------------------
# request -> batch -> answer
# ---------------------------------------------------------------------------------------------


@dataclass
class _Decoded:
    """What ``process_batch`` reads of a codec's lenient decode (datasources.codecs)."""

    array: np.ndarray
    indices: np.ndarray
    errors: dict


class _TensorBatch:
    """A 'codec' whose batch is the request's tensor, already decoded."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def decode_batch_partial(self, values) -> _Decoded:
        return _Decoded(self.array, np.arange(len(self.array)), {})


def request_tensor(inputs: list[dict], *, input_shape, cap: int) -> np.ndarray:
    """The one input tensor of a V2 request as an array ``[n, ...]``; 400 when it is wrong."""
    if len(inputs) != 1:
        raise _bad(f"The model takes one input tensor, the request has {len(inputs)}.")
    tensor = inputs[0]
    datatype = str(tensor.get("datatype", "")).upper()
    if datatype not in DATATYPES:
        raise _bad(
            f"Unsupported datatype {tensor.get('datatype')!r}; use one of {', '.join(DATATYPES)}.",
            "inputs.datatype",
        )
    shape = [int(d) for d in tensor["shape"]]
    if not shape or any(d < 0 for d in shape) or shape[0] < 1:
        raise _bad(f"shape {shape} must be [n, ...] with n >= 1.", "inputs.shape")
    if shape[0] > cap:
        raise _bad(f"Batch of {shape[0]} rows is over the limit of {cap}.", "inputs.shape")
    dtype = DATATYPES[datatype]
    try:
        raw = np.asarray(tensor["data"], dtype=object if dtype.kind != "f" else np.float64)
        if raw.dtype == object and raw.size and not all(_is_number(v) for v in raw.ravel()):
            raise ValueError("not a number")
        numbers = raw.astype(np.float64) if raw.dtype == object else raw
        if dtype.kind in "iub" and raw.size and not np.all(np.mod(numbers, 1) == 0):
            raise ValueError("not an integer")
        array = np.asarray(tensor["data"], dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _bad(f"data does not hold {datatype} values: {exc}", "inputs.data") from None
    expected = math.prod(shape)
    if array.size != expected:
        raise _bad(
            f"data holds {array.size} values, shape {shape} needs {expected}.", "inputs.data"
        )
    array = array.reshape(shape)
    if input_shape is not None:
        per_record = math.prod(input_shape)
        got = math.prod(shape[1:])
        if got != per_record:
            raise _bad(
                f"shape {shape} does not fit the model input [n, "
                f"{', '.join(str(d) for d in input_shape)}].",
                "inputs.shape",
            )
    return array


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, str)


def inference_predict(*, inference: Inference, inputs: list[dict], request_id=None) -> dict:
    """Predict one batch with the inference's served model (V2 answer)."""
    from model_inference.core import process_batch

    if inference.status in (InferenceStatus.STOPPED, InferenceStatus.FAILED):
        raise ConflictError(f"The inference is {inference.status}.")
    started = time.perf_counter()
    loaded = served_model(inference)
    array = request_tensor(inputs, input_shape=loaded.runtime.input_shape, cap=max_batch())
    n = len(array)
    result = process_batch([None] * n, _TensorBatch(array), loaded.spec)
    if result.errors:
        first = sorted(result.errors.items())[:10]
        raise ApplicationError(
            "The model could not predict some rows.",
            errors={"inputs.data": [f"row {i}: {reason}" for i, reason in first]},
            status_code=422,
        )
    rows: list[list] = [[] for _ in range(n)]
    for index, value in zip(result.out_index, result.out_values, strict=True):
        rows[index] = json.loads(value)["values"]
    width = len(rows[0]) if rows else 0
    data = [v for row in rows for v in row]
    datatype = "FP32" if any(isinstance(v, float) or v is None for v in data) else "INT64"
    _observe(n, time.perf_counter() - started)
    answer = {
        "model_name": inference.serving_result.model.name,
        "model_version": str(loaded.spec.version),
        "outputs": [
            {"name": loaded.output_name, "shape": [n, width], "datatype": datatype, "data": data}
        ],
        "parameters": {"result_id": inference.serving_result_id},
    }
    if request_id is not None:
        answer["id"] = request_id
    return answer


def _observe(rows: int, seconds: float) -> None:
    from kafkaml import prometheus

    prometheus.predict_observe(rows, seconds)
