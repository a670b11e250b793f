"""The throttle on the endpoints that check a password, so guessing one is slow: per
username and client address (``login``, 5/min), and per address over all usernames
(``login_address``, against spraying one password over many names). Every attempt counts,
the right password included: after five tries in a minute even the right one is refused, so a
guesser cannot tell when they found it. An attempt refused by the first limit does not spend
the address's budget (a locked-out name does not lock out everyone behind the same address)."""

from __future__ import annotations

import hashlib

from rest_framework.throttling import SimpleRateThrottle


def _username(request) -> str:
    data = request.data
    value = data.get("username", "") if hasattr(data, "get") else ""
    return str(value)[:150].lower()


class _AddressThrottle(SimpleRateThrottle):
    scope = "login_address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginThrottle(SimpleRateThrottle):
    scope = "login"

    def get_cache_key(self, request, view):
        who = request.user.pk if request.user and request.user.is_authenticated else None
        subject = f"user:{who}" if who is not None else f"name:{_username(request)}"
        ident = hashlib.sha256(f"{subject}|{self.get_ident(request)}".encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if not super().allow_request(request, view):
            return False
        self._address = _AddressThrottle()
        return self._address.allow_request(request, view)

    def wait(self):
        address = getattr(self, "_address", None)
        if address is not None and address.history and len(address.history) >= address.num_requests:
            return address.wait()
        return super().wait()


PASSWORD_THROTTLES = [LoginThrottle]
