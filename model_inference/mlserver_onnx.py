"""An MLServer runtime serving a Kafka-ML ONNX artifact (the files the platform trains:
``metadata.json`` + ``model.onnx``) over the Open Inference Protocol, so an inference with the
``external`` runtime can be pointed at it. Runs inside MLServer's own environment (``mlserver``
and ``onnxruntime``), not in the worker's.

``model-settings.json`` of the served model::

    {"name": "mnist", "implementation": "mlserver_onnx.KafkaMLOnnx",
     "parameters": {"uri": "/path/to/artifact"}}

with this file on MLServer's ``PYTHONPATH`` (or copied beside ``model-settings.json``).
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class KafkaMLOnnx(MLModel):
    async def load(self) -> bool:
        uri = self.settings.parameters.uri
        with open(os.path.join(uri, "metadata.json")) as f:
            metadata = json.load(f)
        name = (metadata.get("files") or {}).get("onnx") or "model.onnx"
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(os.environ.get("KAFKAML_ORT_THREADS", "1"))
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            os.path.join(uri, name), so, providers=["CPUExecutionProvider"]
        )
        self._onnx_input = self._session.get_inputs()[0]
        self._onnx_outputs = [o.name for o in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        batch = NumpyCodec.decode_input(payload.inputs[0])
        if self._onnx_input.type == "tensor(float)":
            batch = batch.astype(np.float32, copy=False)
        dims = self._onnx_input.shape[1:]
        if dims and all(isinstance(d, int) for d in dims):
            batch = batch.reshape((len(batch), *dims))
        results = self._session.run(self._onnx_outputs, {self._onnx_input.name: batch})
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[
                NumpyCodec.encode_output(name, np.asarray(value))
                for name, value in zip(self._onnx_outputs, results, strict=True)
            ],
        )
