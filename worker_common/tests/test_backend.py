"""The workers' REST client against a small HTTP server speaking the contract."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from worker_common.backend import BackendClient, BackendError


@pytest.fixture
def revoked_backend():
    """Answers 401 to everything, as the backend does for a revoked credential, and keeps the
    Authorization headers it saw."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.headers.get("Authorization", ""))
            body = b'{"detail": "Invalid or revoked workload credential."}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_a_workload_sends_its_own_credential(revoked_backend):
    url, seen = revoked_backend
    client = BackendClient(url, "ab" * 32, max_retries=0)
    with pytest.raises(BackendError) as error:
        client.report_inference_metrics(1, {"replica": "r"})
    assert error.value.status_code == 401
    assert seen == [f"Workload {'ab' * 32}"]


def test_a_final_status_after_the_workload_was_closed_is_not_an_error(revoked_backend):
    url, _ = revoked_backend
    client = BackendClient(url, "ab" * 32, max_retries=0)
    client.set_result_status(7, "finished")  # the upload already finished it: nothing to say
    with pytest.raises(BackendError):
        client.set_result_status(7, "deployed")  # not final: a real problem


def test_without_a_credential_the_client_refuses_to_start(monkeypatch):
    monkeypatch.delenv("KAFKAML_API_TOKEN", raising=False)
    with pytest.raises(BackendError, match="KAFKAML_API_TOKEN"):
        BackendClient("http://127.0.0.1:9")
