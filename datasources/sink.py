"""Base class of the Kafka-ML sinks: send training data to a topic, then announce it.

A sink produces one record per sample (value = encoded sample, key = encoded label) and, on
:meth:`KafkaMLSink.close`, one *control message* to the control topic that tells the platform
which offset ranges hold the data (see ``docs/protocol.md``). The ranges are computed from the
producer's delivery reports, so they are exact even on brokers whose end-offset query is not.

The constructor keeps the parameter names and order of the original Kafka-ML sink library
(including its spelling ``boostrap_servers``), so scripts written for it run unchanged.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import control
from .codecs import _as_bytes, dtype_name, shape_to_string
from .control import (  # noqa: F401 - re-exported: scripts import them from datasources.sink
    CONTROL_TOPIC_ENV,
    DEFAULT_CONTROL_TOPIC,
    ControlMessageError,
    default_control_topic,
    format_ranges,
)
from .kafka_config import (  # noqa: F401 - KafkaConfigError re-exported
    DURABLE_PRODUCER_CONFIG,
    KafkaConfigError,
    client_config,
    from_kafka_python,
)

logger = logging.getLogger("datasources")

BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"

# Producer settings tuned for throughput of many small records. Users can override any of them
# with ``producer_config``.
THROUGHPUT_PRODUCER_CONFIG: dict[str, Any] = {
    # Batches stay under 1 MB: Apache Kafka's default max.message.bytes rejects bigger ones.
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "batch.num.messages": 100_000,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "compression.type": "none",
    "socket.send.buffer.bytes": 4_194_304,
    # acks=all + idempotence: what was acknowledged survives a broker's death, and the retries
    # after a leader change keep each record once and in order (the announced ranges stay exact)
    **DURABLE_PRODUCER_CONFIG,
}

# How many produce calls between two polls of the delivery-report queue.
_POLL_EVERY = 8192


class DeliveryError(RuntimeError):
    """Some records (or the control message) were not acknowledged by the broker."""

    def __init__(self, message: str, failed: int = 0, errors: list[str] | None = None):
        super().__init__(message)
        self.failed = failed
        self.errors = errors or []


def deployment_key(deployment_id: Any) -> bytes:
    """The control message key: the deployment id as an 8-byte big-endian unsigned integer
    (kept for scripts; :func:`datasources.control.encode_key`)."""
    return control.encode_key(deployment_id)


def parse_deployment_key(key: bytes | None) -> int:
    """The deployment id in a control message key: big-endian, any length (kept for scripts;
    :func:`datasources.control.parse_key`)."""
    return control.parse_key(key)


def _object_to_bytes(value: Any) -> bytes | None:
    """Convert what the original ``send``/``send_value`` accepted to bytes."""
    raw = _as_bytes(value)
    if raw is not None or value is None:
        return raw
    if isinstance(value, np.ndarray | np.generic):
        return np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes()
    if isinstance(value, bool | int):
        if 0 <= int(value) < 256:
            return bytes([int(value)])
        raise ValueError(f"int {value} does not fit one byte; send a NumPy array instead")
    if isinstance(value, float):
        return struct.pack("<f", value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"type {type(value).__name__} cannot be sent; use bytes or a NumPy array")


class KafkaMLSink:
    """Send training data to Kafka and announce it with a control message on :meth:`close`.

    Args:
        boostrap_servers: Kafka bootstrap servers (the original library's spelling; the
            keyword ``bootstrap_servers`` works too). Defaults to ``$KAFKA_BOOTSTRAP_SERVERS``.
        topic: topic the records go to.
        deployment_id: the training deployment that waits for this data.
        input_format: ``RAW``, ``AVRO`` or ``JSON``.
        description: free text shown in the platform.
        validation_rate, test_rate: shares of the records for validation and test (0..1).
        control_topic: where the control message goes (default ``$KAFKAML_CONTROL_TOPIC`` or
            ``KAFKA_ML_CONTROL_TOPIC``).
        group_id: accepted for compatibility, unused (this sink needs no consumer).
        producer_config: extra librdkafka settings, applied over the throughput defaults.
        incremental: announce an unbounded (online) stream instead of offset ranges.
        partition: partition every record goes to (default 0), so the stream keeps the order
            the samples were sent in and training's validation/test split (taken by position)
            sees a representative mix. ``None`` lets Kafka spread records by key (the label),
            which puts each class on its own partition.

    Security (for a cluster that is not PLAINTEXT; see ``datasources.kafka_config``), with
    kafka-python's names so scripts written for the original library keep their arguments:
        security_protocol: ``PLAINTEXT``, ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL``.
        sasl_mechanism: ``PLAIN`` (default), ``SCRAM-SHA-256`` or ``SCRAM-SHA-512``.
        sasl_plain_username, sasl_plain_password: the SASL credentials.
        ssl_cafile, ssl_certfile, ssl_keyfile, ssl_password: TLS CA, client certificate, key
            and the key's password.
        kafka_config: any librdkafka settings (``{"sasl.username": ...}`` too), applied last.
    When none of these is given, the ``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*`` and
    ``KAFKA_SSL_*`` environment variables are used.
    """

    def __init__(
        self,
        boostrap_servers: str | None = None,
        topic: str | None = None,
        deployment_id: int | str | None = None,
        input_format: str = "RAW",
        description: str = "",
        validation_rate: float = 0,
        test_rate: float = 0,
        control_topic: str | None = None,
        group_id: str = "sink",
        *,
        bootstrap_servers: str | None = None,
        producer_config: Mapping[str, Any] | None = None,
        incremental: bool = False,
        input_config: Mapping[str, Any] | None = None,
        unsupervised_topic: str | None = None,
        dataset_restrictions: Any = None,
        partition: int | None = 0,
        security_protocol: str | None = None,
        sasl_mechanism: str | None = None,
        sasl_plain_username: str | None = None,
        sasl_plain_password: str | None = None,
        ssl_cafile: str | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_password: str | None = None,
        kafka_config: Mapping[str, Any] | None = None,
    ):
        servers = bootstrap_servers or boostrap_servers or os.environ.get(BOOTSTRAP_ENV)
        if not servers:
            raise ValueError(
                "bootstrap_servers is required (or set the KAFKA_BOOTSTRAP_SERVERS variable)"
            )
        if not topic:
            raise ValueError("topic is required")
        if deployment_id is None:
            raise ValueError("deployment_id is required")
        control.check_rates(float(validation_rate), float(test_rate))
        input_format = control.check_format(str(input_format))

        self.bootstrap_servers = servers
        self.boostrap_servers = servers  # the original attribute name
        self.topic = str(topic)
        self.deployment_id = deployment_id
        self._key = deployment_key(deployment_id)
        self.input_format = str(input_format).upper()
        self.description = description or ""
        self.validation_rate = float(validation_rate)
        self.test_rate = float(test_rate)
        self.control_topic = control_topic or default_control_topic()
        self.group_id = group_id
        self.incremental = bool(incremental)
        if partition is not None and int(partition) < 0:
            raise ValueError(f"partition must be >= 0 or None, got {partition}")
        self.partition = partition
        self._partition = -1 if partition is None else int(partition)
        self.input_config: dict[str, Any] = dict(input_config or {})
        self.unsupervised_topic = unsupervised_topic
        self.unsupervised_sent = 0  # unsupervised_send() calls accepted
        self.unsupervised_delivered = 0
        self.dataset_restrictions = dataset_restrictions

        self.total_messages = 0  # records announced (set on close)
        self.sent = 0  # produce() calls accepted
        self.delivered = 0
        self.control_message: dict[str, Any] | None = None
        self._ranges: dict[int, list[int]] = {}
        self._errors: list[str] = []
        self._failed = 0
        self._closed = False
        self._since_poll = 0

        self._client_error: Any = None  # the last error librdkafka reported (KafkaError)
        self._refused: Any = None  # an authentication or TLS error: waiting will not help

        from confluent_kafka import Producer

        security = from_kafka_python(
            {
                "security_protocol": security_protocol,
                "sasl_mechanism": sasl_mechanism,
                "sasl_plain_username": sasl_plain_username,
                "sasl_plain_password": sasl_plain_password,
                "ssl_cafile": ssl_cafile,
                "ssl_certfile": ssl_certfile,
                "ssl_keyfile": ssl_keyfile,
                "ssl_password": ssl_password,
            }
        )
        conf = {
            **THROUGHPUT_PRODUCER_CONFIG,
            **client_config(
                servers, {**dict(producer_config or {}), **dict(kafka_config or {})}, **security
            ),
            "on_delivery": self._on_delivery,
            "error_cb": self._on_client_error,
        }
        self._security_protocol = conf["security.protocol"]
        self._producer = Producer(conf)
        self._produce = self._producer.produce

    # -- delivery reports ------------------------------------------------------------------------
    def _on_client_error(self, err) -> None:
        from confluent_kafka import KafkaError

        logger.debug("kafka client: %s", err)
        if err.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL) or err.fatal():
            self._refused = err
        elif err.code() != KafkaError._ALL_BROKERS_DOWN or self._client_error is None:
            self._client_error = err  # "all brokers down" says less than what came before

    def _check_client(self) -> None:
        """Stop waiting when the broker refused the credentials or the TLS handshake: those
        never heal, and otherwise every record would wait out ``message.timeout.ms``."""
        err = self._refused
        if err is not None:
            raise DeliveryError(
                f"the broker {self.bootstrap_servers} refused this client: {err.str()} "
                "(check security_protocol, sasl_mechanism and the credentials)",
                errors=[err.str()],
            )

    def _hint(self) -> str:
        """The last client error, to say why records are stuck."""
        err = self._client_error
        if err is None:
            return ""
        hint = f"; last client error: {err.str()}"
        from confluent_kafka import KafkaError

        transport = (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN)
        if err.code() in transport and self._security_protocol == "PLAINTEXT":
            hint += (
                " (if the broker is up: a SASL or TLS listener closes PLAINTEXT connections;"
                " set security_protocol and the credentials, or KAFKA_SECURITY_PROTOCOL and"
                " KAFKA_SASL_*)"
            )
        return hint

    def _flush_producer(self, timeout: float) -> int:
        """``Producer.flush`` in short slices, failing fast on authentication errors."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = self._producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
            if not remaining:
                return 0
            self._check_client()
            if time.monotonic() >= deadline:
                return remaining

    # -- delivery reports (records) ------------------------------------------------------------------------
    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self._failed += 1
            if len(self._errors) < 10:
                self._errors.append(str(err))
            return
        if self.unsupervised_topic is not None and msg.topic() == self.unsupervised_topic:
            self.unsupervised_delivered += 1  # not part of the labelled ranges
            return
        partition = msg.partition()
        offset = msg.offset()
        rng = self._ranges.get(partition)
        if rng is None:
            self._ranges[partition] = [offset, offset]
        elif offset > rng[1]:
            rng[1] = offset
        elif offset < rng[0]:
            rng[0] = offset
        self.delivered += 1

    @property
    def ranges(self) -> dict[int, tuple[int, int]]:
        """Delivered offsets so far: partition -> (first, last + 1)."""
        return {p: (r[0], r[1] + 1) for p, r in self._ranges.items()}

    # -- producing -------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this sink is closed")

    def _produce_record(self, value: bytes, key: bytes | None) -> None:
        """Produce one record, waiting for queue space when the local queue is full."""
        try:
            self._produce(self.topic, value, key, self._partition)
        except BufferError:
            self._wait_for_space()
            self._produce(self.topic, value, key, self._partition)
        self.sent += 1
        self._since_poll += 1
        if self._since_poll >= _POLL_EVERY:
            self._since_poll = 0
            self._producer.poll(0)

    def _produce_many(self, values: list[bytes], keys: list[bytes] | None) -> None:
        """Produce a list of encoded records with as little per-record Python as possible."""
        self._check_open()
        produce = self._produce
        topic = self.topic
        partition = self._partition
        poll = self._producer.poll
        n = len(values)
        if keys is not None and len(keys) != n:
            raise ValueError(f"{n} samples but {len(keys)} labels")
        i = 0
        while i < n:
            end = min(n, i + _POLL_EVERY)
            try:
                if keys is None:
                    for j in range(i, end):
                        produce(topic, values[j], None, partition)
                        i = j + 1
                else:
                    for j in range(i, end):
                        produce(topic, values[j], keys[j], partition)
                        i = j + 1
            except BufferError:
                self._wait_for_space()
            poll(0)
        self.sent += n

    def _wait_for_space(self) -> None:
        # Serve delivery reports until the local queue drains a little.
        deadline = time.monotonic() + 60
        full = len(self._producer)
        while len(self._producer) > full // 2:
            self._producer.poll(0.05)
            self._check_client()
            if time.monotonic() > deadline:
                raise DeliveryError(
                    f"the producer queue did not drain in 60 s: is the broker "
                    f"{self.bootstrap_servers} reachable?{self._hint()}"
                )

    def send(self, data: Any, label: Any = None) -> None:
        """Send one record; ``data`` and ``label`` are bytes (or int/float/str/ndarray)."""
        self._check_open()
        self._produce_record(_object_to_bytes(data), _object_to_bytes(label))

    def _produce_unsupervised(self, value: bytes) -> None:
        """One unlabelled record to ``unsupervised_topic`` (the original's
        ``__unsupervised_send``); the control message announces that topic."""
        self._check_open()
        if not self.unsupervised_topic:
            raise ValueError("unsupervised_send needs the sink's unsupervised_topic")
        try:
            self._produce(self.unsupervised_topic, value, None, self._partition)
        except BufferError:
            self._wait_for_space()
            self._produce(self.unsupervised_topic, value, None, self._partition)
        self.unsupervised_sent += 1
        self._producer.poll(0)

    def unsupervised_send(self, data: Any) -> None:
        """Send one unlabelled sample to ``unsupervised_topic`` (semi-supervised training)."""
        self._produce_unsupervised(_object_to_bytes(data))

    def send_value(self, data: Any) -> None:
        """Send one record without a label (key)."""
        self.send(data, None)

    # -- helpers kept from the original library --------------------------------------------------
    @staticmethod
    def shape_to_string(out_shape: Any) -> str:
        """The ``data_reshape`` string of a sample: ``"28 28"`` for a 28x28 array, ``""`` for a
        scalar."""
        return shape_to_string(np.shape(out_shape))

    @staticmethod
    def type_to_string(out_type: Any) -> str:
        """The dtype name of a sample (``"uint8"``, ``"float32"``, ...)."""
        return dtype_name(np.asarray(out_type).dtype)

    # -- the control message ---------------------------------------------------------------------
    def build_control(self) -> control.ControlMessage:
        """The control message for what has been delivered so far, as a
        :class:`datasources.control.ControlMessage` (not validated yet)."""
        ranges = self.ranges
        return control.ControlMessage(
            deployment_id=control.parse_key(self._key),
            input_format=self.input_format,
            ranges=()
            if self.incremental
            else tuple(
                control.Range(self.topic, p, start, end)
                for p, (start, end) in sorted(ranges.items())
            ),
            topic=self.topic if self.incremental else None,
            input_config=self.input_config,
            description=self.description,
            validation_rate=self.validation_rate,
            test_rate=self.test_rate,
            total_msg=None
            if self.incremental
            else sum(end - start for start, end in ranges.values()),
            incremental=self.incremental,
            unsupervised_topic=self.unsupervised_topic,
            dataset_restrictions=self.dataset_restrictions,
        )

    def build_control_message(self) -> dict[str, Any]:
        """The control message for what has been delivered so far (see ``docs/protocol.md``)."""
        return self.build_control().as_dict()

    def send_control_message(self, timeout: float = 60) -> dict[str, Any]:
        """Send the control message now and wait until the broker has it."""
        body = self.build_control()
        value = control.encode(body)  # validates: a malformed message never leaves
        message = control.validate(body).as_dict()
        outcome: list[Any] = []
        self._producer.produce(
            self.control_topic,
            value,
            self._key,
            on_delivery=lambda err, msg: outcome.append(err),
        )
        remaining = self._flush_producer(timeout)
        if remaining or not outcome:
            raise DeliveryError(
                f"the control message was not delivered within {timeout:.0f} s{self._hint()}"
            )
        if outcome[0] is not None:
            raise DeliveryError(f"the control message was not delivered: {outcome[0]}")
        self.control_message = message
        logger.info("control message sent to %s: %s", self.control_topic, message)
        return message

    def send_online_control_msg(self) -> dict[str, Any]:
        """Announce this topic as an incremental (online) stream (original method name)."""
        self.incremental = True
        return self.send_control_message()

    # -- closing ---------------------------------------------------------------------------------
    def flush(self, timeout: float = 300) -> None:
        """Wait until every record sent so far is acknowledged; raise ``DeliveryError`` if not."""
        remaining = self._flush_producer(timeout)
        if remaining:
            raise DeliveryError(
                f"{remaining} records were still not acknowledged after {timeout:.0f} s "
                f"(broker {self.bootstrap_servers}){self._hint()}",
                failed=remaining,
            )
        self._raise_delivery_errors()

    def _raise_delivery_errors(self) -> None:
        if self._failed:
            raise DeliveryError(
                f"{self._failed} of {self.sent} records were not delivered to {self.topic!r}: "
                + "; ".join(self._errors),
                failed=self._failed,
                errors=list(self._errors),
            )

    def _release(self) -> None:
        """Drop the producer (its threads and connections) once everything is delivered."""
        self._produce = None
        self._producer = None

    def close(self, timeout: float = 300) -> dict[str, Any] | None:
        """Flush, then send the control message; returns it (``None`` if nothing was sent).

        Raises ``DeliveryError`` (and sends no control message) when records were lost.
        """
        if self._closed:
            return self.control_message
        self._closed = True
        self.flush(timeout)
        if self.incremental:
            if self.control_message is None:
                self.send_control_message()
            self._release()
            return self.control_message
        self.total_messages = sum(end - start for start, end in self.ranges.values())
        if self.delivered == 0:
            logger.warning("no records were sent to %s: no control message sent", self.topic)
            self._release()
            return None
        if self.total_messages != self.delivered:
            logger.warning(
                "the announced ranges hold %d records but this sink delivered %d: another "
                "producer wrote to %s at the same time",
                self.total_messages,
                self.delivered,
                self.topic,
            )
        logger.info("%d records delivered to %s", self.delivered, self.topic)
        message = self.send_control_message()
        self._release()
        return message

    def online_close(self) -> None:
        """Flush and stop without sending a control message (original method name)."""
        if not self._closed:
            self._closed = True
            self.flush()
            self._release()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            # An exception escaped the with-block: deliver what was sent, announce nothing.
            if not self._closed:
                self._closed = True
                self._producer.flush(30)
                self._release()

    def __len__(self) -> int:
        return self.sent
