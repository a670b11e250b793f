"""Staff manage users; everyone else gets 403. Passwords go through the validators."""

import pytest
from rest_framework.test import APIClient

from kafkaml.accounts.services import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return user_create(username="root-admin", password="admin-password-1", is_staff=True)


@pytest.fixture
def admin_client(admin):
    api = APIClient()
    api.force_authenticate(admin)
    return api


def token_of(username: str, password: str) -> str:
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.json()
    return response.json()["token"]


def with_token(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def test_non_staff_cannot_list_create_or_change_users(client, user):
    assert client.get("/api/v1/users/").status_code == 403
    body = {"username": "eve2", "password": "a-good-passphrase"}
    assert client.post("/api/v1/users/", body, format="json").status_code == 403
    assert client.patch(f"/api/v1/users/{user.pk}/", {"is_staff": True}).status_code == 403
    assert (
        client.post(f"/api/v1/users/{user.pk}/password/", {"password": "x" * 12}).status_code == 403
    )


def test_staff_creates_and_lists_users(admin_client, user):
    created = admin_client.post(
        "/api/v1/users/", {"username": "carol", "password": "carol-passphrase-9"}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["username"] == "carol" and created.json()["is_staff"] is False
    listed = admin_client.get("/api/v1/users/").json()
    assert [u["username"] for u in listed] == ["alice", "carol", "root-admin"]
    assert set(listed[0]) == {
        "id",
        "username",
        "is_staff",
        "is_active",
        "date_joined",
        "last_login",
    }
    assert token_of("carol", "carol-passphrase-9")


@pytest.mark.parametrize(
    "password", ["password", "short1", "12345678901234", "carolinetta1", "qwertyuiop"]
)
def test_weak_passwords_are_refused(admin_client, password):
    response = admin_client.post(
        "/api/v1/users/", {"username": "carolinetta", "password": password}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["password"]


def test_a_duplicate_username_is_a_conflict(admin_client, user):
    body = {"username": "alice", "password": "another-good-one-7"}
    response = admin_client.post("/api/v1/users/", body, format="json")
    assert response.status_code == 409 and "already exists" in response.json()["detail"]


def test_disabling_a_user_ends_their_tokens_and_sessions(admin_client, user):
    token = token_of("alice", "alice-password-1")
    browser = APIClient()
    csrf = browser.get("/api/v1/auth/csrf/").json()["csrftoken"]
    login = browser.post(
        "/api/v1/auth/login/",
        {"username": "alice", "password": "alice-password-1"},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert login.status_code == 200
    response = admin_client.patch(f"/api/v1/users/{user.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert with_token(token).get("/api/v1/models/").status_code == 401
    assert browser.get("/api/v1/auth/me/").json() == {"authenticated": False}
    # Enabled again: the old token and session stay dead; a new login works.
    admin_client.patch(f"/api/v1/users/{user.pk}/", {"is_active": True}, format="json")
    assert with_token(token).get("/api/v1/models/").status_code == 401
    assert browser.get("/api/v1/auth/me/").json() == {"authenticated": False}
    fresh = with_token(token_of("alice", "alice-password-1"))
    assert fresh.get("/api/v1/models/").status_code == 200


def test_an_admin_cannot_disable_or_demote_themselves(admin_client, admin):
    for body in ({"is_active": False}, {"is_staff": False}):
        response = admin_client.patch(f"/api/v1/users/{admin.pk}/", body, format="json")
        assert response.status_code == 400, body
    admin.refresh_from_db()
    assert admin.is_active and admin.is_staff


def test_staff_resets_a_password_and_the_old_tokens_die(admin_client, user):
    token = token_of("alice", "alice-password-1")
    weak = admin_client.post(f"/api/v1/users/{user.pk}/password/", {"password": "alice"})
    assert weak.status_code == 400 and weak.json()["errors"]["password"]
    response = admin_client.post(
        f"/api/v1/users/{user.pk}/password/", {"password": "reset-by-admin-42"}, format="json"
    )
    assert response.status_code == 204
    assert with_token(token).get("/api/v1/models/").status_code == 401
    assert token_of("alice", "reset-by-admin-42")


def test_service_accounts_are_not_users_to_manage(admin_client):
    from django.contrib.auth import get_user_model

    service = get_user_model()(username="some-service")
    service.set_unusable_password()
    service.save()
    assert "some-service" not in [u["username"] for u in admin_client.get("/api/v1/users/").json()]
    response = admin_client.patch(f"/api/v1/users/{service.pk}/", {"is_staff": True})
    assert response.status_code == 404


def test_single_user_mode_refuses_a_second_person(admin_client, settings):
    settings.KAFKAML_SINGLE_USER_MODE = True
    response = admin_client.post(
        "/api/v1/users/", {"username": "carol", "password": "carol-passphrase-9"}, format="json"
    )
    assert response.status_code == 409
    assert "single-user mode" in response.json()["detail"]
