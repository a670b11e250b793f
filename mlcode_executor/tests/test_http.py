"""The service's door: authentication, the body cap for every Content-Length, the fair queue."""

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

from mlcode_executor.client import ExecutorClient
from mlcode_executor.fairqueue import FairQueue, QueueTimeout
from mlcode_executor.server import MAX_BODY


def raw(executor, method, path, headers=None, body=b"", send_body=True):
    """One request on a fresh connection; returns (status, parsed JSON)."""
    url = urlparse(executor.base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        if send_body and body:
            try:
                conn.send(body)
            except OSError:  # the server answered and closed without reading: what we want
                pass
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def auth(executor):
    return {"Authorization": f"Bearer {executor.secret}"}


def test_requests_without_the_secret_are_refused(executor):
    body = json.dumps({"framework": "tensorflow", "imports": "", "code": "model = 1"}).encode()
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": executor.secret},
        {"Authorization": f"Bearer {executor.secret}x"},
    ):
        headers = {**headers, "Content-Length": str(len(body))}
        status, payload = raw(executor, "POST", "/validate", headers, body)
        assert status == 401, (headers, payload)
    bad = ExecutorClient(executor.base_url, secret="nope")
    with pytest.raises(Exception, match="401"):
        bad.validate_kwargs("tensorflow", "epochs=1")
    # health answers anyone, but tells the sandbox's details only with the secret
    status, payload = raw(executor, "GET", "/health")
    assert status == 200 and payload == {"status": "ok"}
    assert executor.health()["sandbox"]["limits"]["per_user"] == 1


@pytest.mark.parametrize(
    "length, expected",
    [
        ("-1", 400),
        ("abc", 400),
        ("1e3", 400),
        (" +5", 400),
        (str(MAX_BODY + 1), 413),
        ("9" * 40, 413),
    ],
)
def test_every_content_length_is_checked_before_the_body_is_read(executor, length, expected):
    body = b"x" * (3 * 1024 * 1024)  # 3 MiB behind a lying length
    headers = {**auth(executor), "Content-Length": length}
    status, payload = raw(executor, "POST", "/validate", headers, body)
    assert status == expected, payload
    assert "detail" in payload


def test_chunked_and_conflicting_lengths_are_refused(executor):
    status, _ = raw(
        executor,
        "POST",
        "/validate",
        {**auth(executor), "Transfer-Encoding": "chunked"},
        b"5\r\nhello\r\n0\r\n\r\n",
    )
    assert status == 400


def test_fair_queue_round_robin_and_per_user_cap():
    queue = FairQueue(slots=2, per_user=1)
    order: list[str] = []
    lock = threading.Lock()

    def job(user, hold):
        queue.acquire(user, 30)
        with lock:
            order.append(user)
        time.sleep(hold)
        queue.release(user)

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(job, "alice", 0.3) for _ in range(4)]
        time.sleep(0.05)
        futures += [pool.submit(job, "bob", 0.01) for _ in range(2)]
        for f in futures:
            f.result()
    # alice never runs two at once, and bob does not wait behind all of alice's jobs
    assert order.index("bob") <= 2 and order[:2].count("alice") == 1
    assert sorted(order) == ["alice"] * 4 + ["bob"] * 2
    queue.acquire("carol", 1)
    with pytest.raises(QueueTimeout):
        queue.acquire("carol", 0.2)  # her one slot is taken
    queue.release("carol")


def test_one_users_slow_jobs_do_not_delay_another(executor):
    slow = "import time\ntime.sleep(4)\nmodel = 1\n"
    fast = "model = 1\n"
    with ThreadPoolExecutor(3) as pool:
        alice = [
            pool.submit(executor.validate, "tensorflow", "", slow, user="alice") for _ in range(2)
        ]
        time.sleep(0.3)
        t0 = time.monotonic()
        bob = executor.validate("tensorflow", "", fast, user="bob")
        bob_wait = time.monotonic() - t0
        t1 = time.monotonic()
        for f in alice:
            f.result()
        alice_total = time.monotonic() - t1 + 0.3
    assert bob["error"]["type"] == "InvalidModel"
    assert bob_wait < 3, bob_wait  # not behind alice's 4 s jobs
    assert alice_total > 7  # alice's two jobs ran one after the other (her cap is 1)
