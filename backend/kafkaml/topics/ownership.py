"""The one rule for whose a topic is, as the API applies it: a user may name a topic (to read
it, write it, announce it, tail it) only if it is in their namespace (``kafkaml.topics
.namespace``): ``alice`` owns exactly the topics that start with ``alice.``.

There is nothing to claim and nothing to look up: the name says whose the topic is. The
control topic is the platform's (users write to it, only the control logger reads it), so no
user ever names it here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kafkaml.errors import ConflictError

from .namespace import is_in_namespace, topic_prefix


def owns_topic(user, topic: str) -> bool:
    """True if ``topic`` is in ``user``'s namespace."""
    return bool(topic) and is_in_namespace(user, topic)


def not_owned_reason(user, topic: str) -> str:
    return f"{topic!r} is not yours: your topics start with {topic_prefix(user)!r}."


def foreign_topics(user, topics: Mapping[str, str | Iterable[str] | None]) -> dict[str, list[str]]:
    """``{field: [reason, ...]}`` for every named topic ``user`` does not own; empty if all
    are theirs. A field maps to one topic or several (a ranges string's topics); empty or
    ``None`` fields name no topic."""
    errors: dict[str, list[str]] = {}
    for field, value in topics.items():
        names = {value} if isinstance(value, str) else set(value or ())
        named = sorted(name for name in names if name)
        reasons = [not_owned_reason(user, t) for t in named if not owns_topic(user, t)]
        if reasons:
            errors[field] = reasons
    return errors


def require_owned_topics(user, topics: Mapping[str, str | Iterable[str] | None]) -> None:
    """Raise :class:`ConflictError` (409) unless every topic named in ``topics`` is ``user``'s.
    The message names the first offending topic; ``errors`` has a reason per field."""
    errors = foreign_topics(user, topics)
    if errors:
        first = next(iter(errors.values()))[0]
        raise ConflictError(first, errors=errors)
