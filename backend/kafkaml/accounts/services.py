"""Users, their API tokens and sessions, and the admin account made on first start. (Workers
hold per-workload credentials instead: ``kafkaml.workloads.credentials``.)"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from kafkaml.errors import ApplicationError, ConflictError

from .mode import single_user_mode, single_user_reason
from .models import ApiToken
from .selectors import people

LOGIN_TOKEN_NAME = "auth/token"  # the name of the tokens POST /api/v1/auth/token/ makes


def password_check(*, password: str, user: AbstractBaseUser, field: str = "password") -> None:
    """Django's validators (length, common, numeric, similarity) as one 400 with every reason."""
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ApplicationError(
            f"This password is too weak: {' '.join(exc.messages)}",
            errors={field: list(exc.messages)},
        ) from exc


@transaction.atomic
def user_create(*, username: str, password: str, is_staff: bool = False):
    """A person who signs in. Refused when it would be the second person in single-user mode."""
    User = get_user_model()
    if single_user_mode() and people().exists():
        raise ConflictError(single_user_reason(), errors={"username": [single_user_reason()]})
    user = User(username=username, is_staff=is_staff, is_superuser=is_staff)
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        if "username" in exc.message_dict and User.objects.filter(username=username).exists():
            raise ConflictError(
                f"A user named {username!r} already exists.",
                errors={"username": [f"A user named {username!r} already exists."]},
            ) from exc
        raise
    password_check(password=password, user=user)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def user_update(*, user, by, is_active: bool | None = None, is_staff: bool | None = None):
    """Disable/enable an account or change its staff flag. Disabling ends every session and
    token of that user at once. ``by`` (the admin) can neither disable nor demote themselves,
    so a platform never loses its last way in by a slip."""
    if user.pk == by.pk and (is_active is False or is_staff is False):
        raise ApplicationError(
            "You cannot disable or demote your own account.",
            errors={"is_active" if is_active is False else "is_staff": ["That is you."]},
        )
    if is_staff is not None:
        user.is_staff = user.is_superuser = is_staff
        user.save(update_fields=["is_staff", "is_superuser"])
    if is_active is not None:
        user_set_active(user=user, active=is_active)
    return user


@transaction.atomic
def user_set_active(*, user, active: bool) -> None:
    """Disable (every session and token of the user ends now) or enable an account."""
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        user_sign_out_everywhere(user=user)


@transaction.atomic
def user_set_password(
    *, user, password: str, keep_token: ApiToken | None = None, field: str = "password"
) -> None:
    """Set a new password and revoke the user's tokens (all but ``keep_token``: the one the
    user changing their own password is calling with). Other sessions end by themselves:
    Django ties a session to the password hash."""
    password_check(password=password, user=user, field=field)
    user.set_password(password)
    user.save(update_fields=["password"])
    tokens = ApiToken.objects.filter(user=user)
    if keep_token is not None:
        tokens = tokens.exclude(pk=keep_token.pk)
    tokens.delete()


def password_change(
    *, user, old_password: str, new_password: str, current_token: ApiToken | None = None
) -> None:
    if not user.check_password(old_password):
        raise ApplicationError(
            "The current password is wrong.",
            errors={"old_password": ["The current password is wrong."]},
        )
    user_set_password(
        user=user, password=new_password, keep_token=current_token, field="new_password"
    )


def user_sign_out_everywhere(*, user) -> None:
    """Delete the user's API tokens and sessions (a disabled account keeps nothing alive, and
    re-enabling it later revives no old session)."""
    ApiToken.objects.filter(user=user).delete()
    pk = str(user.pk)
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == pk:
            session.delete()


@transaction.atomic
def token_create(*, user, name: str = "", make_room: bool = False) -> tuple[ApiToken, str]:
    """A new API token; the secret is returned once and only its digest is kept. At the cap,
    ``make_room`` (logins of scripts, which make a token per run) revokes the oldest tokens
    made that way; named tokens are never revoked to make room."""
    ApiToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    tokens = ApiToken.objects.filter(user=user)
    excess = tokens.count() - settings.KAFKAML_TOKENS_PER_USER + 1
    if excess > 0 and make_room:
        oldest = tokens.filter(name=LOGIN_TOKEN_NAME).order_by("created")[:excess]
        ApiToken.objects.filter(pk__in=list(oldest.values_list("pk", flat=True))).delete()
    if tokens.count() >= settings.KAFKAML_TOKENS_PER_USER:
        raise ConflictError(
            f"You have {settings.KAFKAML_TOKENS_PER_USER} API tokens: revoke some first."
        )
    return ApiToken.objects.create(user=user, name=name[:100])


def token_revoke(*, user, public_id: str) -> None:
    """Revoke one of ``user``'s tokens; another user's token id reads as not found."""
    deleted, _ = ApiToken.objects.filter(user=user, public_id=public_id).delete()
    if not deleted:
        raise ApplicationError("No such token.", status_code=404)


@transaction.atomic
def admin_ensure(*, username: str = "admin") -> str | None:
    """Create the first admin account. Returns its password once; None if it existed."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        return None
    password = secrets.token_urlsafe(12)
    user_create(username=username, password=password, is_staff=True)
    return password
