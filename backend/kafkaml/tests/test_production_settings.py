"""``kafkaml.settings.production`` in a fresh interpreter: HTTPS only for browsers and scripts,
secure cookies and HSTS, while probes and the in-cluster workers keep plain HTTP."""

import json
import os
import subprocess
import sys
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
out = {name: getattr(settings, name) for name in (
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS")}
out["login"] = client.post("/api/v1/auth/login/", HTTP_HOST="kafkaml.example.org").status_code
out["worker"] = client.get("/api/v1/worker/heartbeats/", HTTP_HOST="kafkaml.example.org").status_code
https = client.get("/", HTTP_HOST="kafkaml.example.org", HTTP_X_FORWARDED_PROTO="https")
out["hsts"] = https.headers.get("Strict-Transport-Security", "")
print(json.dumps(out))
"""


def test_production_redirects_browsers_to_https_and_sends_hsts(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KAFKAML_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "kafkaml.settings.production",
        "DJANGO_SECRET_KEY": "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "kafkaml.example.org",
        "KAFKAML_DATA_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["SESSION_COOKIE_SECURE"] and out["CSRF_COOKIE_SECURE"] and out["SECURE_SSL_REDIRECT"]
    assert out["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert out["login"] == 301  # plain HTTP from outside: to HTTPS first
    assert out["worker"] != 301  # workers inside the cluster: plain HTTP is fine
    assert out["hsts"].startswith("max-age=31536000")
