"""Throttles on the endpoints that check a password, so guessing one is slow: per username
and client address (``login``), and per address over all usernames (``login_address``).
Every attempt counts, the right password included: after five tries in a minute even the
right one is refused, so a guesser cannot tell when they found it."""

from __future__ import annotations

import hashlib

from rest_framework.throttling import SimpleRateThrottle


def _username(request) -> str:
    data = request.data
    value = data.get("username", "") if hasattr(data, "get") else ""
    return str(value)[:150].lower()


class LoginThrottle(SimpleRateThrottle):
    scope = "login"

    def get_cache_key(self, request, view):
        who = request.user.pk if request.user and request.user.is_authenticated else None
        subject = f"user:{who}" if who is not None else f"name:{_username(request)}"
        ident = hashlib.sha256(f"{subject}|{self.get_ident(request)}".encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginAddressThrottle(SimpleRateThrottle):
    scope = "login_address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


PASSWORD_THROTTLES = [LoginAddressThrottle, LoginThrottle]
