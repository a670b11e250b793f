import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_deploy_creates_one_result_per_model_and_launches(
    client, make_model, make_deployment, launcher
):
    first, second = make_model("a"), make_model("b", framework="pytorch")
    deployment = make_deployment([first, second], training_kwargs="epochs=3, shuffle=True")
    assert deployment["training_kwargs"] == {"epochs": 3, "shuffle": True}
    results = deployment["results"]
    assert sorted(r["model"] for r in results) == sorted([first.pk, second.pk])
    assert all(r["status"] == "created" for r in results)
    names = sorted(spec.name for spec in launcher.launched)
    assert names == sorted(f"training-result-{r['id']}" for r in results)
    spec = launcher.launched[0]
    assert spec.command[1:3] == ["-m", "model_training"]
    assert "KAFKAML_API_TOKEN" in spec.secret_env and "KAFKAML_API_TOKEN" not in spec.env


def test_a_chain_trains_as_one_workload(client, make_model, make_deployment, launcher):
    cloud = make_model("cloud", distributed=True)
    edge = make_model("edge", distributed=True, upper_model=cloud)
    deployment = make_deployment([edge])
    assert len(deployment["results"]) == 2
    assert len(launcher.launched) == 1
    leaders = [r for r in deployment["results"] if r["chain_leader"] is None]
    assert len(leaders) == 1 and leaders[0]["model"] == edge.pk


def test_kwargs_as_json_object(make_deployment):
    deployment = make_deployment(training_kwargs={"epochs": 2, "verbose": 0})
    assert deployment["training_kwargs"] == {"epochs": 2, "verbose": 0}


@pytest.mark.parametrize(
    "text",
    [
        "epochs=__import__('os').system('true')",
        "epochs=open('/etc/passwd').read()",
        "epochs=(lambda: 1)()",
        "epochs=[].__class__",
    ],
)
def test_kwargs_that_try_to_run_code_are_refused(client, make_model, launcher, text):
    model = make_model()
    configuration = client.post(
        "/api/v1/configurations/", {"name": "c", "models": [model.pk]}, format="json"
    ).json()
    response = client.post(
        "/api/v1/deployments/",
        {"configuration": configuration["id"], "training_kwargs": text},
        format="json",
    )
    assert response.status_code == 400
    assert "training_kwargs" in response.json()["errors"]
    assert launcher.launched == []


def test_epochs_must_be_a_positive_integer(client, make_model, launcher):
    model = make_model()
    configuration = client.post(
        "/api/v1/configurations/", {"name": "c", "models": [model.pk]}, format="json"
    ).json()
    response = client.post(
        "/api/v1/deployments/",
        {"configuration": configuration["id"], "training_kwargs": "epochs=-1"},
        format="json",
    )
    assert response.status_code == 400
    assert "epochs" in response.json()["errors"]["training_kwargs"][0]


def test_deployments_are_private(client, other_client, make_deployment):
    deployment = make_deployment()
    assert other_client.get(f"/api/v1/deployments/{deployment['id']}/").status_code == 404
    assert other_client.get("/api/v1/results/").json()["count"] == 0
    result_id = deployment["results"][0]["id"]
    assert other_client.post(f"/api/v1/results/{result_id}/stop/").status_code == 404


def test_stop_then_delete(client, make_deployment, launcher):
    deployment = make_deployment()
    result_id = deployment["results"][0]["id"]
    assert client.delete(f"/api/v1/results/{result_id}/").status_code == 409
    assert client.delete(f"/api/v1/deployments/{deployment['id']}/").status_code == 409

    response = client.post(f"/api/v1/results/{result_id}/stop/")
    assert response.status_code == 200
    assert response.json()["status"] == "stopped"
    assert launcher.stopped == [f"training-result-{result_id}"]
    assert client.post(f"/api/v1/results/{result_id}/stop/").status_code == 409

    assert client.delete(f"/api/v1/results/{result_id}/").status_code == 204
    assert client.delete(f"/api/v1/deployments/{deployment['id']}/").status_code == 204
