"""Push events to browsers over Channels. Group names are the only contract with consumers."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def result_group(result_id: int) -> str:
    return f"result-{result_id}"


def inference_group(inference_id: int) -> str:
    return f"inference-{inference_id}"


def push(group: str, event: str, data: dict) -> None:
    """Best effort: a browser that misses an event reloads state over REST."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "push", "event": event, "data": data})
    except Exception:  # noqa: BLE001 - never fail a write because a push failed
        log.exception("push to %s failed", group)
