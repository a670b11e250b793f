"""Models as data, backend side: the swap publishes a version descriptor to the inference's
model-updates topic (real broker); a replica's refusal of an update is shown on the inference."""

import hashlib
import uuid

import pytest

from kafkaml.training.tests.test_worker_api import upload
from model_inference.updates import ModelUpdates

from .test_inference_api import body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finished_result(make_deployment, training_client):
    def make():
        result_id = make_deployment()["results"][0]["id"]
        assert upload(training_client(result_id), result_id).status_code == 201
        return result_id

    return make


def _download(worker_client, location: str) -> bytes:
    response = worker_client.get(location)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_swap_publishes_a_descriptor_the_replica_can_verify(
    client,
    workload_client,
    finished_result,
    launcher,
    broker,
    settings,
):
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
    first, second = finished_result(), finished_result()
    suffix = uuid.uuid4().hex[:6]
    created = client.post(
        "/api/v1/inferences/",
        body(first, input_topic=f"alice.in-{suffix}", output_topic=f"alice.out-{suffix}"),
        format="json",
    ).json()
    url = f"/api/v1/inferences/{created['id']}/"
    worker_client = workload_client(launcher.launched[-1].name)
    payload = worker_client.get(f"/api/v1/worker/inferences/{created['id']}/").json()
    topic = payload["models_topic"]
    assert topic == f"alice.models.inference-{created['id']}"  # the owner's namespace

    assert client.post(url + "swap/", {"result": second}, format="json").status_code == 200
    assert client.post(url + "swap/", {"result": first}, format="json").status_code == 200  # back

    updates = ModelUpdates(broker.bootstrap_servers, topic)
    try:
        published = updates.read_all(timeout=20)
    finally:
        updates.close()
    assert [(d.result_id, d.version, d.inference) for d in published] == [
        (second, 1, created["id"]),
        (first, 1, created["id"]),
    ]
    last = published[-1]
    assert last.format == "tar.gz" and last.published_at
    # the location is the worker API's download, and the checksum is the archive's
    archive = _download(worker_client, last.location)
    assert hashlib.sha256(archive).hexdigest() == last.sha256
    # the history and rollback semantics of the swap are kept
    assert len(client.get(url).json()["swap_history"]) == 2


def test_swap_fails_and_is_not_recorded_when_kafka_does_not_take_the_update(
    client,
    finished_result,
    launcher,
    settings,
):
    first, second = finished_result(), finished_result()
    created = client.post("/api/v1/inferences/", body(first), format="json").json()
    url = f"/api/v1/inferences/{created['id']}/"
    settings.KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:1"  # nothing listens
    refused = client.post(url + "swap/", {"result": second}, format="json")
    assert refused.status_code == 503
    shown = client.get(url).json()
    assert shown["serving_result"] == first and shown["swap_history"] == []


def test_a_refused_update_is_shown_as_an_error_and_the_acks_per_replica(
    client,
    workload_client,
    finished_result,
    launcher,
):
    created = client.post("/api/v1/inferences/", body(finished_result()), format="json").json()
    url = f"/api/v1/inferences/{created['id']}/"
    worker_client = workload_client(launcher.launched[-1].name)
    metrics_url = f"/api/v1/worker/inferences/{created['id']}/metrics/"
    applied = {"result_id": 1, "version": 2, "status": "applied", "error": "", "sha256": "a"}
    failed = {**applied, "version": 3, "status": "failed", "error": "checksum mismatch"}
    for replica, update in (("r0", applied), ("r1", failed)):
        report = {"replica": replica, "model_version": 2, "model_update": update}
        assert worker_client.post(metrics_url, report, format="json").status_code == 204
    shown = client.get(url).json()
    assert shown["status"] == "running"  # not fatal
    assert "r1" in shown["error"] and "checksum mismatch" in shown["error"]
    acks = shown["replica_models"]
    assert acks["r0"]["model_version"] == 2 and acks["r0"]["model_update"]["status"] == "applied"
    assert acks["r1"]["model_update"]["version"] == 3
