"""Web hardening through the real ASGI application and middleware: CSP and X-Frame-Options
on every page, JSON errors for bad bodies, the body-size cap, a lean anonymous health, and
the websocket Origin check."""

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from kafkaml.asgi import application

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/models/12", "/api/docs/", "/api/v1/health"])
def test_every_response_carries_csp_and_frame_denial(client, path):
    response = client.get(path)
    assert response["X-Frame-Options"] == "DENY", path
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert (
        "unsafe-eval" not in csp
        and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    )


def test_api_docs_have_no_inline_script_and_their_files_are_served(client):
    html = client.get("/api/docs/").content.decode()
    assert "<script>" not in html.replace(" ", "")
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in html
    response = client.get(bundle)
    assert response.status_code == 200 and "javascript" in response["Content-Type"]


def test_deeply_nested_json_is_a_json_400(client):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/v1/models/", body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "nested deeper" in response.json()["detail"]


def test_json_a_little_too_deep_is_refused_too(client):
    body = json.dumps({"name": "m", "code": "x", "kwargs": "[" * 70 + "]" * 70})
    body = body.replace('"' + "[" * 70, "[" * 70).replace("]" * 70 + '"', "]" * 70)
    response = client.post("/api/v1/models/", body, content_type="application/json")
    assert response.status_code == 400 and "nested deeper" in response.json()["detail"]


@pytest.mark.parametrize("body", ["{", "NaN", '{"a": Infinity}', b"\xff\xfe"])
def test_malformed_json_is_a_json_400(client, body):
    response = client.post("/api/v1/models/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"].startswith("JSON parse")


def test_a_body_over_the_cap_is_refused_by_the_parser(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"name": "x" * 2000})
    response = client.post("/api/v1/models/", body, content_type="application/json")
    assert response.status_code == 413 and response.json()["detail"]


async def _http(path: str, headers: list, chunks: list[bytes]) -> tuple[int, dict, list]:
    """One request through the real ASGI app; returns (status, headers, chunks not read)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    app = ApplicationCommunicator(application, scope)
    for i, chunk in enumerate(chunks):
        await app.send_input(
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        )
    start = await app.receive_output(10)
    body = await app.receive_output(10)
    return start["status"], json.loads(body["body"]), app


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_a_declared_20_mb_body_is_refused_before_it_is_read():
    size = 20 * 1024 * 1024
    status, body, _ = await _http(
        "/api/v1/auth/token/", [(b"content-length", str(size).encode())], [b"{"]
    )
    assert status == 413 and "larger than" in body["detail"]


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_an_undeclared_body_is_cut_off_at_the_cap():
    chunk = b" " * (1024 * 1024)
    status, body, _ = await _http("/api/v1/auth/token/", [], [chunk] * 4)
    assert status == 413 and "larger than" in body["detail"]


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_anonymous_health_shows_states_only(db):
    body = APIClient().get("/api/v1/health").json()
    assert set(body) == {"status", "components", "single_user_mode"}
    assert all(set(c) == {"status"} for c in body["components"].values())
    assert "pid" not in json.dumps(body) and "error" not in json.dumps(body)


def test_staff_see_health_details(db):
    from kafkaml.accounts.services import user_create

    api = APIClient()
    api.force_authenticate(user_create(username="ops", password="ops-password-77", is_staff=True))
    body = api.get("/api/v1/health").json()
    assert "pid" in body and body["sandbox"]["complete"] in (True, False)
    assert (
        body["components"]["broker"]["status"] == "down"
        or "brokers" in body["components"]["broker"]
    )


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "reaches_the_app"),
    [
        (b"http://evil.example", False),
        (b"null", False),
        (b"http://127.0.0.1:8000", True),
        (None, True),  # a script: browsers always send an Origin
    ],
)
async def test_websockets_from_a_foreign_origin_are_refused(origin, reaches_the_app):
    headers = [(b"origin", origin)] if origin else []
    communicator = WebsocketCommunicator(application, "/ws/results/1/", headers=headers)
    connected, code = await communicator.connect(timeout=10)
    assert not connected
    # 4401 is the app's own answer to an anonymous client: the Origin check let it through.
    assert (code == 4401) is reaches_the_app
