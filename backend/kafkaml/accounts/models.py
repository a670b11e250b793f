"""API tokens for people: stored as a SHA-512 digest (django-rest-knox), with a name the owner
chose, an expiry, and a public id the owner uses to revoke one without ever seeing it again."""

from __future__ import annotations

import secrets

from django.db import models
from knox.models import AbstractAuthToken


def new_public_id() -> str:
    return secrets.token_hex(8)


class ApiToken(AbstractAuthToken):
    """``knox``'s token with the fields the token list needs. The digest stays the primary key
    (that is how knox finds a token); ``public_id`` is what the API calls ``id``: it reveals
    nothing about the secret."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name or 'token'} ({self.public_id}) of {self.user}"
