"""The API's JSON parser: a body is read only up to the size cap, and JSON that is malformed,
nested deeper than ``KAFKAML_MAX_JSON_DEPTH`` or not UTF-8 is a 400 with the usual JSON error
body, never a server error (100,000 nested ``[`` used to exhaust the recursion limit)."""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.status import HTTP_413_REQUEST_ENTITY_TOO_LARGE


class BodyTooLarge(ParseError):
    status_code = HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."


def too_deep(value, limit: int) -> bool:
    """Whether ``value`` nests lists/objects deeper than ``limit`` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise BodyTooLarge()
        max_depth = settings.KAFKAML_MAX_JSON_DEPTH
        try:
            text = raw.decode((parser_context or {}).get("encoding") or "utf-8")
            value = json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {max_depth} levels.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if too_deep(value, max_depth):
            raise ParseError(f"JSON nested deeper than {max_depth} levels.")
        return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
