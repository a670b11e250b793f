"""Production: secrets from the environment, HTTPS only, PostgreSQL and Redis expected.

The platform sits behind a TLS-terminating ingress: ``SECURE_PROXY_SSL_HEADER`` trusts its
``X-Forwarded-Proto`` (set ``KAFKAML_TRUST_PROXY_PROTO=0`` where nothing in front sets it)."""

import os

from .base import *  # noqa: F403

if not os.environ.get("DJANGO_SECRET_KEY"):
    raise RuntimeError("DJANGO_SECRET_KEY must be set in production")

# KAFKAML_SECURE_COOKIES=0 only where no TLS is in front at all (a local cluster).
_https = os.environ.get("KAFKAML_SECURE_COOKIES", "1") == "1"
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = _https
# Inside the cluster, probes and the workers reach the backend over plain HTTP by its Service
# name: only what browsers and scripts use from outside is redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$", r"^api/v1/worker/"]
SECURE_HSTS_SECONDS = int(os.environ.get("KAFKAML_HSTS_SECONDS", 31_536_000)) if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("KAFKAML_HSTS_SUBDOMAINS", "0") == "1"
if os.environ.get("KAFKAML_TRUST_PROXY_PROTO", "1") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
