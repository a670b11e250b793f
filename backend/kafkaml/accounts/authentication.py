"""How requests authenticate.

- ``TokenAuthentication``: people's API tokens (``Authorization: Token kml_...``), checked by
  django-rest-knox against a stored SHA-512 digest; expired and revoked ones are refused.
- ``ServiceTokenAuthentication``: the workers' service token (DRF ``authtoken``), accepted for
  the workers' service account only. Any other account's old DRF token is dead.
- ``SessionStore``: the browser's session.

Credentials are checked for shape before they reach the database: a session id or token with
characters they can never contain (a NUL byte is not even a valid PostgreSQL parameter) reads
as "not logged in", never as a server error."""

from __future__ import annotations

import re

from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.settings import knox_settings
from rest_framework.authentication import TokenAuthentication as DrfTokenAuthentication
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from .selectors import WORKERS_GROUP


def well_formed_key(key: str | None) -> bool:
    return bool(key) and key.isascii() and key.isalnum() and len(key) <= 64


def is_user_token(key: str) -> bool:
    """A people's token has the knox prefix; anything else is for another scheme."""
    return key.startswith(knox_settings.TOKEN_PREFIX)


_USER_TOKEN = re.compile(
    rf"^{re.escape(knox_settings.TOKEN_PREFIX)}[0-9a-f]{{{knox_settings.AUTH_TOKEN_CHARACTER_LENGTH}}}$"
)


def user_token_ok(key: str) -> bool:
    """Whether ``key`` has the shape of a person's token (prefix and 64 hex digits)."""
    return bool(_USER_TOKEN.match(key))


class SessionStore(DbSessionStore):
    def _get_session_from_db(self):
        if not well_formed_key(self.session_key):
            self._session_key = None
            return None
        return super()._get_session_from_db()

    def exists(self, session_key):
        return well_formed_key(session_key) and super().exists(session_key)


def _token_from_header(request) -> str | None:
    """The key of an ``Authorization: Token <key>`` header; None for any other scheme."""
    parts = get_authorization_header(request).split()
    if not parts or parts[0].lower() != b"token":
        return None
    if len(parts) != 2:
        raise AuthenticationFailed("Invalid token header.")
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise AuthenticationFailed("Invalid token.") from None


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate(self, request):
        key = _token_from_header(request)
        if key is None or not is_user_token(key):
            return None
        if not user_token_ok(key):
            raise AuthenticationFailed("Invalid token.")
        return self.authenticate_credentials(key.encode())


class ServiceTokenAuthentication(DrfTokenAuthentication):
    def authenticate(self, request):
        key = _token_from_header(request)
        if key is None or is_user_token(key):
            return None
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key):
        if not well_formed_key(key):
            raise AuthenticationFailed("Invalid token.")
        user, token = super().authenticate_credentials(key)
        if not user.groups.filter(name=WORKERS_GROUP).exists():
            raise AuthenticationFailed("Invalid token.")
        return user, token


def enforce_csrf(request) -> None:
    """CSRF check for a view that authenticates nobody yet (login): without it, another site
    could sign a browser in to the attacker's account ("login CSRF")."""
    from rest_framework.authentication import CSRFCheck
    from rest_framework.exceptions import PermissionDenied

    check = CSRFCheck(lambda request: None)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise PermissionDenied(f"CSRF Failed: {reason}")
