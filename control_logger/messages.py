"""Parsing control messages: the one rule lives in :mod:`datasources.control` (shared with the
sinks and the training worker); this keeps the logger's dict form for scripts and tests."""

from __future__ import annotations

from datasources.control import FORMATS, ControlMessageError, parse

__all__ = ["FORMATS", "ControlMessageError", "parse_control_message"]


def parse_control_message(key: bytes | None, value: bytes | None) -> dict:
    """The datasource fields plus ``deployment_id``; raises ControlMessageError."""
    message = parse(key, value)
    return {"deployment_id": message.deployment_id, **message.as_dict()}
