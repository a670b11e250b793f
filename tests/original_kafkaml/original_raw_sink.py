"""The original Kafka-ML ``RawSink`` as a user's old script has it: kafka-python only.

Written here from the wire protocol (docs/protocol.md), not taken from the original library: it
reproduces what the original sink put on the wire, so the tests can check that such a script
keeps working unchanged against this platform. It deliberately imports nothing of ours (no
``datasources``): only kafka-python and NumPy, as on a user's machine with the old library.

What goes on the wire:

- one record per sample to ``topic`` (partition 0): value = the sample's bytes (C order,
  little-endian, ``data_type``), key = the label's bytes (``label_type``);
- on :meth:`RawSink.close`, once every record is acknowledged, one control message to
  ``control_topic`` (default ``KAFKA_ML_CONTROL_TOPIC``): key = the deployment id as a
  big-endian integer of the fewest bytes (one byte below 256, as the old sinks sent it), value =
  the JSON object with ``topic`` as ``topic:partition:start:end`` ranges, ``input_format``,
  ``input_config``, ``description``, ``validation_rate``, ``test_rate`` and ``total_msg``; no
  ``incremental`` field (old sinks never sent one: the platform takes its default).

Security settings go to kafka-python's ``KafkaProducer`` through its own keyword arguments
(``security_protocol``, ``sasl_mechanism``, ``sasl_plain_username``, ``sasl_plain_password``,
``ssl_cafile``, ...), which the sink passes on unchanged, as does any other kafka-python setting.
"""

from __future__ import annotations

import json
import threading

import numpy as np
from kafka import KafkaProducer

CONTROL_TOPIC = "KAFKA_ML_CONTROL_TOPIC"


class KafkaMLSink:
    """Send records to a topic, then announce them to Kafka-ML with a control message."""

    def __init__(
        self,
        boostrap_servers,
        topic,
        deployment_id,
        input_format,
        description="",
        validation_rate=0,
        test_rate=0,
        control_topic=CONTROL_TOPIC,
        group_id="sink",
        **kafka_kwargs,
    ):
        self.boostrap_servers = boostrap_servers
        self.topic = topic
        self.deployment_id = int(deployment_id)
        self.input_format = input_format
        self.description = description
        self.validation_rate = validation_rate
        self.test_rate = test_rate
        self.control_topic = control_topic
        self.group_id = group_id  # the original used it for its offsets consumer; unused here
        self.input_config = {}
        self.partition = 0
        self._lock = threading.Lock()
        self._offsets: dict[int, list[int]] = {}  # partition -> [first, last] acknowledged
        self._errors: list[BaseException] = []
        self._producer = KafkaProducer(bootstrap_servers=boostrap_servers, **kafka_kwargs)

    def _acknowledged(self, metadata) -> None:
        with self._lock:
            span = self._offsets.setdefault(metadata.partition, [metadata.offset] * 2)
            span[0] = min(span[0], metadata.offset)
            span[1] = max(span[1], metadata.offset)

    def _failed(self, exc) -> None:
        with self._lock:
            self._errors.append(exc)

    def _send(self, value: bytes, key: bytes | None) -> None:
        future = self._producer.send(self.topic, value=value, key=key, partition=self.partition)
        future.add_callback(self._acknowledged)
        future.add_errback(self._failed)

    def _control_key(self) -> bytes:
        n = self.deployment_id
        return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")

    def control_message(self) -> dict:
        spans = sorted(self._offsets.items())
        return {
            "topic": ",".join(f"{self.topic}:{p}:{first}:{last + 1}" for p, (first, last) in spans),
            "input_format": self.input_format,
            "input_config": self.input_config,
            "description": self.description,
            "validation_rate": self.validation_rate,
            "test_rate": self.test_rate,
            "total_msg": sum(last + 1 - first for _, (first, last) in spans),
        }

    def close(self) -> dict:
        """Wait for every record, send the control message, close; returns the message."""
        self._producer.flush()
        if self._errors:
            self._producer.close()
            raise RuntimeError(f"{len(self._errors)} records were not delivered: {self._errors[0]}")
        message = self.control_message()
        future = self._producer.send(
            self.control_topic,
            value=json.dumps(message).encode("utf-8"),
            key=self._control_key(),
        )
        self._producer.flush()
        future.get(timeout=30)  # raises if the broker refused it
        self._producer.close()
        return message


class RawSink(KafkaMLSink):
    """RAW training data: NumPy samples and labels, sent as their bytes."""

    def __init__(
        self,
        boostrap_servers,
        topic,
        deployment_id,
        data_type=None,
        label_type=None,
        description="",
        data_reshape=None,
        label_reshape=None,
        validation_rate=0,
        test_rate=0,
        control_topic=CONTROL_TOPIC,
        group_id="sink",
        **kafka_kwargs,
    ):
        super().__init__(
            boostrap_servers,
            topic,
            deployment_id,
            "RAW",
            description,
            validation_rate,
            test_rate,
            control_topic,
            group_id,
            **kafka_kwargs,
        )
        self.data_type = data_type
        self.label_type = label_type
        self.data_reshape = data_reshape
        self.label_reshape = label_reshape
        self._update_config()

    def _update_config(self) -> None:
        self.input_config = {
            "data_type": self.data_type,
            "label_type": self.label_type,
            "data_reshape": self.data_reshape,
            "label_reshape": self.label_reshape,
        }

    @staticmethod
    def _bytes(array, dtype) -> bytes:
        return np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()

    def send(self, data, label=None) -> None:
        data = np.asarray(data)
        if self.data_type is None:  # taken from the first sample when not given
            self.data_type = data.dtype.name
            self.data_reshape = self.data_reshape or " ".join(str(d) for d in data.shape)
        key = None
        if label is not None:
            label = np.asarray(label)
            if self.label_type is None:
                self.label_type = label.dtype.name
                self.label_reshape = self.label_reshape or " ".join(str(d) for d in label.shape)
            key = self._bytes(label, self.label_type)
        self._update_config()
        self._send(self._bytes(data, self.data_type), key)
