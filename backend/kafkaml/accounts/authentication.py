"""How people authenticate: the browser's session (``SessionStore``), or an API token
(``Authorization: Token kml_...``) checked by django-rest-knox against a stored SHA-512 digest;
expired and revoked tokens are refused. Workloads authenticate elsewhere
(``kafkaml.workloads.auth``).

Credentials are checked for shape before they reach the database: a session id or token with
characters they can never contain (a NUL byte is not even a valid PostgreSQL parameter) reads
as "not logged in", never as a server error."""

from __future__ import annotations

import re

from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.settings import knox_settings
from rest_framework.authentication import CSRFCheck, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied

_USER_TOKEN = re.compile(
    rf"^{re.escape(knox_settings.TOKEN_PREFIX)}"
    rf"[0-9a-f]{{{knox_settings.AUTH_TOKEN_CHARACTER_LENGTH}}}$"
)


def well_formed_key(key: str | None) -> bool:
    return bool(key) and key.isascii() and key.isalnum() and len(key) <= 64


def user_token_ok(key: str) -> bool:
    """Whether ``key`` has the shape of a person's token (the prefix, then 64 hex digits)."""
    return bool(_USER_TOKEN.match(key))


class SessionStore(DbSessionStore):
    def _get_session_from_db(self):
        if not well_formed_key(self.session_key):
            self._session_key = None
            return None
        return super()._get_session_from_db()

    def exists(self, session_key):
        return well_formed_key(session_key) and super().exists(session_key)


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"token":
            return None  # another scheme (a workload's credential) or none
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid token header.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid token.") from None
        if not user_token_ok(key):
            raise AuthenticationFailed("Invalid token.")
        return self.authenticate_credentials(key.encode())


def enforce_csrf(request) -> None:
    """CSRF check for a view that authenticates nobody yet (login): without it, another site
    could sign a browser in to the attacker's account ("login CSRF")."""
    check = CSRFCheck(lambda request: None)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise PermissionDenied(f"CSRF Failed: {reason}")
