"""Credentials are checked for shape before they reach the database: a session id or token
with characters they can never contain (a NUL byte is not even a valid PostgreSQL parameter)
reads as "not logged in", never as a server error."""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from rest_framework.authentication import TokenAuthentication as DrfTokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


def well_formed_key(key: str | None) -> bool:
    return bool(key) and key.isascii() and key.isalnum() and len(key) <= 64


class SessionStore(DbSessionStore):
    def _get_session_from_db(self):
        if not well_formed_key(self.session_key):
            self._session_key = None
            return None
        return super()._get_session_from_db()

    def exists(self, session_key):
        return well_formed_key(session_key) and super().exists(session_key)


class TokenAuthentication(DrfTokenAuthentication):
    def authenticate_credentials(self, key):
        if not well_formed_key(key):
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
