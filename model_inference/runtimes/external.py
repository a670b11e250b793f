"""External model servers: each micro-batch goes to a model server over HTTP.

Protocols (option ``protocol``):

* ``v2`` (default): the Open Inference Protocol V2 REST API (KServe, MLServer, Triton):
  ``POST {url}/v2/models/{model_name}[/versions/{model_version}]/infer`` with
  ``{"inputs": [{"name", "shape", "datatype", "data"}]}``;
* ``tfserving``: TF Serving's REST predict API:
  ``POST {url}/v1/models/{model_name}[/versions/{model_version}]:predict`` with
  ``{"instances": [...]}``.

The artifact directory is still read (``metadata.json``: input shape and dtype, outputs,
early-exit sub-model, output kind) so records are checked and reshaped as for the embedded
runtimes; the model itself runs on the server.

Failure rules (the same DLQ/commit rules as the embedded runtimes, see docs/inference.md):

* the server cannot be reached, times out, or answers 404/408/429/502/503/504: the call is
  retried ``retries`` times with exponential backoff; when it still fails the batch raises
  :class:`~model_inference.runtimes.base.RuntimeUnavailable`: the worker produces nothing for
  it, does not commit it, and reads it again later (no loss, no dead letters);
* the server answers another error (400, 422, 500...): the records are to blame; the core
  bisects the batch and sends the records that fail alone to the dead-letter topic.

Options: ``url`` (required), ``protocol``, ``model_name`` (default the artifact's
``metadata.json`` name or ``model``), ``model_version``, ``timeout_ms`` (default 5000),
``retries`` (default 3), ``backoff_ms`` (first retry delay, default 100, doubled each time),
``concurrency`` (requests in flight at once, default 4; a batch larger than ``max_batch``
is split into that many requests), ``max_batch`` (records a request, default 0: the whole
batch in one request).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from .base import Runtime, RuntimeLoadError, RuntimeUnavailable

PROTOCOLS = ("v2", "tfserving")
# answers meaning "the server (or the model on it) is not there now": retry, never DLQ
UNAVAILABLE_STATUSES = frozenset({404, 408, 429, 502, 503, 504})

# Open Inference Protocol datatypes
V2_DATATYPES = {
    "float32": "FP32",
    "float64": "FP64",
    "float16": "FP16",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "bool": "BOOL",
}
NUMPY_DATATYPES = {v: np.dtype(k) for k, v in V2_DATATYPES.items()}


class ServerError(RuntimeError):
    """The server answered an error that is attributed to the records (bisected, DLQ)."""


def v2_request(name: str, batch: np.ndarray) -> dict:
    datatype = V2_DATATYPES.get(batch.dtype.name)
    if datatype is None:
        raise ValueError(f"dtype {batch.dtype} has no Open Inference Protocol datatype")
    return {
        "inputs": [
            {
                "name": name,
                "shape": list(batch.shape),
                "datatype": datatype,
                "data": batch.ravel().tolist(),
            }
        ]
    }


def v2_outputs(answer: dict, order: list[str] | None = None) -> list[np.ndarray]:
    outputs = answer.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise ServerError(f"the server's answer has no outputs: {str(answer)[:200]}")
    if order:
        by_name = {o.get("name"): o for o in outputs}
        if all(name in by_name for name in order):
            outputs = [by_name[name] for name in order]
    arrays = []
    for o in outputs:
        dtype = NUMPY_DATATYPES.get(o.get("datatype"), np.dtype(np.float32))
        arrays.append(np.asarray(o["data"], dtype=dtype).reshape(o["shape"]))
    return arrays


def tfserving_request(batch: np.ndarray) -> dict:
    return {"instances": batch.tolist()}


def tfserving_outputs(answer: dict, order: list[str] | None = None) -> list[np.ndarray]:
    if "predictions" in answer:
        rows = answer["predictions"]
        if rows and isinstance(rows[0], dict):  # several named outputs, row format
            names = order if order and all(n in rows[0] for n in order) else list(rows[0])
            return [np.asarray([row[n] for row in rows]) for n in names]
        return [np.asarray(rows)]
    if "outputs" in answer:  # columnar format
        outputs = answer["outputs"]
        if isinstance(outputs, dict):
            names = order if order and all(n in outputs for n in order) else list(outputs)
            return [np.asarray(outputs[n]) for n in names]
        return [np.asarray(outputs)]
    raise ServerError(f"the server's answer has no predictions: {str(answer)[:200]}")


class ExternalRuntime(Runtime):
    name = "external"

    def _load(self, artifact_dir: Path) -> None:
        o = self.options
        url = o.get("url")
        if not url:
            raise RuntimeLoadError("the external runtime needs a model server url")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RuntimeLoadError(f"model server url must be http(s)://host[:port]: {url!r}")
        self.protocol = (o.get("protocol") or "v2").lower()
        if self.protocol not in PROTOCOLS:
            raise RuntimeLoadError(f"protocol must be one of {', '.join(PROTOCOLS)}")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        base = parts.path.rstrip("/")
        model = o.get("model_name") or self.metadata.get("name") or "model"
        version = o.get("model_version")
        if self.protocol == "v2":
            path = f"{base}/v2/models/{model}"
            self.path = f"{path}/versions/{version}/infer" if version else f"{path}/infer"
        else:
            path = f"{base}/v1/models/{model}"
            self.path = f"{path}/versions/{version}:predict" if version else f"{path}:predict"
        self.timeout = float(o.get("timeout_ms") or 5000) / 1000.0
        self.retries = int(o.get("retries") if o.get("retries") is not None else 3)
        self.backoff = float(o.get("backoff_ms") or 100) / 1000.0
        self.concurrency = max(1, int(o.get("concurrency") or 4))
        self.max_batch = int(o.get("max_batch") or 0)
        inputs = self.metadata.get("inputs") or []
        self.input_name = (inputs[0].get("name") if inputs else None) or "input"
        self.output_order = [
            out["name"] for out in self.metadata.get("outputs") or [] if out.get("name")
        ]
        self._local = threading.local()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="external")
        self.calls = 0  # HTTP requests sent (retries included)
        self.failures = 0  # requests that failed (unavailable)

    # ------------------------------------------------------------------ http
    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _post(self, body: bytes) -> dict:
        """One request, retried while the server is unavailable."""
        delay = self.backoff
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            self.calls += 1
            try:
                with self._slots:
                    conn = self._connection()
                    conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                    response = conn.getresponse()
                    status, payload = response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, timeout
                self._drop_connection()
                self.failures += 1
                last = f"{type(exc).__name__}: {exc}"
                continue
            if status == 200:
                try:
                    return json.loads(payload)
                except ValueError as exc:
                    raise ServerError(f"the server's answer is not JSON: {exc}") from None
            text = payload[:300].decode("utf-8", "replace")
            if status in UNAVAILABLE_STATUSES:
                self.failures += 1
                last = f"HTTP {status}: {text}"
                continue
            raise ServerError(f"model server answered HTTP {status}: {text}")
        raise RuntimeUnavailable(
            f"model server {self.scheme}://{self.host}:{self.port}{self.path} unavailable "
            f"after {self.retries + 1} attempts: {last}"
        )

    def _call(self, batch: np.ndarray) -> list[np.ndarray]:
        if self.protocol == "v2":
            body = json.dumps(v2_request(self.input_name, batch)).encode()
            outputs = v2_outputs(self._post(body), self.output_order)
        else:
            body = json.dumps(tfserving_request(batch)).encode()
            outputs = tfserving_outputs(self._post(body), self.output_order)
        for out in outputs:
            if out.ndim == 0 or out.shape[0] != len(batch):
                raise ServerError(f"output shape {out.shape} does not match {len(batch)} rows")
        return outputs

    def _predict(self, batch: np.ndarray) -> list[np.ndarray]:
        if not self.max_batch or len(batch) <= self.max_batch:
            return self._call(batch)
        pieces = [batch[i : i + self.max_batch] for i in range(0, len(batch), self.max_batch)]
        results = list(self._pool.map(self._call, pieces))
        return [np.concatenate(parts) for parts in zip(*results, strict=True)]

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)
        if getattr(self, "_local", None) is not None:
            self._drop_connection()

    def _detect_output_kind(self, artifact_dir: Path) -> None:
        # read from the artifact's ONNX graph when there is one (same as embedded)
        try:
            super()._detect_output_kind(artifact_dir)
        except Exception:  # noqa: BLE001 - the server has the model; the kind stays unknown
            pass


def external_options(config: dict[str, Any] | None) -> dict[str, Any]:
    """The runtime options of an inference's ``external`` settings (unknown keys dropped)."""
    keys = (
        "url",
        "protocol",
        "model_name",
        "model_version",
        "timeout_ms",
        "retries",
        "backoff_ms",
        "concurrency",
        "max_batch",
    )
    return {k: v for k, v in (config or {}).items() if k in keys and v not in (None, "")}
