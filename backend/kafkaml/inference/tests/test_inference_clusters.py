"""Edge/fog/cloud on different clusters (per-inference bootstrap servers) and inference GPUs."""

import pytest

from kafkaml.inference.tests.test_inference_api import body
from kafkaml.training.tests.test_worker_api import upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finished_result(make_deployment, training_client):
    def make():
        result_id = make_deployment()["results"][0]["id"]
        assert upload(training_client(result_id), result_id).status_code == 201
        return result_id

    return make


def test_clusters_are_validated_stored_and_passed_to_the_worker(
    client,
    workload_client,
    finished_result,
    launcher,
):
    result_id = finished_result()
    extra = {
        "input_bootstrap_servers": " edge-kafka:9092, edge-kafka-2:9093 ",
        "output_bootstrap_servers": "cloud.example.org:9092",
        "upper_topic": "alice.digits-up",
        "limit": 0.8,
    }
    response = client.post("/api/v1/inferences/", body(result_id, **extra), format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["input_bootstrap_servers"] == "edge-kafka:9092,edge-kafka-2:9093"
    assert created["upper_bootstrap_servers"] == "" and created["gpus"] == 0
    spec = launcher.launched[-1]
    worker = workload_client(spec.name).get(f"/api/v1/worker/inferences/{created['id']}/").json()
    assert worker["input_bootstrap_servers"] == "edge-kafka:9092,edge-kafka-2:9093"
    assert worker["output_bootstrap_servers"] == "cloud.example.org:9092"
    assert worker["upper_bootstrap_servers"] == ""

    for bad in ("edge-kafka", "edge kafka:9092", "a:9092,,b:9092", "a:0", "a:99999", "x:y"):
        response = client.post(
            "/api/v1/inferences/", body(result_id, input_bootstrap_servers=bad), format="json"
        )
        assert response.status_code == 400, bad
        assert "input_bootstrap_servers" in response.json()["errors"]
    response = client.post(
        "/api/v1/inferences/", body(result_id, upper_bootstrap_servers="c:9092"), format="json"
    )
    assert response.status_code == 400 and "upper_bootstrap_servers" in response.json()["errors"]


def test_exactly_once_across_clusters_is_refused(client, finished_result, launcher):
    result_id = finished_result()
    launched = len(launcher.launched)
    for extra in (
        {"input_bootstrap_servers": "edge:9092"},
        {"output_bootstrap_servers": "cloud:9092"},
        {"upper_topic": "alice.up", "limit": 0.5, "upper_bootstrap_servers": "cloud:9092"},
    ):
        response = client.post(
            "/api/v1/inferences/", body(result_id, delivery="exactly_once", **extra), format="json"
        )
        assert response.status_code == 400, extra
        message = response.json()["errors"]["delivery"][0]
        assert "cannot span clusters" in message
    assert len(launcher.launched) == launched
    # one other cluster for both sides is fine
    same = {"input_bootstrap_servers": "b:9092,a:9092", "output_bootstrap_servers": "a:9092,b:9092"}
    response = client.post(
        "/api/v1/inferences/", body(result_id, delivery="exactly_once", **same), format="json"
    )
    assert response.status_code == 201, response.json()


def test_inference_gpus_reach_the_workload_and_count_against_the_cap(
    client,
    finished_result,
    launcher,
    settings,
):
    settings.KAFKAML_MAX_GPUS_PER_USER = 3
    result_id = finished_result()
    response = client.post(
        "/api/v1/inferences/", body(result_id, gpus=1, replicas=2), format="json"
    )
    assert response.status_code == 201, response.json()
    spec = launcher.launched[-1]
    assert spec.resources.gpus == 1 and spec.replicas == 2
    url = f"/api/v1/inferences/{response.json()['id']}/"
    # 2 in use: a second inference asking for 2 more is refused, scaling to 3 replicas is fine
    refused = client.post("/api/v1/inferences/", body(result_id, gpus=2), format="json")
    assert refused.status_code == 409 and "gpus" in refused.json()["errors"]
    assert client.post(url + "scale/", {"replicas": 3}, format="json").status_code == 200
    assert client.post(url + "scale/", {"replicas": 4}, format="json").status_code == 409
    assert client.post(url + "stop/").status_code == 200
    ok = client.post("/api/v1/inferences/", body(result_id, gpus=2), format="json")
    assert ok.status_code == 201
