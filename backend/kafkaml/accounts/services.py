"""Users, the admin account made on first start, and the workers' service account."""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token

WORKERS_GROUP = "kafkaml-workers"


@transaction.atomic
def user_create(*, username: str, password: str, is_staff: bool = False):
    User = get_user_model()
    user = User(username=username, is_staff=is_staff, is_superuser=is_staff)
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


@transaction.atomic
def admin_ensure(*, username: str = "admin") -> str | None:
    """Create the first admin account. Returns its password once; None if it existed."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        return None
    password = secrets.token_urlsafe(12)
    user_create(username=username, password=password, is_staff=True)
    return password


@transaction.atomic
def service_token_ensure() -> str:
    """The token workers use. It belongs to an account that can log in nowhere else and may
    only use the worker endpoints (``IsWorker``)."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=settings.KAFKAML_SERVICE_USERNAME)
    if created:
        user.set_unusable_password()
        user.save()
    group, _ = Group.objects.get_or_create(name=WORKERS_GROUP)
    user.groups.add(group)
    preset = os.environ.get("KAFKAML_WORKER_API_TOKEN", "")
    if preset:
        # On Kubernetes the token lives in a Secret that worker pods read; the database
        # follows it, so a rotated Secret takes effect on the next start.
        Token.objects.filter(user=user).exclude(key=preset).delete()
        token, _ = Token.objects.get_or_create(user=user, defaults={"key": preset})
        return token.key
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def user_token_get_or_create(*, user) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
