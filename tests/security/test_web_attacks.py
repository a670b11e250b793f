"""Attacks on accounts, tokens and the web layer, against a real platform (``kafkaml up``).

Alice is an ordinary signed-in user (and in some tests a stranger with no account at all).
Each test performs one attack and asserts it was harmless: guessing is throttled, a token
that was logged out, revoked or belongs to a disabled user is dead, tokens are not on disk in
plain text, weak passwords are refused, the browser defences are on every page, and bodies
that used to crash or tie up the server get a JSON 4xx.
"""

from __future__ import annotations

import json
import socket
import subprocess
from urllib.parse import urlparse

import pytest
import requests
import websockets.exceptions
from websockets.sync.client import connect as ws_connect

from tests.e2e_platform.harness import KAFKAML, clean_env
from tests.e2e_platform.test_journey import CODE, IMPORTS
from tests.security.conftest import create_user, login

pytestmark = pytest.mark.slow


def test_guessing_a_password_is_throttled_even_when_the_guess_is_right(platform):
    victim = create_user(platform, "throttle-victim")  # one attempt: the fixture's login
    statuses = [
        requests.post(
            f"{platform.url}/api/v1/auth/token/",
            json={"username": victim.username, "password": f"guess-{i}"},
            timeout=30,
        ).status_code
        for i in range(40)
    ]
    assert statuses.count(401) <= 4 and statuses[-1] == 429, statuses
    right = requests.post(
        f"{platform.url}/api/v1/auth/token/",
        json={"username": victim.username, "password": victim.password},
        timeout=30,
    )
    assert right.status_code == 429
    assert right.headers["Content-Type"] == "application/json" and right.json()["detail"]


def test_a_logged_out_token_is_dead(platform, alice):
    session = login(platform, alice.username, alice.password)  # a second token of hers
    assert session.api(platform, "GET", "models/").status_code == 200
    assert session.api(platform, "POST", "auth/logout/").status_code == 204
    assert session.api(platform, "GET", "models/").status_code == 401
    assert alice.api(platform, "GET", "models/").status_code == 200  # her other token lives


def test_a_revoked_token_is_dead_and_others_tokens_cannot_be_revoked(platform, alice, bob):
    created = alice.api(platform, "POST", "auth/tokens/", json={"name": "ci"})
    assert created.status_code == 201
    token = created.json()
    assert bob.api(platform, "DELETE", f"auth/tokens/{token['id']}/").status_code == 404
    headers = {"Authorization": f"Token {token['token']}"}
    assert requests.get(f"{platform.url}/api/v1/models/", headers=headers, timeout=30).ok
    assert alice.api(platform, "DELETE", f"auth/tokens/{token['id']}/").status_code == 204
    dead = requests.get(f"{platform.url}/api/v1/models/", headers=headers, timeout=30)
    assert dead.status_code == 401


def test_tokens_are_not_stored_in_plain_text(platform, alice):
    secret = alice.token.removeprefix("kml_")
    files = [
        path
        for path in platform.data_dir.rglob("*")
        if path.is_file() and path.name.startswith("kafkaml.sqlite3")
    ]
    assert files, "no database files found"
    for path in files:  # the database, its WAL and shared memory
        data = path.read_bytes()
        assert secret.encode() not in data, path
        assert secret[: len(secret) // 2].encode() not in data, path


@pytest.mark.parametrize("password", ["password", "1234567890123", "short-1", "qwertyuiop"])
def test_a_weak_password_is_refused_by_the_api(platform, password):
    response = platform.http.post(
        f"{platform.url}/api/v1/users/",
        json={"username": "weakling", "password": password},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"]["password"]


def test_a_weak_password_is_refused_by_the_cli(platform):
    done = subprocess.run(
        [KAFKAML, "users", "create", "weakling-cli", "--data-dir", str(platform.data_dir)]
        + ["--password-stdin"],
        input="password1\n",
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    assert done.returncode != 0 and "too" in done.stderr, done.stdout + done.stderr
    users = platform.http.get(f"{platform.url}/api/v1/users/", timeout=30).json()
    assert "weakling-cli" not in [u["username"] for u in users]


def test_a_disabled_users_token_is_dead(platform):
    victim = create_user(platform, "soon-disabled")
    assert victim.api(platform, "GET", "models/").status_code == 200
    done = subprocess.run(
        [KAFKAML, "users", "disable", victim.username, "--data-dir", str(platform.data_dir)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert victim.api(platform, "GET", "models/").status_code == 401
    again = requests.post(
        f"{platform.url}/api/v1/auth/token/",
        json={"username": victim.username, "password": victim.password},
        timeout=30,
    )
    assert again.status_code == 401


def test_an_ordinary_user_cannot_list_create_or_change_users(platform, alice, bob):
    assert alice.api(platform, "GET", "users/").status_code == 403
    created = alice.api(
        platform, "POST", "users/", json={"username": "mallory", "password": "a-fine-pass-987"}
    )
    assert created.status_code == 403
    bob_id = next(
        u["id"]
        for u in platform.http.get(f"{platform.url}/api/v1/users/", timeout=30).json()
        if u["username"] == bob.username
    )
    assert (
        alice.api(platform, "PATCH", f"users/{bob_id}/", json={"is_active": False}).status_code
        == 403
    )
    reset = alice.api(platform, "POST", f"users/{bob_id}/password/", json={"password": "x" * 16})
    assert reset.status_code == 403
    assert bob.api(platform, "GET", "models/").status_code == 200


def _result_of(platform, user) -> int:
    """A training result of ``user`` (its workload waits for data; stopped by the caller)."""
    model = user.api(
        platform,
        "POST",
        "models/",
        json={"name": "ws-origin", "framework": "tensorflow", "imports": IMPORTS, "code": CODE},
    )
    assert model.status_code == 201, model.text
    configuration = user.api(
        platform,
        "POST",
        "configurations/",
        json={"name": "ws-origin", "models": [model.json()["id"]]},
    )
    assert configuration.status_code == 201, configuration.text
    deployment = user.api(
        platform,
        "POST",
        "deployments/",
        json={"configuration": configuration.json()["id"], "batch_size": 32},
    )
    assert deployment.status_code == 201, deployment.text
    return deployment.json()["results"][0]["id"]


def test_a_foreign_websocket_origin_is_refused(platform, alice):
    result = _result_of(platform, alice)
    try:
        url = f"ws://{urlparse(platform.url).netloc}/ws/results/{result}/?token={alice.token}"
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            ws_connect(url, origin="http://evil.example", open_timeout=30)
        assert refused.value.response.status_code == 403
        # The same request from the platform's own page is let in: it was the Origin.
        with ws_connect(url, origin=platform.url, open_timeout=30) as ws:
            assert json.loads(ws.recv(timeout=30))["event"] == "snapshot"
    finally:
        alice.api(platform, "POST", f"results/{result}/stop/")


@pytest.mark.parametrize("path", ["/", "/models/1", "/api/docs/"])
def test_pages_carry_csp_and_cannot_be_framed(platform, path):
    response = platform.http.get(f"{platform.url}{path}", timeout=30)
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_login_needs_a_csrf_token(platform, alice):
    """Login CSRF: another site's form must not sign the browser in (to the attacker's
    account, whose data the victim would then enter)."""
    response = requests.post(
        f"{platform.url}/api/v1/auth/login/",
        json={"username": alice.username, "password": alice.password},
        headers={"Origin": "http://evil.example"},
        timeout=30,
    )
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize("path", ["auth/token/", "models/"])
def test_deeply_nested_json_gets_a_json_400(platform, alice, path):
    body = "[" * 100_000 + "]" * 100_000
    response = alice.http.post(
        f"{platform.url}/api/v1/{path}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert "nested" in response.json()["detail"]


def test_a_20_mb_body_is_refused_without_being_read(platform):
    """The request declares 20 MB and sends one byte: the answer comes at once, so the server
    neither waited for nor parsed the rest."""
    host, port = urlparse(platform.url).hostname, urlparse(platform.url).port
    head = (
        "POST /api/v1/auth/token/ HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {20 * 1024 * 1024}\r\n\r\n{{"
    )
    with socket.create_connection((host, port), timeout=15) as conn:
        conn.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_streamed_20_mb_body_is_cut_off(platform):
    def chunks():
        for _ in range(20):
            yield b" " * (1024 * 1024)

    try:
        response = requests.post(
            f"{platform.url}/api/v1/auth/token/",
            data=chunks(),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
    except requests.ConnectionError:
        return  # the server closed the connection mid-upload: refused, not read
    assert response.status_code == 413


def test_anonymous_health_shows_no_pid_or_error_text(platform):
    response = requests.get(f"{platform.url}/api/v1/health", timeout=30)
    body = response.json()
    assert set(body) == {"status", "components", "single_user_mode"}
    assert all(set(state) == {"status"} for state in body["components"].values())
    assert "pid" not in response.text and "error" not in response.text
    staff = platform.http.get(f"{platform.url}/api/v1/health", timeout=30).json()
    assert "pid" in staff and "sandbox" in staff


def test_the_data_dir_and_its_files_are_private(platform):
    """Last in this file, after a workload ran. No other local account (a sandboxed job's uid included) may enter the data dir, and
    nothing in it (database and WAL, logs, artifacts, workload state, secret key) is open to
    the group or others."""
    assert platform.data_dir.stat().st_mode & 0o777 == 0o700
    entries = [p for p in platform.data_dir.rglob("*") if not p.is_symlink()]
    assert any(p.name == "kafkaml.sqlite3-wal" for p in entries)
    assert (platform.data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    opened = [(str(p), oct(p.stat().st_mode & 0o777)) for p in entries if p.stat().st_mode & 0o077]
    assert opened == []
