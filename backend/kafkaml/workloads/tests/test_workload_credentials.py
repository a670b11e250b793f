"""Workload credentials on /api/v1/worker/: each workload reaches only its own objects (404
for anything else), only the endpoints of its kind (403), dies with its workload (401), and
is kept hashed."""

from __future__ import annotations

import hashlib

import pytest
from rest_framework.test import APIClient

from kafkaml.training.tests.test_worker_api import control, upload
from kafkaml.workloads.models import WorkloadCredential

pytestmark = pytest.mark.django_db(transaction=True)


def keyed(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Workload {key}")
    return api


def result_endpoints(result_id: int) -> list[tuple[str, str, dict]]:
    base = f"/api/v1/worker/results/{result_id}/"
    return [
        ("get", base, {}),
        ("post", base + "status/", {"status": "failed", "error": "injected"}),
        ("post", base + "epochs/", {"epoch": 99, "metrics": {"loss": 0.0}}),
        ("get", base + "artifacts/", {}),
    ]


def call(api: APIClient, method: str, url: str, body: dict):
    return getattr(api, method)(url, body or None, format="json")


@pytest.fixture
def bobs(other_user, other_client, make_model, make_deployment, launcher):
    """A deployment of bob's with one trained version, and bob's inference of it."""
    model = make_model(owner=other_user)
    configuration = other_client.post(
        "/api/v1/configurations/", {"name": "bob", "models": [model.pk]}, format="json"
    ).json()
    deployment = other_client.post(
        "/api/v1/deployments/", {"configuration": configuration["id"]}, format="json"
    ).json()
    result_id = deployment["results"][0]["id"]
    bob_worker = keyed(launcher.launched[-1].secret_env["KAFKAML_API_TOKEN"])
    assert upload(bob_worker, result_id).status_code == 201
    inference = other_client.post(
        "/api/v1/inferences/",
        {
            "result": result_id,
            "input_format": "RAW",
            "input_config": {"data_type": "float32", "data_reshape": "8 8"},
            "input_topic": "bob.in",
            "output_topic": "bob.out",
        },
        format="json",
    ).json()
    return {"deployment": deployment["id"], "result": result_id, "inference": inference["id"]}


def test_a_training_credential_gets_404_for_every_other_users_object(
    training_client, make_deployment, bobs, other_client
):
    mine = make_deployment()["results"][0]["id"]
    worker = training_client(mine)
    before = other_client.get(f"/api/v1/results/{bobs['result']}/").json()

    for method, url, body in result_endpoints(bobs["result"]):
        assert call(worker, method, url, body).status_code == 404, url
    archive = upload(worker, bobs["result"], summary={"test_metrics": {"accuracy": 0.0}})
    assert archive.status_code == 404
    datasources = f"/api/v1/worker/deployments/{bobs['deployment']}/datasources/"
    assert worker.get(datasources).status_code == 404

    after = other_client.get(f"/api/v1/results/{bobs['result']}/").json()
    assert after == before  # no epoch, no status, no artifact added
    assert [a["version"] for a in after["artifacts"]] == [1]


def test_a_training_credential_is_limited_to_its_own_workload(training_client, make_deployment):
    first = make_deployment()["results"][0]["id"]
    second = make_deployment()["results"][0]["id"]  # the same user's other workload
    worker = training_client(first)
    assert worker.get(f"/api/v1/worker/results/{first}/").status_code == 200
    for method, url, body in result_endpoints(second):
        assert call(worker, method, url, body).status_code == 404, url


def test_a_chain_leaders_credential_covers_the_chain(
    client, make_model, make_deployment, training_client
):
    top = make_model(distributed=True)
    edge = make_model(distributed=True, upper_model=top)
    from kafkaml.training.models import TrainingResult

    deployment = make_deployment(models=[edge, top])
    ids = sorted(r["id"] for r in deployment["results"])
    assert len(ids) == 2
    leader = TrainingResult.objects.get(deployment_id=deployment["id"], chain_leader=None).pk
    worker = training_client(leader)
    for result_id in ids:
        url = f"/api/v1/worker/results/{result_id}/epochs/"
        body = {"epoch": 1, "metrics": {"loss": 1.0}}
        assert worker.post(url, body, format="json").status_code == 204


def test_an_inference_credential_reaches_its_inference_and_served_model_only(
    workload_client, bobs, launcher, make_deployment, training_client
):
    mine = make_deployment()["results"][0]["id"]
    assert upload(training_client(mine), mine).status_code == 201
    bob_inference = keyed(
        next(s for s in launcher.launched if s.name == f"inference-{bobs['inference']}").secret_env[
            "KAFKAML_API_TOKEN"
        ]
    )
    assert bob_inference.get(f"/api/v1/worker/inferences/{bobs['inference']}/").status_code == 200
    served = f"/api/v1/worker/results/{bobs['result']}/artifacts/"
    assert bob_inference.get(served).status_code == 200
    assert bob_inference.get(f"/api/v1/worker/results/{mine}/artifacts/").status_code == 404
    # the wrong kind of endpoint for an inference credential
    assert bob_inference.get(f"/api/v1/worker/results/{bobs['result']}/").status_code == 403
    epochs = f"/api/v1/worker/results/{bobs['result']}/epochs/"
    assert bob_inference.post(epochs, {"epoch": 1, "metrics": {}}, format="json").status_code == 403


def test_another_users_inference_is_404(training_client, make_deployment, bobs, client, launcher):
    mine = make_deployment()["results"][0]["id"]
    assert upload(training_client(mine), mine).status_code == 201
    response = client.post(
        "/api/v1/inferences/",
        {
            "result": mine,
            "input_format": "RAW",
            "input_config": {"data_type": "float32", "data_reshape": "8 8"},
            "input_topic": "alice.in",
            "output_topic": "alice.out",
        },
        format="json",
    )
    assert response.status_code == 201
    alice_inference = keyed(launcher.launched[-1].secret_env["KAFKAML_API_TOKEN"])
    url = f"/api/v1/worker/inferences/{bobs['inference']}/"
    assert alice_inference.get(url).status_code == 404
    metrics = {"replica": "evil", "records_in": 1}
    assert alice_inference.post(url + "metrics/", metrics, format="json").status_code == 404


def test_the_wrong_kind_of_credential_is_403(
    control_logger_client, training_client, make_deployment, client
):
    deployment = make_deployment()
    result_id = deployment["results"][0]["id"]
    for method, url, body in result_endpoints(result_id):
        assert call(control_logger_client, method, url, body).status_code == 403, url
    assert upload(control_logger_client, result_id).status_code == 403
    worker = training_client(result_id)
    registration = control(deployment["id"], 1)
    assert worker.post("/api/v1/worker/datasources/", registration, format="json").status_code == (
        403
    )
    error = {"control_topic": "t", "control_partition": 0, "control_offset": 1, "error": "x"}
    assert worker.post("/api/v1/worker/control-errors/", error, format="json").status_code == 403
    # a person's own credential is not a workload's
    assert client.get(f"/api/v1/worker/results/{result_id}/").status_code == 403


@pytest.mark.parametrize(
    "header", [None, "Workload", "Workload nope", "Workload " + "0" * 64, "Token abc", "Bearer x"]
)
def test_without_a_valid_credential_it_is_401(make_deployment, header):
    result_id = make_deployment()["results"][0]["id"]
    api = APIClient()
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get(f"/api/v1/worker/results/{result_id}/")
    assert response.status_code == 401
    if header is None:
        assert response.headers["WWW-Authenticate"] == "Workload"


def test_credentials_are_kept_hashed(make_deployment, launcher):
    make_deployment()
    key = launcher.launched[-1].secret_env["KAFKAML_API_TOKEN"]
    assert len(key) == 64
    stored = WorkloadCredential.objects.get(workload_name=launcher.launched[-1].name)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM workloads_workloadcredential")
        assert key not in repr(cursor.fetchall())


def test_stopping_a_result_revokes_its_credential(client, training_client, make_deployment):
    result_id = make_deployment()["results"][0]["id"]
    worker = training_client(result_id)
    assert worker.get(f"/api/v1/worker/results/{result_id}/").status_code == 200
    assert client.post(f"/api/v1/results/{result_id}/stop/").status_code == 200
    assert worker.get(f"/api/v1/worker/results/{result_id}/").status_code == 401


def test_a_failed_result_revokes_its_credential(training_client, make_deployment):
    result_id = make_deployment()["results"][0]["id"]
    worker = training_client(result_id)
    url = f"/api/v1/worker/results/{result_id}/status/"
    assert worker.post(url, {"status": "failed"}, format="json").status_code == 200
    assert worker.post(url, {"status": "deployed"}, format="json").status_code == 401


def test_a_relaunch_revokes_the_previous_key(make_deployment, launcher):
    from kafkaml.training.models import TrainingResult
    from kafkaml.workloads.services import training_spec

    result_id = make_deployment()["results"][0]["id"]
    old = keyed(launcher.launched[-1].secret_env["KAFKAML_API_TOKEN"])
    new = keyed(
        training_spec(TrainingResult.objects.get(pk=result_id)).secret_env["KAFKAML_API_TOKEN"]
    )
    assert old.get(f"/api/v1/worker/results/{result_id}/").status_code == 401
    assert new.get(f"/api/v1/worker/results/{result_id}/").status_code == 200


def test_reconcile_revokes_credentials_of_ended_workloads(
    training_client, make_deployment, launcher, monkeypatch
):
    from kafkaml.workloads.launchers.base import WorkloadStatus
    from kafkaml.workloads.services import reconcile_workloads

    result_id = make_deployment()["results"][0]["id"]
    worker = training_client(result_id)
    reconcile_workloads()  # the recording launcher says "running": nothing changes
    assert worker.get(f"/api/v1/worker/results/{result_id}/").status_code == 200
    monkeypatch.setattr(launcher, "status", lambda name: WorkloadStatus("failed", "OOMKilled"))
    reconcile_workloads()
    assert worker.get(f"/api/v1/worker/results/{result_id}/").status_code == 401


def test_a_disabled_users_workloads_lose_access(training_client, make_deployment, user):
    result_id = make_deployment()["results"][0]["id"]
    worker = training_client(result_id)
    user.is_active = False
    user.save()
    assert worker.get(f"/api/v1/worker/results/{result_id}/").status_code == 401


def test_heartbeats_speak_only_for_themselves(
    control_logger_client, training_client, make_deployment
):
    from kafkaml.workloads.models import Heartbeat

    url = "/api/v1/worker/heartbeats/"
    assert (
        control_logger_client.post(url, {"component": "control_logger"}, format="json").status_code
        == 204
    )
    assert (
        control_logger_client.post(url, {"component": "celery"}, format="json").status_code == 403
    )
    result_id = make_deployment()["results"][0]["id"]
    worker = training_client(result_id)
    assert worker.post(url, {}, format="json").status_code == 204
    assert worker.post(url, {"component": "control_logger"}, format="json").status_code == 403
    assert set(Heartbeat.objects.values_list("component", flat=True)) == {
        "control_logger",
        f"training-result-{result_id}",
    }


def test_a_new_control_logger_key_replaces_the_old_one(db):
    from kafkaml.workloads.credentials import control_logger_credential_ensure

    first = keyed(control_logger_credential_ensure())
    preset = "ab" * 32
    second = keyed(control_logger_credential_ensure(key=preset))
    assert control_logger_credential_ensure(key=preset) == preset  # idempotent
    error = {"control_topic": "t", "control_partition": 0, "control_offset": 1, "error": "x"}
    assert first.post("/api/v1/worker/control-errors/", error, format="json").status_code == 401
    assert second.post("/api/v1/worker/control-errors/", error, format="json").status_code == 201


def test_gpus_are_capped_per_user(client, make_deployment, make_model, settings):
    settings.KAFKAML_MAX_GPUS_PER_USER = 2
    first = make_deployment(gpus=2)
    configuration = client.post(
        "/api/v1/configurations/", {"name": "more", "models": [make_model().pk]}, format="json"
    ).json()
    body = {"configuration": configuration["id"], "gpus": 1}
    refused = client.post("/api/v1/deployments/", body, format="json")
    assert refused.status_code == 409
    assert "0 of your 2" in refused.json()["detail"] and "gpus" in refused.json()["errors"]
    assert client.post(f"/api/v1/results/{first['results'][0]['id']}/stop/").status_code == 200
    assert client.post("/api/v1/deployments/", body, format="json").status_code == 201


def test_the_control_logger_key_comes_from_the_environment_on_kubernetes(db, monkeypatch):
    from django.core.management import CommandError, call_command

    monkeypatch.setenv("KAFKAML_CONTROL_LOGGER_TOKEN", "not-hex")
    with pytest.raises(CommandError, match="hex"):
        call_command("control_logger_credential")
    key = "5a" * 32
    monkeypatch.setenv("KAFKAML_CONTROL_LOGGER_TOKEN", key)
    call_command("control_logger_credential")
    stored = WorkloadCredential.objects.get(revoked_at=None, kind="control_logger")
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    error = {"control_topic": "t", "control_partition": 0, "control_offset": 1, "error": "x"}
    response = keyed(key).post("/api/v1/worker/control-errors/", error, format="json")
    assert response.status_code == 201
