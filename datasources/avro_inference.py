"""Send Avro records to an inference's input topic and read its predictions.

The original Kafka-ML's ``datasources/avro_inference.py`` client, written for this platform with
the original's argument names (``boostrap_servers``, ``topic``, ``data_scheme_filename``,
``group_id``)::

    from datasources.avro_inference import AvroInference

    client = AvroInference("localhost:9092", "alice.sensors-in", "data.avsc",
                           output_topic="alice.sensors-out")
    client.send({"a": 1.0, "b": 2.0})
    [prediction] = client.receive(timeout=30)   # {"key": ..., "values": [...], ...}
    client.close()

Records are encoded by the platform's one codec (:class:`datasources.codecs.AvroCodec`), so the
inference must be deployed with input format ``AVRO`` and the same ``data_scheme``. Each record
gets a key of this client's own (``<random prefix>-<n>``); the inference copies the key to its
answer, which is how ``receive`` matches predictions to what was sent (answers to other
producers' records on the same output topic are skipped).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

from .avro_sink import _read_schema
from .codecs import AvroCodec
from .kafka_config import DURABLE_PRODUCER_CONFIG, client_config, from_kafka_python

__all__ = ["AvroInference"]


class AvroInference:
    """Client of an inference fed with Avro records.

    Args (original names and order):
        boostrap_servers / bootstrap_servers: the Kafka cluster of the inference's input topic,
        topic: the inference's input topic,
        data_scheme_filename: path of the Avro schema of one record,
        group_id: prefix of the consumer group reading the predictions (default ``sink``).
    Keywords:
        data_scheme: the schema itself (JSON text, dict or file path) instead of the file name,
        output_topic: the inference's output topic (needed by ``receive``/``predict``),
        output_bootstrap_servers: its cluster when it is another one (edge/cloud clusters),
        security_protocol, sasl_*, ssl_*: kafka-python style security settings, and
        kafka_config: extra librdkafka settings (both default to ``KAFKA_*`` variables).
    """

    def __init__(
        self,
        boostrap_servers: str | None = None,
        topic: str | None = None,
        data_scheme_filename: str | None = None,
        group_id: str = "sink",
        *,
        bootstrap_servers: str | None = None,
        data_scheme: Any = None,
        output_topic: str | None = None,
        output_bootstrap_servers: str | None = None,
        kafka_config: dict[str, Any] | None = None,
        **security: Any,
    ):
        if not topic:
            raise ValueError("topic is required (the inference's input topic)")
        self.topic = str(topic)
        self.output_topic = output_topic
        self.group_id = group_id
        self.data_scheme_filename = data_scheme_filename
        self.data_schema = _read_schema(data_scheme, data_scheme_filename, "data_scheme")
        if self.data_schema is None:
            raise ValueError("AvroInference needs data_scheme (or data_scheme_filename)")
        self.codec = AvroCodec({"data_scheme": self.data_schema})
        unknown = set(security) - {
            "security_protocol",
            "sasl_mechanism",
            "sasl_plain_username",
            "sasl_plain_password",
            "ssl_cafile",
            "ssl_certfile",
            "ssl_keyfile",
            "ssl_password",
        }
        if unknown:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(unknown))}")
        self._security = from_kafka_python(security)
        self._extra = dict(kafka_config or {})
        conf = client_config(bootstrap_servers or boostrap_servers, self._extra, **self._security)
        self.bootstrap_servers = self.boostrap_servers = conf["bootstrap.servers"]
        self.output_bootstrap_servers = output_bootstrap_servers or self.bootstrap_servers

        from confluent_kafka import Producer

        self._producer = Producer({**conf, **DURABLE_PRODUCER_CONFIG, "linger.ms": 5})
        self._prefix = uuid.uuid4().hex[:12]
        self._sent: list[str] = []
        self._answers: dict[str, dict[str, Any]] = {}
        self._errors: list[str] = []
        self._consumer = None

    # -- sending ---------------------------------------------------------------------------
    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self._errors.append(f"record {msg.key()!r}: {err}")

    def send(self, data: Any) -> str:
        """Send one record (a dict, or a sequence in schema field order); returns its key."""
        value = self.codec.encode(data)
        key = f"{self._prefix}-{len(self._sent)}"
        while True:
            try:
                self._producer.produce(
                    self.topic, value, key.encode(), on_delivery=self._on_delivery
                )
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)
        self._sent.append(key)
        return key

    def flush(self, timeout: float = 60) -> None:
        left = self._producer.flush(timeout)
        if left or self._errors:
            problems = ([f"{left} record(s) still undelivered"] if left else []) + self._errors[:3]
            raise RuntimeError("; ".join(problems))

    # -- reading predictions ---------------------------------------------------------------
    def _consumer_for_output(self):
        if self._consumer is None:
            if not self.output_topic:
                raise ValueError("give output_topic (the inference's output topic) to read answers")
            from confluent_kafka import Consumer

            conf = client_config(self.output_bootstrap_servers, self._extra, **self._security)
            conf.update(
                {
                    "group.id": f"{self.group_id}-{self._prefix}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                }
            )
            self._consumer = Consumer(conf)
            self._consumer.subscribe([self.output_topic])
        return self._consumer

    def receive(self, count: int | None = None, timeout: float = 60) -> list[dict[str, Any]]:
        """The predictions of the first ``count`` records sent (default: all), in send order.

        Each is the inference's answer (``values``, ``model_version``...) with its ``key``.
        Raises ``TimeoutError`` if they are not all there within ``timeout`` seconds.
        """
        self.flush(timeout)
        wanted = self._sent[: len(self._sent) if count is None else count]
        consumer = self._consumer_for_output()
        deadline = time.monotonic() + timeout
        while any(k not in self._answers for k in wanted):
            if time.monotonic() > deadline:
                missing = sum(k not in self._answers for k in wanted)
                raise TimeoutError(f"{missing} of {len(wanted)} predictions did not arrive")
            for msg in consumer.consume(500, 0.5):
                if msg.error() is not None or msg.key() is None:
                    continue
                key = msg.key().decode(errors="replace")
                if key.startswith(self._prefix + "-"):
                    self._answers[key] = {"key": key, **json.loads(msg.value())}
        return [self._answers[k] for k in wanted]

    def predict(self, samples: Iterable[Any], timeout: float = 60) -> list[dict[str, Any]]:
        """Send every sample and wait for their predictions (in the same order)."""
        start = len(self._sent)
        for sample in samples:
            self.send(sample)
        return self.receive(timeout=timeout)[start:]

    def close(self) -> None:
        self._producer.flush(30)
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def __enter__(self) -> AvroInference:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
