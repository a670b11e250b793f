"""Parsing control messages (docs/protocol.md). Pure functions: no Kafka, no HTTP."""

from __future__ import annotations

import json
from typing import Any

FORMATS = {"RAW", "AVRO", "JSON"}
OPTIONAL_DEFAULTS: dict[str, Any] = {
    "input_config": {},
    "description": "",
    "validation_rate": 0.0,
    "test_rate": 0.0,
    "total_msg": None,
    "incremental": False,
    "unsupervised_topic": None,
    "dataset_restrictions": None,
}


class ControlMessageError(ValueError):
    """The message does not follow the protocol; it is recorded, never retried."""


def _rate(value, name: str) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError) as exc:
        raise ControlMessageError(f"{name} must be a number, got {value!r}") from exc
    if not 0 <= rate <= 1:
        raise ControlMessageError(f"{name} must be between 0 and 1, got {rate}")
    return rate


def parse_control_message(key: bytes | None, value: bytes | None) -> dict:
    """The datasource fields plus ``deployment_id``; raises ControlMessageError."""
    if not key:
        raise ControlMessageError("the key (deployment id) is missing")
    deployment_id = int.from_bytes(key, "big")
    try:
        body = json.loads(value or b"")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ControlMessageError(f"the value is not UTF-8 JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ControlMessageError("the value must be a JSON object")
    topic = body.get("topic")
    if not isinstance(topic, str) or not topic.strip():
        raise ControlMessageError("'topic' is missing")
    input_format = str(body.get("input_format", "")).upper()
    if input_format not in FORMATS:
        raise ControlMessageError(
            f"'input_format' must be one of RAW, AVRO, JSON, got {body.get('input_format')!r}"
        )
    fields = {k: body.get(k, default) for k, default in OPTIONAL_DEFAULTS.items()}
    fields["input_config"] = fields["input_config"] or {}
    if not isinstance(fields["input_config"], dict):
        raise ControlMessageError("'input_config' must be an object")
    fields["validation_rate"] = _rate(fields["validation_rate"] or 0, "validation_rate")
    fields["test_rate"] = _rate(fields["test_rate"] or 0, "test_rate")
    if fields["validation_rate"] + fields["test_rate"] >= 1:
        raise ControlMessageError("validation_rate + test_rate must be below 1")
    fields["incremental"] = bool(fields["incremental"])
    fields["description"] = str(fields["description"] or "")
    if not fields["incremental"]:
        _check_ranges(topic)
    return {"deployment_id": deployment_id, "topic": topic, "input_format": input_format, **fields}


def _check_ranges(topic: str) -> None:
    for part in topic.split(","):
        pieces = part.rsplit(":", 3)
        if len(pieces) != 4:
            raise ControlMessageError(f"range {part!r} is not topic:partition:start:end")
        _, partition, start, end = pieces
        if not (partition.isdigit() and start.isdigit() and end.isdigit()):
            raise ControlMessageError(f"range {part!r} has a non-numeric partition or offset")
        if int(end) < int(start):
            raise ControlMessageError(f"range {part!r} ends before it starts")
