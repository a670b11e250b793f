"""Attacks by model code sent for validation (``POST /api/v1/models/``) and on the executor's
port, against a real platform. Each test runs one attack and asserts it was harmless.

The attack code reports what it found by raising ``RuntimeError("REPORT:...")``: the message
comes back in the 400's detail, the channel that leaked every token before (issue 10)."""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import textwrap
import threading
import time
from urllib.parse import urlparse

import pytest

JOB_UIDS = range(200000, 210000)


def attack(user, platform, code: str, *, must_report: bool = True) -> str:
    """Send ``code`` as alice's (or bob's) model; return the validation error's message (the
    report the code raised, unless the sandbox ended it first)."""
    body = {
        "name": f"attack-{secrets.token_hex(4)}",
        "framework": "tensorflow",
        "imports": "import os, json, re, socket, signal, time",
        "code": textwrap.dedent(code),
    }
    response = user.api(platform, "POST", "models/", json=body)
    assert response.status_code == 400, response.text[:2000]
    text = str(response.json().get("detail", ""))  # the message only, not the code's lines
    if must_report:
        assert "REPORT:" in text, response.text[:2000]  # the attack code did run
    return text


def executor_process(platform) -> tuple[int, str, str]:
    """(pid, url, secret) of this platform's executor, found as root through /proc."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            env = dict(
                item.split("=", 1)
                for item in open(f"/proc/{pid}/environ", "rb").read().decode().split("\0")
                if "=" in item
            )
        except OSError:
            continue
        if b"mlcode_executor" in argv and env.get("KAFKAML_DATA_DIR") == str(platform.data_dir):
            port = argv[argv.index(b"--port") + 1].decode()
            return int(pid), f"http://127.0.0.1:{port}", env.get("MLCODE_EXECUTOR_SECRET", "")
    pytest.fail("the platform's executor process was not found")


def raw(url: str, path: str, headers: dict, body: bytes = b"", method: str = "POST"):
    parts = urlparse(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        try:
            if body:
                conn.send(body)
        except OSError:
            pass
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_validation_code_cannot_read_the_database_or_wal(platform, alice, bob):
    text = attack(
        alice,
        platform,
        f"""
        found, errors = [], []
        for top in ({str(platform.data_dir)!r}, {str(platform.data_dir / "db.sqlite3")!r}):
            for root, dirs, files in os.walk(top):
                for name in files:
                    try:
                        data = open(os.path.join(root, name), "rb").read()
                        found += re.findall(rb"[0-9a-f]{{40}}", data)[:50]
                        found.append(name.encode())
                    except OSError as exc:
                        errors.append(type(exc).__name__)
            try:
                os.stat(top)
                errors.append("visible " + top)
            except OSError as exc:
                errors.append(type(exc).__name__)
        raise RuntimeError("REPORT:" + repr([f.decode() for f in found]) + repr(errors))
    """,
    )
    for token in (alice.token, bob.token, platform.http.headers["Authorization"].split()[-1]):
        assert token not in text
    assert "db.sqlite3" not in text.split("REPORT:")[1]


def test_validation_code_cannot_read_another_users_code_artifacts_or_logs(platform, alice, bob):
    marker = f"BOB-PRIVATE-{secrets.token_hex(6)}"
    code = (
        f"# {marker}\n"
        "model = tf.keras.Sequential([tf.keras.Input(shape=(4,)), tf.keras.layers.Dense(2)])\n"
    )
    response = bob.api(
        platform,
        "POST",
        "models/",
        json={
            "name": f"bob-{marker}",
            "framework": "tensorflow",
            "imports": "import tensorflow as tf",
            "code": code,
        },
    )
    assert response.status_code == 201, response.text
    text = attack(
        alice,
        platform,
        f"""
        hits, seen = [], 0
        for top in ({str(platform.data_dir)!r}, "/tmp", "/var/tmp", "/dev/shm", "/root", "/home",
                    "/proc"):
            for root, dirs, files in os.walk(top):
                if root.startswith("/proc/") and root.count("/") > 3:
                    dirs[:] = []
                for name in files:
                    seen += 1
                    try:
                        with open(os.path.join(root, name), "rb") as f:
                            if b"{marker[:12]}" + b"{marker[12:]}" in f.read(1 << 20):
                                hits.append(os.path.join(root, name))
                    except OSError:
                        pass
        raise RuntimeError("REPORT:" + json.dumps({{"hits": hits, "seen": seen}}))
    """,
    )
    assert marker not in text
    assert re.search(r"hits\W+\[\]", text), text[:2000]  # searched, found nothing


def test_validation_code_has_no_network(platform, alice):
    web = urlparse(platform.url)
    broker_host, broker_port = platform.bootstrap_servers.split(",")[0].rsplit(":", 1)
    _, executor_url, _ = executor_process(platform)
    executor_port = urlparse(executor_url).port
    text = attack(
        alice,
        platform,
        f"""
        results = []
        for host, port in (({web.hostname!r}, {web.port}), ({broker_host!r}, {broker_port}),
                           ("127.0.0.1", {executor_port}), ("1.1.1.1", 443)):
            try:
                socket.create_connection((host, port), timeout=2).close()
                results.append("CONNECTED %s:%s" % (host, port))
            except OSError as exc:
                results.append("blocked %s:%s %s" % (host, port, exc))
        raise RuntimeError("REPORT:" + " | ".join(results))
    """,
    )
    assert "CONNECTED" not in text and text.count("blocked") == 4


def _job_processes(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_nothing_a_job_spawned_survives_it(platform, alice):
    marker = f"{secrets.randbelow(10**6) + 10**6}.5"
    attack(
        alice,
        platform,
        f"""
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv("/bin/sleep", ["sleep", "{marker}"])
            os._exit(0)
        time.sleep(0.5)
        raise RuntimeError("REPORT: left a setsid grandchild behind")
    """,
    )
    deadline = time.monotonic() + 5
    while _job_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _job_processes(marker) == []


def test_a_job_cannot_signal_another_job(platform, alice, bob):
    victim: dict = {}

    def slow():
        victim["text"] = attack(
            bob,
            platform,
            """
            time.sleep(6)
            raise RuntimeError("REPORT: victim finished")
        """,
        )

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(2)
    text = attack(
        alice,
        platform,
        """
        sent = []
        for pid in list(range(1, 4000)):
            try:
                os.kill(pid, signal.SIGKILL) if pid != os.getpid() else None
                sent.append(pid)
            except OSError:
                pass
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        raise RuntimeError("REPORT: signalled %s" % sent)
    """,
    )
    thread.join(60)
    assert "victim finished" in victim.get("text", ""), victim
    assert "REPORT" in text


def test_memory_is_capped_per_job_not_per_process(platform, alice):
    text = attack(
        alice,
        platform,
        """
        children = []
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                block = b"x" * (800 * 1024 * 1024)
                time.sleep(4)
                os._exit(0)
            children.append(pid)
        block = b"x" * (800 * 1024 * 1024)
        time.sleep(4)
        codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in children]
        raise RuntimeError("REPORT: ALL-SURVIVED" if codes == [0, 0] else "REPORT: %s" % codes)
    """,
        must_report=False,
    )
    assert "ALL-SURVIVED" not in text
    assert "memory limit exceeded" in text or "-9" in text, text[:1000]


def test_files_left_in_tmp_and_shm_do_not_persist(platform, alice):
    marker = f"kafkaml-leftover-{secrets.token_hex(4)}"
    attack(
        alice,
        platform,
        f"""
        for d in ("/tmp", "/dev/shm", "/var/tmp"):
            open(os.path.join(d, "{marker}"), "w").write("left behind")
        raise RuntimeError("REPORT: written")
    """,
    )
    text = attack(
        alice,
        platform,
        f"""
        raise RuntimeError("REPORT:" + repr([os.path.exists(os.path.join(d, "{marker}"))
                                            for d in ("/tmp", "/dev/shm", "/var/tmp")]))
    """,
    )
    assert "[False, False, False]" in text
    for d in ("/tmp", "/dev/shm", "/var/tmp"):
        assert not os.path.exists(os.path.join(d, marker))


def test_executor_refuses_unauthenticated_requests(platform):
    _, url, secret = executor_process(platform)
    assert secret, "kafkaml up must give the executor a secret"
    body = json.dumps({"framework": "tensorflow", "imports": "", "code": "model = 1"}).encode()
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": f"Token {secret}"}):
        status, _ = raw(url, "/validate", {**headers, "Content-Length": str(len(body))}, body)
        assert status == 401
    status, payload = raw(url, "/health", {}, method="GET")
    assert status == 200 and json.loads(payload) == {"status": "ok"}


def test_executor_refuses_negative_and_oversized_lengths(platform):
    _, url, secret = executor_process(platform)
    auth = {"Authorization": f"Bearer {secret}"}
    body = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    for length, expected in (("-1", 400), ("abc", 400), (str(len(body)), 413), ("9" * 30, 413)):
        status, _ = raw(url, "/validate", {**auth, "Content-Length": length}, body)
        assert status == expected, length
