"""Websocket authentication: the browser's session cookie, or ``?token=`` (a person's API
token) for scripts. Consumers close anonymous connections (code 4401). Browsers' connections
from another site's page are refused before this (``allowed_origins_only``)."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.exceptions import AuthenticationFailed

    from kafkaml.accounts.authentication import TokenAuthentication, user_token_ok

    if not user_token_ok(key):
        return None
    try:
        user, _token = TokenAuthentication().authenticate_credentials(key.encode())
    except AuthenticationFailed:
        return None
    return user


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        key = (query.get("token") or [""])[0]
        if key:
            user = await _user_for_token(key)
            if user is not None:
                scope["user"] = user
        return await super().__call__(scope, receive, send)


def auth_stack(inner):
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))


class BrowserOriginValidator(OriginValidator):
    """Channels' ``AllowedHostsOriginValidator`` rule, except that a connection without an
    ``Origin`` header passes: browsers always send one (that is what stops another site's page
    from riding the user's session cookie), scripts usually send none and carry a token."""

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or super().valid_origin(parsed_origin)


def allowed_origins_only(inner):
    """Refuse a websocket whose ``Origin`` is not one of ``ALLOWED_HOSTS``."""
    return BrowserOriginValidator(inner, settings.ALLOWED_HOSTS)
