"""Single-user mode: where the sandbox for user code is incomplete (see
``mlcode_executor.jail.capabilities()``), one person's model code could read what another
person owns, so the platform serves one person only and refuses to create a second one."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=1)
def _sandbox_missing() -> tuple[str, ...]:
    from mlcode_executor.jail import capabilities

    return tuple(capabilities().missing)


def sandbox_missing() -> tuple[str, ...]:
    """What the sandbox lacks on this machine (empty when it is complete)."""
    if settings.KAFKAML_SINGLE_USER_MODE is not None:
        return ("single-user mode set in settings",) if settings.KAFKAML_SINGLE_USER_MODE else ()
    return _sandbox_missing()


def single_user_mode() -> bool:
    return bool(sandbox_missing())


def single_user_reason() -> str:
    return (
        "Kafka-ML runs in single-user mode: the sandbox for user code is incomplete on this "
        f"machine ({'; '.join(sandbox_missing())}), so a second user could read the first "
        "one's data. Run the platform as root (see docs/security.md) to serve several users."
    )
