"""The control message (docs/protocol.md): its one home for every side of the wire.

Sinks encode it, the control logger and the training worker parse it. Before this module each
side had its own rule (the logger rejected what the worker accepted and the other way round), so a
message could be registered as a datasource that no worker would train on. Everything here is pure:
no Kafka, no HTTP.

The key is the deployment id as an unsigned big-endian integer of any length (the original
sinks send one byte for ids below 256; :func:`encode_key` sends eight). The value is a UTF-8 JSON
object; unknown fields are ignored and missing optional fields take the protocol's defaults.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_CONTROL_TOPIC = "KAFKA_ML_CONTROL_TOPIC"
CONTROL_TOPIC_ENV = "KAFKAML_CONTROL_TOPIC"
FORMATS = ("RAW", "AVRO", "JSON", "TELEGRAF_STR_JSON")
KEY_BYTES = 8  # what this library writes; any length is read
MAX_DEPLOYMENT_ID = 2**64 - 1

# Kafka's own rule for topic names. Checking it here keeps ambiguous names (``a:b``, spaces)
# out of the ranges syntax and out of the ownership checks that use :func:`announced_topics`.
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_NUMBER = re.compile(r"[0-9]+")


class ControlMessageError(ValueError):
    """A control message does not follow the protocol. ``field`` names the offending field
    (``key``, ``value``, ``topic``, ``input_format``, ...) so callers can report it as such; the
    message is recorded, never retried."""

    def __init__(self, field: str, problem: str):
        super().__init__(problem)
        self.field = field


def default_control_topic() -> str:
    """``$KAFKAML_CONTROL_TOPIC``, else the original platform's ``KAFKA_ML_CONTROL_TOPIC``."""
    return os.environ.get(CONTROL_TOPIC_ENV) or DEFAULT_CONTROL_TOPIC


# -- key -----------------------------------------------------------------------------------------
def encode_key(deployment_id: Any) -> bytes:
    """The key of a control message: the deployment id as 8 big-endian bytes."""
    try:
        value = int(deployment_id)
    except (TypeError, ValueError) as exc:
        raise ControlMessageError(
            "deployment_id", f"deployment_id must be an integer, got {deployment_id!r}"
        ) from exc
    if isinstance(deployment_id, bool) or (
        isinstance(deployment_id, float) and deployment_id != value
    ):
        raise ControlMessageError(
            "deployment_id", f"deployment_id must be an integer, got {deployment_id!r}"
        )
    if not 0 <= value <= MAX_DEPLOYMENT_ID:
        raise ControlMessageError(
            "deployment_id", f"deployment_id must be between 0 and 2**64-1, got {value}"
        )
    return value.to_bytes(KEY_BYTES, "big")


def parse_key(key: bytes | None) -> int:
    """The deployment id in a control message key: big-endian, any length."""
    if not key:
        raise ControlMessageError("key", "the key (deployment id) is missing")
    value = int.from_bytes(key, "big")
    if value > MAX_DEPLOYMENT_ID:
        raise ControlMessageError("key", f"the key (deployment id) is too large: {len(key)} bytes")
    return value


# -- ranges --------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Range:
    """Offsets ``start`` (inclusive) to ``end`` (exclusive) of one partition of a topic."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def count(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.start}:{self.end}"


def check_topic_name(name: Any, field: str = "topic") -> str:
    """``name`` if it is a legal Kafka topic name, else a :class:`ControlMessageError`."""
    if not isinstance(name, str) or not _TOPIC_NAME.fullmatch(name) or name in (".", ".."):
        raise ControlMessageError(field, f"{field!r} is not a valid topic name: {name!r}")
    return name


def format_ranges(topic: str, ranges: Mapping[int, tuple[int, int]]) -> str:
    """``{0: (5, 10)}`` -> ``"topic:0:5:10"`` (one topic; the sinks' form)."""
    return ",".join(f"{topic}:{p}:{start}:{end}" for p, (start, end) in sorted(ranges.items()))


def format_range_list(ranges: Iterable[Range]) -> str:
    """Ranges of any topics -> ``"t:0:0:5,u:1:3:9"``."""
    return ",".join(str(r) for r in ranges)


def parse_ranges(text: Any) -> tuple[Range, ...]:
    """``"topic:partition:start:end,..."`` -> ranges, validated: topic names legal, numbers
    non-negative integers, ``start <= end``, each (topic, partition) at most once."""
    if not isinstance(text, str) or not text.strip():
        raise ControlMessageError("topic", "'topic' is missing")
    out: list[Range] = []
    seen: set[tuple[str, int]] = set()
    for part in text.split(","):
        part = part.strip()
        pieces = part.rsplit(":", 3)
        if len(pieces) != 4:
            raise ControlMessageError(
                "topic", f"'topic': range {part!r} is not topic:partition:start:end"
            )
        topic, partition, start, end = pieces
        check_topic_name(topic)
        if not all(_NUMBER.fullmatch(n) for n in (partition, start, end)):
            raise ControlMessageError(
                "topic",
                f"'topic': range {part!r} needs a partition and offsets that are non-negative "
                "integers",
            )
        rng = Range(topic, int(partition), int(start), int(end))
        if rng.end < rng.start:
            raise ControlMessageError("topic", f"'topic': range {part!r} ends before it starts")
        if (rng.topic, rng.partition) in seen:
            raise ControlMessageError(
                "topic", f"'topic': partition {rng.topic}:{rng.partition} is announced twice"
            )
        seen.add((rng.topic, rng.partition))
        out.append(rng)
    return tuple(out)


# -- the message ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControlMessage:
    """One control message. A bounded stream has ``ranges``; an incremental one has the bare
    ``topic`` (and no ranges)."""

    deployment_id: int
    input_format: str = "RAW"
    ranges: tuple[Range, ...] = ()
    topic: str | None = None
    input_config: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    validation_rate: float = 0.0
    test_rate: float = 0.0
    total_msg: int | None = None
    incremental: bool = False
    unsupervised_topic: str | None = None
    dataset_restrictions: Any = None

    @property
    def topic_spec(self) -> str:
        """The wire ``topic`` field: the ranges, or the bare topic of an incremental stream."""
        return self.topic if self.incremental else format_range_list(self.ranges)

    @property
    def announced_records(self) -> int | None:
        """Records the ranges hold (``None`` for an incremental stream)."""
        return None if self.incremental else sum(r.count for r in self.ranges)

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of the value (the deployment id travels in the key)."""
        return {
            "topic": self.topic_spec,
            "input_format": self.input_format,
            "input_config": self.input_config,
            "description": self.description,
            "validation_rate": self.validation_rate,
            "test_rate": self.test_rate,
            "total_msg": self.total_msg,
            "incremental": self.incremental,
            "unsupervised_topic": self.unsupervised_topic,
            "dataset_restrictions": self.dataset_restrictions,
        }


def _rate(value: Any, name: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlMessageError(name, f"{name!r} must be a number, got {value!r}")
    rate = float(value)
    if not (math.isfinite(rate) and 0 <= rate <= 1):
        raise ControlMessageError(name, f"{name!r} must be between 0 and 1, got {value!r}")
    return rate


def _total(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ControlMessageError(
            "total_msg", f"'total_msg' must be a non-negative integer or null, got {value!r}"
        )
    return value


def _flag(value: Any, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise ControlMessageError(name, f"{name!r} must be true or false, got {value!r}")


def _format(value: Any) -> str:
    name = value.upper() if isinstance(value, str) else None
    if name not in FORMATS:
        raise ControlMessageError(
            "input_format", f"'input_format' must be one of {', '.join(FORMATS)}, got {value!r}"
        )
    return name


def check_rates(validation_rate: Any, test_rate: Any) -> tuple[float, float]:
    """Both rates as floats in 0..1 whose sum is below 1 (some records must be left to train
    on); the sinks check them when constructed, the parsers when a message arrives."""
    validation = _rate(validation_rate, "validation_rate")
    test = _rate(test_rate, "test_rate")
    if validation + test >= 1:
        raise ControlMessageError(
            "validation_rate",
            "validation_rate + test_rate must be below 1 (some records must be left to train on)",
        )
    return validation, test


def check_format(input_format: Any) -> str:
    """The format name in upper case, if it is one of RAW, AVRO, JSON."""
    return _format(input_format)


def validate(message: ControlMessage) -> ControlMessage:
    """The message with its fields normalised (format upper case, rates floats); raises
    :class:`ControlMessageError` naming the first field that breaks the protocol."""
    if isinstance(message.deployment_id, bool) or not isinstance(message.deployment_id, int):
        raise ControlMessageError("deployment_id", "deployment_id must be an integer")
    if not 0 <= message.deployment_id <= MAX_DEPLOYMENT_ID:
        raise ControlMessageError("deployment_id", "deployment_id must be between 0 and 2**64-1")
    incremental = _flag(message.incremental, "incremental")
    if incremental:
        if message.ranges:
            raise ControlMessageError(
                "topic", "'topic': an incremental stream announces a bare topic, not ranges"
            )
        check_topic_name(message.topic)
    else:
        if message.topic is not None:
            raise ControlMessageError(
                "topic", "'topic': a bounded stream announces topic:partition:start:end ranges"
            )
        parse_ranges(format_range_list(message.ranges))  # the same rules as on the wire
    input_config = {} if message.input_config is None else message.input_config
    if not isinstance(input_config, Mapping):
        raise ControlMessageError("input_config", "'input_config' must be an object")
    description = "" if message.description is None else message.description
    if not isinstance(description, str):
        raise ControlMessageError("description", "'description' must be a string")
    validation_rate, test_rate = check_rates(message.validation_rate, message.test_rate)
    if message.unsupervised_topic is not None:
        check_topic_name(message.unsupervised_topic, "unsupervised_topic")
    return replace(
        message,
        input_format=_format(message.input_format),
        input_config=dict(input_config),
        description=description,
        validation_rate=validation_rate,
        test_rate=test_rate,
        total_msg=_total(message.total_msg),
        incremental=incremental,
    )


def from_dict(deployment_id: int, body: Any) -> ControlMessage:
    """A validated message from a decoded JSON value and the deployment id of its key."""
    if not isinstance(body, Mapping):
        raise ControlMessageError("value", "the value must be a JSON object")
    incremental = _flag(body.get("incremental"), "incremental")
    topic = body.get("topic")
    if not isinstance(topic, str) or not topic.strip():
        raise ControlMessageError("topic", "'topic' is missing")
    if incremental:
        if ":" in topic:
            raise ControlMessageError(
                "topic", f"'topic': an incremental stream announces a bare topic, got {topic!r}"
            )
        ranges: tuple[Range, ...] = ()
        bare: str | None = topic.strip()
    else:
        ranges, bare = parse_ranges(topic), None
    return validate(
        ControlMessage(
            deployment_id=deployment_id,
            input_format=body.get("input_format"),
            ranges=ranges,
            topic=bare,
            input_config=body.get("input_config"),
            description=body.get("description"),
            validation_rate=body.get("validation_rate"),
            test_rate=body.get("test_rate"),
            total_msg=body.get("total_msg"),
            incremental=incremental,
            unsupervised_topic=body.get("unsupervised_topic"),
            dataset_restrictions=body.get("dataset_restrictions"),
        )
    )


def parse(key: bytes | None, value: bytes | str | None) -> ControlMessage:
    """The control message in a Kafka record; raises :class:`ControlMessageError`."""
    deployment_id = parse_key(key)
    try:
        body = json.loads(value if value is not None else b"")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ControlMessageError("value", f"the value is not UTF-8 JSON: {exc}") from exc
    return from_dict(deployment_id, body)


def encode(message: ControlMessage) -> bytes:
    """The record value of a (validated) control message."""
    return json.dumps(validate(message).as_dict()).encode("utf-8")


def announced_topics(message: ControlMessage) -> set[str]:
    """Every topic a message makes the platform read: the ranges' topics or the bare topic,
    and the ``unsupervised_topic``. All of them must belong to the deployment's owner."""
    topics = {r.topic for r in message.ranges}
    if message.topic:
        topics.add(message.topic)
    if message.unsupervised_topic:
        topics.add(message.unsupervised_topic)
    return topics


__all__ = [
    "DEFAULT_CONTROL_TOPIC",
    "FORMATS",
    "ControlMessage",
    "ControlMessageError",
    "Range",
    "announced_topics",
    "check_format",
    "check_rates",
    "check_topic_name",
    "default_control_topic",
    "encode",
    "encode_key",
    "format_range_list",
    "format_ranges",
    "from_dict",
    "parse",
    "parse_key",
    "parse_ranges",
    "validate",
]
