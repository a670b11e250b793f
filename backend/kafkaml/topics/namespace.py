"""Whose a Kafka topic is: every user owns one namespace, a topic prefix derived from their
username, and nothing else.

Ownership by prefix (and no first-come claims) means no topic can be "pre-claimed" by an
attacker for a victim: the name of a topic says whose it is, before it exists, so an attacker
can neither claim ``alice.digits`` nor make Alice's sink write into a topic of theirs. On a
secured Kafka the same prefix is the PREFIXED resource of the user's ACLs (``kafkaml.topics
.principals``): the broker enforces what the API checks.

The prefix is the username with every character outside ``[A-Za-z0-9-]`` written as ``_xx``
(its UTF-8 bytes in hex), then a dot: ``alice`` -> ``alice.``, ``a.b`` -> ``a_2eb.``,
``bob@x.org`` -> ``bob_40x_2eorg.``. The encoding is one-to-one and never contains a dot, so
no user's prefix is a prefix of another's. A prefix longer than ``MAX_NAME`` characters becomes
``_u<user id>.`` (``_u`` cannot start an encoded name: ``u`` is not a hex digit).
"""

from __future__ import annotations

import re

MAX_NAME = 64
_KEEP = re.compile(r"[A-Za-z0-9-]")
# Kafka principals of the platform's clients (SCRAM usernames), one namespace each.
USER_PRINCIPAL_PREFIX = "user."
WORKLOAD_PRINCIPAL_PREFIX = "workload."


def _encode(username: str) -> str:
    return "".join(
        ch if _KEEP.fullmatch(ch) else "".join(f"_{b:02x}" for b in ch.encode()) for ch in username
    )


def namespace_name(user) -> str:
    """The user's namespace without the trailing dot (``alice``)."""
    name = _encode(user.get_username())
    if not name or len(name) > MAX_NAME:
        return f"_u{user.pk}"
    return name


def topic_prefix(user) -> str:
    """Every topic (and consumer group) starting with this belongs to ``user``: ``alice.``."""
    return namespace_name(user) + "."


def is_in_namespace(user, topic: str) -> bool:
    prefix = topic_prefix(user)
    return topic.startswith(prefix) and len(topic) > len(prefix)


def kafka_username(user) -> str:
    """The user's SCRAM principal on a secured Kafka: ``user.alice``."""
    return USER_PRINCIPAL_PREFIX + namespace_name(user)


def workload_kafka_username(workload_name: str) -> str:
    """A workload's own SCRAM principal: ``workload.inference-7``."""
    return WORKLOAD_PRINCIPAL_PREFIX + workload_name
