import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

USER_ENDPOINTS = [
    "/api/v1/models/",
    "/api/v1/configurations/",
    "/api/v1/deployments/",
    "/api/v1/results/",
    "/api/v1/datasources/",
    "/api/v1/inferences/",
    "/api/schema/",
    "/api/v1/worker/results/1/",
]


@pytest.mark.parametrize("url", USER_ENDPOINTS)
def test_no_anonymous_access(url):
    response = APIClient().get(url)
    assert response.status_code in (401, 403)


def test_session_login_me_logout(user):
    api = APIClient(enforce_csrf_checks=True)
    # Login itself needs the CSRF token: another site cannot sign the browser in.
    no_csrf = api.post(
        "/api/v1/auth/login/", {"username": "alice", "password": "alice-password-1"}, format="json"
    )
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
    csrf = api.get("/api/v1/auth/csrf/").json()["csrftoken"]
    wrong = api.post(
        "/api/v1/auth/login/",
        {"username": "alice", "password": "nope"},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert wrong.status_code == 401
    assert "password" in wrong.json()["errors"]
    response = api.post(
        "/api/v1/auth/login/",
        {"username": "alice", "password": "alice-password-1"},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 200 and response.json()["username"] == "alice"
    me = api.get("/api/v1/auth/me/").json()
    assert me["username"] == "alice" and me["authenticated"] is True
    assert me["kafka"]["control_topic"] == "KAFKA_ML_CONTROL_TOPIC"
    assert me["kafka"]["topic_prefix"] == "alice."
    # Unsafe requests need the CSRF token once logged in with a session.
    assert api.post("/api/v1/auth/logout/").status_code == 403
    token = api.get("/api/v1/auth/csrf/").json()["csrftoken"]
    assert api.post("/api/v1/auth/logout/", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert api.get("/api/v1/auth/me/").json() == {"authenticated": False}


def test_token_for_scripts(user):
    api = APIClient()
    token = api.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "alice-password-1"}, format="json"
    ).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/models/").status_code == 200


def test_health_is_open_and_reports_components(db):
    response = APIClient().get("/api/v1/health")
    assert response.status_code in (200, 503)
    assert set(response.json()["components"]) >= {"database", "broker", "celery", "control_logger"}
    assert response.json()["components"]["database"]["status"] == "ok"


def test_errors_are_json_with_fields(client):
    response = client.post("/api/v1/configurations/", {}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("Invalid input")
    assert set(body["errors"]) >= {"name", "models"}


@pytest.mark.parametrize("value", ["abc\x00def", "x" * 500, "ünïcode", "a b"])
def test_malformed_credentials_are_refused_not_crashed(db, value):
    api = APIClient()
    api.cookies["sessionid"] = value
    assert api.get("/api/v1/models/").status_code in (401, 403)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {value}")
    assert api.get("/api/v1/models/").status_code in (401, 403)
