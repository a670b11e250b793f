"""AVRO sink: each sample and label goes as one schemaless Avro record."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from .codecs import AvroCodec
from .sink import KafkaMLSink


def _read_schema(schema: Any, filename: str | None, what: str) -> str | None:
    """Schema JSON text from a schema (str/dict), a path to a schema file, or ``filename``."""
    if schema is None and filename:
        with open(filename, encoding="utf-8") as fh:
            return fh.read()
    if schema is None:
        return None
    if isinstance(schema, Mapping):
        return json.dumps(schema)
    text = str(schema)
    if not text.lstrip().startswith("{") and os.path.isfile(text):
        with open(text, encoding="utf-8") as fh:
            return fh.read()
    json.loads(text)  # fail early on a malformed schema
    return text


class AvroSink(KafkaMLSink):
    """Sink of AVRO training data.

    Args (original names and order):
        boostrap_servers / bootstrap_servers, topic, deployment_id,
        data_scheme_filename, label_scheme_filename: paths of the Avro schema files,
        description, validation_rate, test_rate, control_topic, group_id.
    Keywords:
        data_scheme, label_scheme: the schemas themselves (JSON text, dict, or a file path)
            instead of the file names.

    ``send_avro(data, label)`` / ``send(data, label)`` take dicts (or sequences in field order);
    bytes are sent as they are (already encoded).
    """

    def __init__(
        self,
        boostrap_servers: str | None = None,
        topic: str | None = None,
        deployment_id: int | str | None = None,
        data_scheme_filename: str | None = None,
        label_scheme_filename: str | None = None,
        description: str = "",
        validation_rate: float = 0,
        test_rate: float = 0,
        control_topic: str | None = None,
        group_id: str = "sink",
        *,
        data_scheme: Any = None,
        label_scheme: Any = None,
        **kwargs: Any,
    ):
        self.data_scheme_filename = data_scheme_filename
        self.label_scheme_filename = label_scheme_filename
        self.data_schema = _read_schema(data_scheme, data_scheme_filename, "data_scheme")
        self.label_schema = _read_schema(label_scheme, label_scheme_filename, "label_scheme")
        if self.data_schema is None:
            raise ValueError("AvroSink needs data_scheme (or data_scheme_filename)")
        config = {"data_scheme": self.data_schema, "label_scheme": self.label_schema}
        self.codec = AvroCodec(config)  # validates both schemas
        super().__init__(
            boostrap_servers,
            topic,
            deployment_id,
            "AVRO",
            description,
            validation_rate,
            test_rate,
            control_topic,
            group_id,
            **kwargs,
        )
        self.input_config = config

    def send(self, data: Any, label: Any = None) -> None:
        self._check_open()
        value = data if isinstance(data, bytes) else self.codec.encode(data)
        if label is None or isinstance(label, bytes):
            key = label
        else:
            key = self.codec.encode_label(label)
        self._produce_record(value, key)

    def send_avro(self, data: Any, label: Any = None) -> None:
        """Encode ``data`` and ``label`` with their schemas and send them (original name)."""
        self.send(data, label)

    def send_batch(self, data: Any, labels: Any = None) -> None:
        encode = self.codec.encode
        values = [encode(d) for d in data]
        keys = [self.codec.encode_label(label) for label in labels] if labels is not None else None
        self._produce_many(values, keys)
