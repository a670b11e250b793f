"""Reads: the people who sign in, and a user's API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from .models import ApiToken


def people() -> QuerySet:
    """Accounts of persons: an account with an unusable password is a service's, which
    nobody signs in to, manages or counts as a second person."""
    return get_user_model().objects.exclude(password__startswith="!").order_by("username")


def user_tokens(*, user) -> QuerySet:
    from django.utils import timezone

    return ApiToken.objects.filter(user=user).exclude(expiry__lt=timezone.now())
