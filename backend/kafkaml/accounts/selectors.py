"""Reads: the people who sign in (service accounts excluded), and a user's API tokens."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from .models import ApiToken

WORKERS_GROUP = "kafkaml-workers"


def people() -> QuerySet:
    """Accounts of persons: not the workers' service account, not a workload's account."""
    return (
        get_user_model()
        .objects.exclude(username=settings.KAFKAML_SERVICE_USERNAME)
        .exclude(groups__name=WORKERS_GROUP)
        .exclude(password__startswith="!")  # an unusable password: an account nobody signs in to
        .order_by("username")
    )


def user_tokens(*, user) -> QuerySet:
    from django.utils import timezone

    return ApiToken.objects.filter(user=user).exclude(expiry__lt=timezone.now())
