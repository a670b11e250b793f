"""Every unknown /api/ path answers JSON (issue 13): a client reading ``detail`` never gets
an HTML page, and a path that exists with the other trailing slash is named."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/api/nope", "/api/v1/nope/", "/api/v1/models/x/y/z/", "/api/v2/health"]
)
def test_unknown_api_paths_answer_json(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"].startswith("Not found")


def test_health_with_a_trailing_slash_is_json_and_names_the_real_path(client):
    response = client.get("/api/v1/health/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["did_you_mean"] == "/api/v1/health"


def test_a_missing_trailing_slash_still_redirects_a_get(client):
    response = client.get("/api/v1/models?page=2")
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/models/?page=2"


def test_a_post_without_the_trailing_slash_is_a_json_404_naming_the_path(client):
    response = client.post("/api/v1/models", {}, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["did_you_mean"] == "/api/v1/models/"


def test_the_ui_routes_still_get_the_spa(client, settings, tmp_path):
    (tmp_path / "index.html").write_text("<html>spa</html>")
    settings.FRONTEND_DIST = tmp_path
    assert client.get("/models/3").status_code == 200
