"""How a request on ``/api/v1/worker/`` is authenticated and which credential may call which
endpoint. Which *objects* it may reach is the apps' selectors' business (``worker_*_get``).

Workers send ``Authorization: Workload <key>``. Users' own credentials (session, ``Token``) are
recognised too, so that a person calling a worker endpoint gets 403, not 401.
"""

from __future__ import annotations

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.settings import api_settings

from .credentials import credential_authenticate
from .models import WorkloadCredential

KEYWORD = "Workload"


@dataclass(frozen=True)
class WorkloadPrincipal:
    """``request.user`` for a workload: authenticated, but no user (so no user endpoint and
    no ownership check can mistake it for a person)."""

    credential: WorkloadCredential
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    pk: None = None
    id: None = None

    @property
    def username(self) -> str:
        return f"workload:{self.credential.workload_name}"

    def __str__(self) -> str:
        return self.username


class WorkloadAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid workload credential header.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid workload credential.") from None
        credential = credential_authenticate(key)
        if credential is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked workload credential.")
        return WorkloadPrincipal(credential), credential

    def authenticate_header(self, request) -> str:
        return KEYWORD


class WorkloadAuthenticationScheme(OpenApiAuthenticationExtension):
    """The worker endpoints' credential, in the OpenAPI schema."""

    target_class = WorkloadAuthentication
    name = "workloadCredential"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Workload <key>`: a workload's own credential (docs/contracts.md).",
        }


def worker_authentication_classes() -> list:
    """Workload credentials first (its header makes unauthenticated calls 401), then the
    users' classes, so a user's credential is known and refused with 403."""
    return [WorkloadAuthentication, *api_settings.DEFAULT_AUTHENTICATION_CLASSES]


class WorkloadPermission(BasePermission):
    """The view's ``workload_kinds`` names the credentials that may call it."""

    message = "This credential may not use this endpoint."

    def has_permission(self, request, view) -> bool:
        credential = request.auth
        if not isinstance(credential, WorkloadCredential):
            return False
        return credential.kind in getattr(view, "workload_kinds", ())


class WorkerApiMixin:
    """What every ``/api/v1/worker/`` view shares; set ``workload_kinds`` on the view."""

    authentication_classes = worker_authentication_classes()
    permission_classes = [WorkloadPermission]
    workload_kinds: tuple[str, ...] = ()
