"""JSON sink: each sample goes as a JSON array (or object), each label as JSON in the key."""

from __future__ import annotations

from typing import Any

import numpy as np

from .codecs import JsonCodec, dtype_name, shape_to_string
from .sink import KafkaMLSink


class JsonSink(KafkaMLSink):
    """Sink of JSON training data.

    Args:
        boostrap_servers / bootstrap_servers, topic, deployment_id, description,
        data_reshape: dimensions of one sample (taken from the first array sample when None),
        fields: key order of object samples (taken from the first dict sample when None),
        validation_rate, test_rate, control_topic, group_id: see :class:`KafkaMLSink`.
        data_type, label_type: optional dtype names announced to the platform.
    """

    def __init__(
        self,
        boostrap_servers: str | None = None,
        topic: str | None = None,
        deployment_id: int | str | None = None,
        description: str = "",
        data_reshape: str | None = None,
        fields: list[str] | None = None,
        validation_rate: float = 0,
        test_rate: float = 0,
        control_topic: str | None = None,
        group_id: str = "sink",
        *,
        data_type: str | None = None,
        label_type: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            boostrap_servers,
            topic,
            deployment_id,
            "JSON",
            description,
            validation_rate,
            test_rate,
            control_topic,
            group_id,
            **kwargs,
        )
        self.input_config = {
            "data_reshape": data_reshape,
            "fields": list(fields) if fields else None,
        }
        if data_type:
            self.input_config["data_type"] = data_type
        if label_type:
            self.input_config["label_type"] = label_type
        self._shape: tuple[int, ...] | None = None
        self.codec = JsonCodec(self.input_config)

    def _infer(self, data: Any) -> None:
        cfg = self.input_config
        if isinstance(data, dict):
            if not cfg.get("fields"):
                cfg["fields"] = list(data)
        else:
            arr = np.asarray(data)
            if arr.dtype.kind not in "biuf":
                raise ValueError(f"JSON samples must be numeric, got dtype {arr.dtype}")
            self._shape = arr.shape
            if not cfg.get("data_reshape") and arr.ndim > 1:
                cfg["data_reshape"] = shape_to_string(arr.shape)
            if "data_type" not in cfg and isinstance(data, np.ndarray):
                cfg["data_type"] = dtype_name(arr.dtype)
        self.codec = JsonCodec(cfg)

    def send(self, data: Any, label: Any = None) -> None:
        self._check_open()
        if isinstance(data, bytes):
            value = data
        else:
            if self.sent == 0 and self._shape is None:
                self._infer(data)
            elif self._shape is not None and not isinstance(data, dict):
                shape = np.shape(data)
                if shape != self._shape:
                    raise ValueError(
                        f"sample has shape {shape}, but the first sample had shape {self._shape}"
                    )
            value = self.codec.encode(data)
        key = (
            None
            if label is None
            else (label if isinstance(label, bytes) else self.codec.encode_label(label))
        )
        self._produce_record(value, key)

    def send_batch(self, data: Any, labels: Any = None) -> None:
        if labels is None:
            for d in data:
                self.send(d)
        else:
            for d, label in zip(data, labels, strict=True):
                self.send(d, label)
