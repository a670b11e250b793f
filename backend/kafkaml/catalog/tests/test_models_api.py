import pytest

pytestmark = pytest.mark.django_db


def test_create_validates_and_stores_summary(client, executor, keras_model_body):
    response = client.post("/api/v1/models/", keras_model_body(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["validation_status"] == "valid"
    assert body["summary"]["total_params"] == 8 * 8 * 16 + 16 + 16 * 10 + 10
    assert body["deletable"] is True


def test_invalid_code_is_refused_with_the_line(client, executor, keras_model_body):
    body = keras_model_body(code="x = 1\ny = 2\nmodel = undefined_name\n")
    response = client.post("/api/v1/models/", body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert "NameError" in error["detail"]
    assert error["validation"]["line"] == 3
    assert "code" in error["errors"]
    assert client.get("/api/v1/models/").json()["count"] == 0


def test_executor_down_is_503_not_500(client, settings, keras_model_body):
    settings.MLCODE_EXECUTOR_URL = "http://127.0.0.1:9"
    response = client.post("/api/v1/models/", keras_model_body(), format="json")
    assert response.status_code == 503
    assert "executor" in response.json()["detail"]


def test_crud_and_ownership(client, other_client, executor, keras_model_body):
    created = client.post("/api/v1/models/", keras_model_body(), format="json").json()
    url = f"/api/v1/models/{created['id']}/"

    assert client.get(url).status_code == 200
    assert other_client.get(url).status_code == 404
    assert other_client.patch(url, {"description": "x"}, format="json").status_code == 404
    assert other_client.delete(url).status_code == 404
    assert other_client.get("/api/v1/models/").json()["count"] == 0

    response = client.patch(url, {"description": "digits classifier"}, format="json")
    assert response.status_code == 200
    assert response.json()["description"] == "digits classifier"

    listed = client.get("/api/v1/models/?search=digit").json()
    assert [m["id"] for m in listed["results"]] == [created["id"]]
    assert client.get("/api/v1/models/?search=nothing").json()["count"] == 0

    duplicate = client.post("/api/v1/models/", keras_model_body(), format="json")
    assert duplicate.status_code == 400
    assert "name" in duplicate.json()["errors"]

    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_model_in_a_configuration_cannot_be_deleted(client, executor, keras_model_body):
    model = client.post("/api/v1/models/", keras_model_body(), format="json").json()
    configuration = client.post(
        "/api/v1/configurations/", {"name": "c", "models": [model["id"]]}, format="json"
    ).json()
    response = client.delete(f"/api/v1/models/{model['id']}/")
    assert response.status_code == 409
    assert "configuration" in response.json()["detail"]
    assert client.get(f"/api/v1/models/{model['id']}/").json()["deletable"] is False

    assert client.delete(f"/api/v1/configurations/{configuration['id']}/").status_code == 204
    assert client.delete(f"/api/v1/models/{model['id']}/").status_code == 204


def test_configuration_rejects_another_users_model(
    client, other_client, executor, keras_model_body
):
    model = client.post("/api/v1/models/", keras_model_body(), format="json").json()
    response = other_client.post(
        "/api/v1/configurations/", {"name": "c", "models": [model["id"]]}, format="json"
    )
    assert response.status_code == 400
    assert "models" in response.json()["errors"]


def test_templates_are_listed(client):
    response = client.get("/api/v1/models/templates/")
    assert response.status_code == 200
    frameworks = {t["framework"] for t in response.json()}
    assert frameworks == {"tensorflow", "pytorch"}
