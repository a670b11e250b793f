"""API tokens: new per call, hashed at rest, expiring, listed and revoked by their owner."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from kafkaml.accounts.models import ApiToken

pytestmark = pytest.mark.django_db
ALICE = {"username": "alice", "password": "alice-password-1"}


def token_client(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def new_token(credentials=ALICE) -> dict:
    response = APIClient().post("/api/v1/auth/token/", credentials, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_each_call_gives_a_new_expiring_token(user):
    first, second = new_token(), new_token()
    assert first["token"] != second["token"] and first["id"] != second["id"]
    assert first["token"].startswith("kml_") and first["expiry"]
    assert token_client(first["token"]).get("/api/v1/models/").status_code == 200


def test_tokens_are_stored_as_digests_only(user):
    token = new_token()["token"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        rows = cursor.fetchall()
    assert rows and not any(token in str(value) for row in rows for value in row)
    assert not any(token[4:] in str(value) for row in rows for value in row)


def test_an_expired_token_is_refused(user):
    token = new_token()
    ApiToken.objects.filter(public_id=token["id"]).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    assert token_client(token["token"]).get("/api/v1/models/").status_code == 401


def test_logout_revokes_the_token_used_and_only_it(user):
    used, other = new_token(), new_token()
    api = token_client(used["token"])
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get("/api/v1/models/").status_code == 401
    assert token_client(other["token"]).get("/api/v1/models/").status_code == 200


def test_owner_lists_creates_and_revokes_tokens(user, other_user):
    login = new_token()
    api = token_client(login["token"])
    created = api.post("/api/v1/auth/tokens/", {"name": "laptop"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "token", "expiry"} and body["name"] == "laptop"
    listed = api.get("/api/v1/auth/tokens/").json()
    assert {t["id"]: t["current"] for t in listed} == {login["id"]: True, body["id"]: False}
    assert all(set(t) == {"id", "name", "created", "expiry", "current"} for t in listed)
    assert "token" not in str(listed[0].keys())

    bob = token_client(new_token({"username": "bob", "password": "bob-password-1"})["token"])
    assert bob.delete(f"/api/v1/auth/tokens/{body['id']}/").status_code == 404
    assert token_client(body["token"]).get("/api/v1/models/").status_code == 200
    assert api.delete(f"/api/v1/auth/tokens/{body['id']}/").status_code == 204
    assert token_client(body["token"]).get("/api/v1/models/").status_code == 401
    assert api.delete(f"/api/v1/auth/tokens/{body['id']}/").status_code == 404


def test_no_plain_text_token_table_is_left(db):
    assert "authtoken_token" not in connection.introspection.table_names()


@pytest.mark.parametrize(
    "header",
    [
        "Token kml_" + "0" * 64,
        "Token kml_zz",
        "Token kml_" + "a" * 63 + "\u00e9",
        "Token a b",
        "Token " + "a" * 40,  # an old DRF token's shape
    ],
)
def test_forged_tokens_are_401_not_500(db, header):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    assert api.get("/api/v1/models/").status_code == 401


def test_password_change_keeps_this_token_and_revokes_the_others(user):
    current, other = new_token(), new_token()
    api = token_client(current["token"])
    weak = api.post(
        "/api/v1/auth/password/",
        {"old_password": "alice-password-1", "new_password": "12345678901"},
        format="json",
    )
    assert weak.status_code == 400 and weak.json()["errors"]["new_password"]
    wrong = api.post(
        "/api/v1/auth/password/",
        {"old_password": "nope", "new_password": "a-much-better-passphrase"},
        format="json",
    )
    assert wrong.status_code == 400 and "old_password" in wrong.json()["errors"]
    changed = api.post(
        "/api/v1/auth/password/",
        {"old_password": "alice-password-1", "new_password": "a-much-better-passphrase"},
        format="json",
    )
    assert changed.status_code == 204
    assert api.get("/api/v1/models/").status_code == 200
    assert token_client(other["token"]).get("/api/v1/models/").status_code == 401
    assert new_token({"username": "alice", "password": "a-much-better-passphrase"})["token"]


def test_password_change_in_the_browser_keeps_the_session(user):
    api = APIClient()
    csrf = api.get("/api/v1/auth/csrf/").json()["csrftoken"]
    assert (
        api.post("/api/v1/auth/login/", ALICE, format="json", HTTP_X_CSRFTOKEN=csrf).status_code
        == 200
    )
    csrf = api.get("/api/v1/auth/csrf/").json()["csrftoken"]
    body = {"old_password": "alice-password-1", "new_password": "a-much-better-passphrase"}
    response = api.post("/api/v1/auth/password/", body, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 204
    assert api.get("/api/v1/auth/me/").json()["username"] == "alice"


def test_me_says_whether_the_platform_is_in_single_user_mode(client, settings):
    assert client.get("/api/v1/auth/me/").json()["single_user_mode"] is False
    settings.KAFKAML_SINGLE_USER_MODE = True
    assert client.get("/api/v1/auth/me/").json()["single_user_mode"] is True


def test_script_logins_at_the_cap_replace_their_oldest_token(user, settings):
    settings.KAFKAML_TOKENS_PER_USER = 3
    named = token_client(new_token()["token"]).post(
        "/api/v1/auth/tokens/", {"name": "ci"}, format="json"
    )
    first, second, third = new_token(), new_token(), new_token()
    assert token_client(first["token"]).get("/api/v1/models/").status_code == 401
    assert token_client(third["token"]).get("/api/v1/models/").status_code == 200
    assert token_client(named.json()["token"]).get("/api/v1/models/").status_code == 200
    full = token_client(second["token"]).post("/api/v1/auth/tokens/", {"name": "x"}, format="json")
    assert full.status_code == 409 and "revoke" in full.json()["detail"]
