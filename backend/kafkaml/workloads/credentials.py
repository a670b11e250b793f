"""Workload credentials: one key per training/inference workload (and one for the control
logger), valid only for that workload's own objects and revoked when it ends.

The key is handed to the launcher once (``WorkloadSpec.secret_env``) and never stored: the
database keeps its SHA-256. What a credential may reach is decided in two places only: its
``kind`` picks the worker endpoints (``auth.WorkloadPermission``), its ``subject_id`` the
objects (the apps' ``worker_*_get`` selectors).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .models import CredentialKind, WorkloadCredential

log = logging.getLogger(__name__)

KEY_BYTES = 32  # 256 random bits
CONTROL_LOGGER_NAME = "control-logger"
# A credential is issued just before its workload is created: a launcher that does not know
# the workload yet ("unknown") only means "ended" after this long.
UNKNOWN_GRACE = timedelta(minutes=10)
ENDED_STATES = ("succeeded", "failed", "stopped")


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def well_formed_key(key: str | None) -> bool:
    """Keys are 64 hex digits; anything else is refused before it reaches the database."""
    return bool(key) and len(key) == KEY_BYTES * 2 and all(c in "0123456789abcdef" for c in key)


@transaction.atomic
def credential_issue(
    *, kind: str, workload_name: str, subject_id: int | None = None, owner=None
) -> str:
    """A new key for a workload; any earlier key of the same workload stops working (a
    relaunch, e.g. after a platform restart, must not leave the previous key alive)."""
    if kind not in CredentialKind.values:
        raise ValueError(f"unknown credential kind {kind!r}")
    credentials_revoke(workload_name=workload_name)
    key = secrets.token_hex(KEY_BYTES)
    WorkloadCredential.objects.create(
        kind=kind,
        key_hash=key_hash(key),
        workload_name=workload_name,
        subject_id=subject_id,
        owner=owner,
    )
    return key


@transaction.atomic
def control_logger_credential_ensure(*, key: str | None = None) -> str:
    """The control logger's credential. ``kafkaml up`` makes a new one at each start; on
    Kubernetes the key lives in a Secret and is given here (``key``), so a rotated Secret
    takes effect when the backend starts again. Returns the key."""
    if key is None:
        return credential_issue(
            kind=CredentialKind.CONTROL_LOGGER, workload_name=CONTROL_LOGGER_NAME
        )
    if not well_formed_key(key):
        raise ValueError(f"a control logger key is {KEY_BYTES * 2} lowercase hex digits")
    digest = key_hash(key)
    current = WorkloadCredential.objects.filter(
        key_hash=digest, kind=CredentialKind.CONTROL_LOGGER, revoked_at=None
    ).first()
    if current is None:
        credentials_revoke(workload_name=CONTROL_LOGGER_NAME)
        WorkloadCredential.objects.filter(key_hash=digest).delete()  # a revoked older copy
        WorkloadCredential.objects.create(
            kind=CredentialKind.CONTROL_LOGGER, key_hash=digest, workload_name=CONTROL_LOGGER_NAME
        )
    return key


def credentials_revoke(*, workload_name: str) -> int:
    """End every live credential of a workload. Returns how many were live."""
    if not workload_name:
        return 0
    return WorkloadCredential.objects.filter(workload_name=workload_name, revoked_at=None).update(
        revoked_at=timezone.now()
    )


def credential_authenticate(key: str) -> WorkloadCredential | None:
    """The live credential a key belongs to, or None."""
    if not well_formed_key(key):
        return None
    credential = (
        WorkloadCredential.objects.select_related("owner")
        .filter(key_hash=key_hash(key), revoked_at=None)
        .first()
    )
    if credential is not None and credential.owner is not None and not credential.owner.is_active:
        return None  # a disabled user's workloads lose their access with them
    return credential


def credentials_revoke_ended(status_of) -> int:
    """Revoke the credentials of workloads the launcher reports ended (the reconciler's
    safety net for a workload that ended without its result or inference going final).
    ``status_of(name)`` is the launcher's ``status``."""
    revoked = 0
    live = WorkloadCredential.objects.filter(revoked_at=None).exclude(
        kind=CredentialKind.CONTROL_LOGGER
    )
    for name, created in live.values_list("workload_name", "created_at").distinct():
        try:
            state = status_of(name).state
        except Exception:  # noqa: BLE001 - a launcher hiccup is not an end
            log.exception("status of %s", name)
            continue
        old = timezone.now() - created > UNKNOWN_GRACE
        if state in ENDED_STATES or (state == "unknown" and old):
            revoked += credentials_revoke(workload_name=name)
    return revoked
