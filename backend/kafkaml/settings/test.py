"""Tests: the same settings, with fast password hashing and a throw-away data dir."""

import os
import tempfile

os.environ.setdefault("KAFKAML_DATA_DIR", tempfile.mkdtemp(prefix="kafkaml-test-"))

from .base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True

# Multi-user rules are tested on any machine; single-user mode is tested by switching it on
# (and against a real platform in tests/security/).
KAFKAML_SINGLE_USER_MODE = False
