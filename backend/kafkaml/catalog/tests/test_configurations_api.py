import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_adding_a_sub_model_brings_its_whole_chain(client, make_model):
    cloud = make_model("cloud", distributed=True)
    fog = make_model("fog", distributed=True, upper_model=cloud)
    edge = make_model("edge", distributed=True, upper_model=fog)
    plain = make_model("plain")

    response = client.post(
        "/api/v1/configurations/", {"name": "c", "models": [fog.pk, plain.pk]}, format="json"
    )
    assert response.status_code == 201
    assert sorted(response.json()["models"]) == sorted([cloud.pk, fog.pk, edge.pk, plain.pk])


def test_configuration_needs_a_model(client):
    response = client.post("/api/v1/configurations/", {"name": "c", "models": []}, format="json")
    assert response.status_code == 400
    assert "models" in response.json()["errors"]


def test_configuration_with_deployments_cannot_be_deleted(client, make_deployment):
    deployment = make_deployment()
    url = f"/api/v1/configurations/{deployment['configuration']}/"
    assert client.get(url).json()["deletable"] is False
    response = client.delete(url)
    assert response.status_code == 409
    assert "deployments" in response.json()["detail"]
