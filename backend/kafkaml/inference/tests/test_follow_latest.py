"""follow_latest (issue 15): an inference that opts in swaps to each newer version its result
publishes, through the models-as-data topic (replicas switch between batches, no restart);
one that does not opt in stays on its version."""

import uuid

import pytest

from kafkaml.training.tests.test_worker_api import upload
from model_inference.updates import ModelUpdates

from .test_inference_api import body

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_opted_in_inference_follows_each_new_version(
    client, make_deployment, training_client, launcher, broker, settings
):
    settings.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap_servers
    result = make_deployment(incremental=True)["results"][0]["id"]
    worker = training_client(result)
    assert upload(worker, result).status_code == 201
    created = {}
    for follow in (True, False):
        suffix = uuid.uuid4().hex[:6]
        response = client.post(
            "/api/v1/inferences/",
            body(
                result,
                input_topic=f"alice.in-{suffix}",
                output_topic=f"alice.out-{suffix}",
                follow_latest=follow,
            ),
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["follow_latest"] is follow
        created[follow] = response.json()["id"]

    for version in (2, 3):
        summary = {"version": version, "test_metrics": {"accuracy": 0.9}}
        assert upload(worker, result, summary=summary).status_code == 201

    following = client.get(f"/api/v1/inferences/{created[True]}/").json()
    assert following["model_version"] == 3
    assert [h["to"]["version"] for h in following["swap_history"]] == [2, 3]
    assert client.get(f"/api/v1/inferences/{created[False]}/").json()["model_version"] == 1

    topic = f"alice.models.inference-{created[True]}"
    updates = ModelUpdates(broker.bootstrap_servers, topic)
    try:
        published = updates.read_all(timeout=20)
    finally:
        updates.close()
    assert [(d.result_id, d.version) for d in published] == [(result, 2), (result, 3)]
