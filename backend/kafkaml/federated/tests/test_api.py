"""A deployment's federated settings through the API: validated, owner only, topics in the
owner's namespace."""

import pytest

pytestmark = pytest.mark.django_db


def url(deployment):
    return f"/api/v1/deployments/{deployment['id']}/federated/"


def test_set_read_change_and_remove_federated_settings(client, make_deployment):
    deployment = make_deployment()
    assert client.get(url(deployment)).status_code == 204
    body = {
        "rounds": 10,
        "min_data": 500,
        "strategy": "fedadam",
        "strategy_params": {"eta": 0.05, "beta_1": 0.9},
        "restrictions": {"data_shape": [8, 8], "labels": list(range(10)), "min_labels": 3},
        "expected_sites": 3,
    }
    created = client.put(url(deployment), body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["rounds"] == 10 and data["strategy"] == "fedadam"
    assert data["topics"] == {
        "global": f"alice.fed-{deployment['id']}-global",
        "updates": f"alice.fed-{deployment['id']}-updates",
    }
    changed = client.put(
        url(deployment),
        {**body, "strategy": "fedprox", "strategy_params": {"proximal_mu": 0.1}},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["strategy"] == "fedprox"
    assert client.get(url(deployment)).json()["strategy_params"] == {"proximal_mu": 0.1}
    assert client.delete(url(deployment)).status_code == 204
    assert client.get(url(deployment)).status_code == 204


@pytest.mark.parametrize(
    "body, field",
    [
        ({"rounds": 0}, "rounds"),
        ({"strategy": "fedmedian"}, "strategy"),
        ({"strategy": "fedavg", "strategy_params": {"eta": 1}}, "strategy_params"),
        ({"strategy": "fedyogi", "strategy_params": {"beta_2": 1.5}}, "strategy_params"),
        ({"strategy": "fedadam", "strategy_params": {"eta": "fast"}}, "strategy_params"),
        ({"min_data": -1}, "min_data"),
        ({"restrictions": {"colour": "blue"}}, "restrictions"),
        ({"restrictions": {"data_shape": [8, 0]}}, "restrictions"),
        ({"restrictions": {"labels": []}}, "restrictions"),
        ({"restrictions": {"framework": "jax"}}, "restrictions"),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(client, make_deployment, body, field):
    response = client.put(url(make_deployment()), body, format="json")
    assert response.status_code == 400
    assert field in str(response.json())


def test_another_users_deployment_is_not_found(client, other_client, make_deployment):
    deployment = make_deployment()
    assert client.put(url(deployment), {"rounds": 3}, format="json").status_code == 201
    assert other_client.get(url(deployment)).status_code == 404
    assert other_client.put(url(deployment), {"rounds": 3}, format="json").status_code == 404
