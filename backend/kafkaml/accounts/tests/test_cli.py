"""``kafkaml users ...`` as a shell user runs it: a real process on a fresh data dir."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

KAFKAML = str(Path(sys.executable).with_name("kafkaml"))
PASSWORD = "a-long-enough-passphrase-7"


def users(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE") and not k.startswith("KAFKAML_")
    }
    return subprocess.run(
        [KAFKAML, "users", *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def row(data_dir: Path, username: str) -> tuple | None:
    with sqlite3.connect(data_dir / "kafkaml.sqlite3") as db:
        return db.execute(
            "SELECT is_active, is_staff, password FROM auth_user WHERE username = ?", (username,)
        ).fetchone()


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


def test_create_reads_the_password_from_stdin_and_prints_no_secret(data_dir):
    done = users(data_dir, "create", "carol", "--staff", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "created user carol (staff)"
    assert PASSWORD not in done.stdout + done.stderr
    is_active, is_staff, stored = row(data_dir, "carol")
    assert is_active and is_staff and PASSWORD not in stored and stored.startswith("pbkdf2_")
    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert (data_dir / "kafkaml.sqlite3").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("weak", ["password", "dave", "12345678901", "davidson1!"])
def test_weak_passwords_are_refused(data_dir, weak):
    done = users(data_dir, "create", "davidson", "--password-stdin", stdin=weak + "\n")
    assert done.returncode == 1
    assert "too" in done.stderr and "Traceback" not in done.stderr
    assert row(data_dir, "davidson") is None


def test_list_disable_enable_and_set_password(data_dir):
    for name in ("erin", "frank"):
        assert users(data_dir, "create", name, "--password-stdin", stdin=PASSWORD).returncode == 0
    assert users(data_dir, "create", "erin", "--password-stdin", stdin=PASSWORD).returncode == 1

    done = users(data_dir, "disable", "erin")
    assert done.returncode == 0 and row(data_dir, "erin")[0] == 0
    listed = users(data_dir, "list").stdout.splitlines()
    assert listed[0].split()[:3] == ["USERNAME", "STAFF", "ACTIVE"]
    assert [line.split()[:3] for line in listed[1:]] == [
        ["erin", "no", "no"],
        ["frank", "no", "yes"],
    ]
    assert users(data_dir, "enable", "erin").returncode == 0 and row(data_dir, "erin")[0] == 1

    before = row(data_dir, "frank")[2]
    weak = users(data_dir, "set-password", "frank", "--password-stdin", stdin="frank\n")
    assert weak.returncode == 1 and row(data_dir, "frank")[2] == before
    done = users(data_dir, "set-password", "frank", "--password-stdin", stdin="another-one-98765")
    assert done.returncode == 0 and row(data_dir, "frank")[2] != before


def test_unknown_users_are_an_error_not_a_traceback(data_dir):
    done = users(data_dir, "disable", "nobody-here")
    assert done.returncode == 1 and "no user named 'nobody-here'" in done.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("single_user", [True, False])
def test_up_warns_at_start_up_in_single_user_mode(settings, capsys, single_user):
    from kafkaml.cli import _warn_single_user_mode

    settings.KAFKAML_SINGLE_USER_MODE = single_user
    _warn_single_user_mode()
    printed = capsys.readouterr().out
    assert ("WARNING: Kafka-ML runs in single-user mode" in printed) is single_user
