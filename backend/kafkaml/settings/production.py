"""Production: secrets from the environment, secure cookies, PostgreSQL and Redis expected."""

import os

from .base import *  # noqa: F403

if not os.environ.get("DJANGO_SECRET_KEY"):
    raise RuntimeError("DJANGO_SECRET_KEY must be set in production")
SESSION_COOKIE_SECURE = os.environ.get("KAFKAML_SECURE_COOKIES", "1") == "1"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
