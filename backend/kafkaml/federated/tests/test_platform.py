"""A federated deployment through the platform's seams: its result's workload is the
coordinator, each registered site data stream launches a site worker, and settings changed
while the deployment waits for data relaunch the workload (the launch mechanics themselves:
tests/e2e_platform/test_federated.py)."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)  # launches run on commit

SETTINGS = {"rounds": 3, "strategy": "fedavg", "expected_sites": 2, "min_data": 50}


def control(deployment_id, topic="alice.site-a:0:0:100", offset=1):
    return {
        "deployment_id": deployment_id,
        "topic": topic,
        "input_format": "RAW",
        "input_config": {"data_type": "uint8", "label_type": "uint8", "data_reshape": "8 8"},
        "validation_rate": 0,
        "test_rate": 0.1,
        "total_msg": 100,
        "dataset_restrictions": {"labels": [0, 1, 2]},
        "control_topic": "KAFKA_ML_CONTROL_TOPIC",
        "control_partition": 0,
        "control_offset": offset,
    }


def commands(launcher, name):
    return [s.command[2:] for s in launcher.launched if s.name == name]


def test_a_deployment_created_with_federated_settings_launches_its_coordinator(
    client, launcher, make_deployment, training_client
):
    deployment = make_deployment(federated=SETTINGS)
    (result,) = deployment["results"]
    name = f"training-result-{result['id']}"
    assert commands(launcher, name) == [
        ["model_training.federated.coordinator", "--result-id", str(result["id"])]
    ]
    got = client.get(f"/api/v1/deployments/{deployment['id']}/federated/").json()
    assert got["rounds"] == 3 and got["expected_sites"] == 2 and got["join_timeout_s"] == 600
    # the coordinator reads its settings and the owner's topic prefix with its credential
    payload = training_client(result["id"]).get(f"/api/v1/worker/results/{result['id']}/").json()
    assert payload["federated"]["prefix"] == "alice."
    assert payload["federated"]["rounds"] == 3 and payload["federated"]["strategy"] == "fedavg"


def test_an_ordinary_deployment_has_no_federated_payload(make_deployment, training_client):
    (result,) = make_deployment()["results"]
    payload = training_client(result["id"]).get(f"/api/v1/worker/results/{result['id']}/").json()
    assert payload["federated"] is None


def test_each_registered_site_stream_launches_a_site_worker(
    launcher, make_deployment, control_logger_client, workload_client
):
    deployment = make_deployment(federated=SETTINGS)
    (result,) = deployment["results"]
    ids = []
    for i, topic in enumerate(("alice.site-a:0:0:100", "alice.site-b:0:0:100"), start=1):
        response = control_logger_client.post(
            "/api/v1/worker/datasources/", control(deployment["id"], topic, i), format="json"
        )
        assert response.status_code == 201, response.json()
        ids.append(response.json()["id"])
    for pk in ids:
        assert commands(launcher, f"federated-site-{pk}") == [
            [
                "model_training.federated.site",
                "--result-id",
                str(result["id"]),
                "--datasource-id",
                str(pk),
            ]
        ]
        # the site reads its job and the deployment's datasources (its own among them) with its
        # credential, and may not report anything to the result (the coordinator does)
        site = workload_client(f"federated-site-{pk}")
        listed = site.get(f"/api/v1/worker/deployments/{deployment['id']}/datasources/").json()
        assert pk in [d["id"] for d in listed]
        job = site.get(f"/api/v1/worker/results/{result['id']}/")
        assert job.status_code == 200 and job.json()["federated"]["rounds"] == 3
        for path, body in (
            ("status/", {"status": "finished"}),
            ("epochs/", {"epoch": 1, "metrics": {"loss": 0.1}}),
        ):
            refused = site.post(
                f"/api/v1/worker/results/{result['id']}/{path}", body, format="json"
            )
            assert refused.status_code == 403, (path, refused.content)
    # the same announcement again is the same datasource: no second site worker
    control_logger_client.post(
        "/api/v1/worker/datasources/", control(deployment["id"], offset=1), format="json"
    )
    assert len(commands(launcher, f"federated-site-{ids[0]}")) == 1


def test_a_finished_result_revokes_its_sites_credentials(
    make_deployment, control_logger_client, workload_client, training_client
):
    deployment = make_deployment(federated=SETTINGS)
    (result,) = deployment["results"]
    pk = control_logger_client.post(
        "/api/v1/worker/datasources/", control(deployment["id"]), format="json"
    ).json()["id"]
    site = workload_client(f"federated-site-{pk}")
    url = f"/api/v1/worker/deployments/{deployment['id']}/datasources/"
    assert site.get(url).status_code == 200
    coordinator = training_client(result["id"])
    response = coordinator.post(
        f"/api/v1/worker/results/{result['id']}/status/",
        {"status": "failed", "error": "no site qualified"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert site.get(url).status_code == 401


def test_an_ordinary_deployments_data_launches_no_site(
    launcher, make_deployment, control_logger_client
):
    deployment = make_deployment()
    response = control_logger_client.post(
        "/api/v1/worker/datasources/", control(deployment["id"]), format="json"
    )
    assert response.status_code == 201
    assert not [s for s in launcher.launched if s.name.startswith("federated-site-")]


def test_settings_set_while_waiting_for_data_relaunch_the_workload_as_coordinator(
    client, launcher, make_deployment, control_logger_client
):
    deployment = make_deployment()
    (result,) = deployment["results"]
    name = f"training-result-{result['id']}"
    url = f"/api/v1/deployments/{deployment['id']}/federated/"
    assert client.put(url, SETTINGS, format="json").status_code == 201
    assert commands(launcher, name) == [
        ["model_training", "--result-id", str(result["id"])],
        ["model_training.federated.coordinator", "--result-id", str(result["id"])],
    ]
    assert name in launcher.stopped
    # once data is registered and it trains, the settings stay (409)
    control_logger_client.post(
        "/api/v1/worker/datasources/", control(deployment["id"]), format="json"
    )
    response = client.put(url, {**SETTINGS, "rounds": 9}, format="json")
    assert response.status_code == 409, response.json()
    assert client.delete(url).status_code == 409
    assert client.get(url).json()["rounds"] == 3


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"federated": {**SETTINGS, "rounds": 0}}, "federated.rounds"),
        ({"federated": SETTINGS, "incremental": True}, "federated"),
    ],
)
def test_bad_federated_deployments_are_refused(client, make_model, extra, field):
    configuration = client.post(
        "/api/v1/configurations/", {"name": "c", "models": [make_model().pk]}, format="json"
    ).json()
    response = client.post(
        "/api/v1/deployments/", {"configuration": configuration["id"], **extra}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]


def test_a_federated_deployment_trains_one_model(client, launcher, make_deployment, make_model):
    response = client.post(
        "/api/v1/configurations/",
        {"name": "two", "models": [make_model().pk, make_model().pk]},
        format="json",
    )
    body = {"configuration": response.json()["id"], "federated": SETTINGS}
    refused = client.post("/api/v1/deployments/", body, format="json")
    assert refused.status_code == 400 and "federated" in refused.json()["errors"]
    assert not launcher.launched


def test_another_users_stream_announced_for_a_federated_deployment_launches_no_site(
    launcher, make_deployment, control_logger_client
):
    """Poisoning a federation: bob announces his own topic as a site of alice's federated
    deployment. Refused like any registration naming topics that are not the owner's."""
    deployment = make_deployment(federated=SETTINGS)  # alice's
    for topic in ("bob.poison:0:0:100", "alice.site-a:0:0:50,bob.poison:0:0:50"):
        response = control_logger_client.post(
            "/api/v1/worker/datasources/", control(deployment["id"], topic), format="json"
        )
        assert response.status_code == 409, response.json()
    assert not [s for s in launcher.launched if s.name.startswith("federated-site-")]


def test_a_site_credential_reaches_only_its_own_deployment(
    make_deployment, control_logger_client, workload_client
):
    """A site worker's credential (user code's neighbour) against another federation: the other
    result's job, its datasources and its reports are out of reach."""
    mine, other = make_deployment(federated=SETTINGS), make_deployment(federated=SETTINGS)
    (other_result,) = other["results"]
    pk = control_logger_client.post(
        "/api/v1/worker/datasources/", control(mine["id"]), format="json"
    ).json()["id"]
    site = workload_client(f"federated-site-{pk}")
    for response in (
        site.get(f"/api/v1/worker/results/{other_result['id']}/"),
        site.get(f"/api/v1/worker/deployments/{other['id']}/datasources/"),
        site.post(
            f"/api/v1/worker/results/{other_result['id']}/epochs/",
            {"epoch": 1, "metrics": {"loss": 0.1}},
            format="json",
        ),
    ):
        assert response.status_code in (403, 404), response.content
