"""Guessing passwords is throttled per username and address, the right password included."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/auth/login/"])
def test_forty_wrong_passwords_then_the_right_one_is_refused(user, path):
    api = APIClient()
    csrf = api.get("/api/v1/auth/csrf/").json()["csrftoken"]
    statuses = [
        api.post(
            path,
            {"username": "alice", "password": f"guess-{i}"},
            format="json",
            HTTP_X_CSRFTOKEN=csrf,
        ).status_code
        for i in range(40)
    ]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    right = api.post(
        path,
        {"username": "alice", "password": "alice-password-1"},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert right.status_code == 429
    assert right.json()["detail"].startswith("Request was throttled") and right["Retry-After"]


def test_another_username_from_the_same_address_is_not_locked_out(user, other_user):
    api = APIClient()
    for i in range(6):
        api.post("/api/v1/auth/token/", {"username": "alice", "password": f"g{i}"}, format="json")
    response = api.post(
        "/api/v1/auth/token/", {"username": "bob", "password": "bob-password-1"}, format="json"
    )
    assert response.status_code == 200


def test_a_forged_forwarded_for_header_does_not_reset_the_count(user):
    api = APIClient()
    for i in range(6):
        last = api.post(
            "/api/v1/auth/token/",
            {"username": "alice", "password": f"g{i}"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        )
    assert last.status_code == 429


def test_a_locked_out_name_does_not_spend_the_address_budget(user, other_user, monkeypatch):
    from kafkaml.accounts import throttles

    # DRF reads the rates once at import: set this one on the class.
    monkeypatch.setattr(throttles._AddressThrottle, "rate", "8/min", raising=False)
    api = APIClient()
    for i in range(30):
        api.post("/api/v1/auth/token/", {"username": "alice", "password": f"g{i}"}, format="json")
    response = api.post(
        "/api/v1/auth/token/", {"username": "bob", "password": "bob-password-1"}, format="json"
    )
    assert response.status_code == 200
    for i in range(3):
        api.post("/api/v1/auth/token/", {"username": f"n{i}", "password": "x"}, format="json")
    sprayed = api.post("/api/v1/auth/token/", {"username": "bob", "password": "x"}, format="json")
    assert sprayed.status_code == 429
