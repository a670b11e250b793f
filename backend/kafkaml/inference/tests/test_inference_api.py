import pytest

from kafkaml.training.tests.test_worker_api import METADATA, upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finished_result(make_deployment, training_client):
    def make(metadata=METADATA):
        result_id = make_deployment()["results"][0]["id"]
        assert upload(training_client(result_id), result_id, metadata=metadata).status_code == 201
        return result_id

    return make


def body(result_id, **extra):
    return {
        "result": result_id,
        "input_format": "RAW",
        "input_config": {"data_type": "float32", "data_reshape": "8 8"},
        "input_topic": "alice.digits-in",
        "output_topic": "alice.digits-out",
        **extra,
    }


def test_only_a_finished_result_can_be_deployed(client, make_deployment):
    result_id = make_deployment()["results"][0]["id"]
    response = client.post("/api/v1/inferences/", body(result_id), format="json")
    assert response.status_code == 400
    assert "result" in response.json()["errors"]


def test_inference_lifecycle(client, workload_client, finished_result, launcher):
    result_id = finished_result()
    response = client.post("/api/v1/inferences/", body(result_id, replicas=2), format="json")
    assert response.status_code == 201, response.json()
    inference = response.json()
    url = f"/api/v1/inferences/{inference['id']}/"
    assert client.get(url).json()["status"] == "running"
    spec = launcher.launched[-1]
    assert spec.replicas == 2 and spec.component == "inference"
    worker_client = workload_client(spec.name)

    worker = worker_client.get(f"/api/v1/worker/inferences/{inference['id']}/").json()
    assert worker["result_id"] == result_id and worker["model_version"] == 1

    assert client.post(url + "scale/", {"replicas": 3}, format="json").status_code == 200
    assert launcher.scaled == [(spec.name, 3)]
    assert client.post(url + "scale/", {"replicas": 0}, format="json").status_code == 400

    metrics = {
        "replica": "r0",
        "records_in_per_s": 1000,
        "records_out_per_s": 990,
        "latency_ms": {"p50": 3, "p95": 8, "p99": 12},
        "lag": 5,
    }
    assert (
        worker_client.post(
            url.replace("/api/v1/", "/api/v1/worker/") + "metrics/", metrics, format="json"
        ).status_code
        == 204
    )
    live = client.get(url).json()["live"]
    assert live["records_in_per_s"] == 1000 and live["latency_ms"]["p99"] == 12

    assert client.delete(url).status_code == 409
    assert client.post(url + "stop/").json()["status"] == "stopped"
    assert launcher.stopped == [spec.name]
    assert worker_client.get(f"/api/v1/worker/inferences/{inference['id']}/").status_code == 401
    assert client.delete(url).status_code == 204


def test_hot_swap_checks_input_shape_and_records_history(
    client, workload_client, finished_result, launcher
):
    first, second = finished_result(), finished_result()
    other_shape = {
        **METADATA,
        "inputs": [{"name": "x", "shape": [None, 28, 28], "dtype": "float32"}],
    }
    third = finished_result(metadata=other_shape)
    inference = client.post("/api/v1/inferences/", body(first), format="json").json()
    url = f"/api/v1/inferences/{inference['id']}/"
    worker_client = workload_client(launcher.launched[-1].name)
    assert worker_client.get(f"/api/v1/worker/results/{second}/artifacts/").status_code == 404

    swapped = client.post(url + "swap/", {"result": second}, format="json")
    assert swapped.status_code == 200
    assert swapped.json()["serving_result"] == second
    worker = worker_client.get(f"/api/v1/worker/inferences/{inference['id']}/").json()
    assert worker["result_id"] == second
    # the model it serves now is the one it may download
    assert worker_client.get(f"/api/v1/worker/results/{second}/artifacts/").status_code == 200
    assert worker_client.get(f"/api/v1/worker/results/{first}/artifacts/").status_code == 404

    refused = client.post(url + "swap/", {"result": third}, format="json")
    assert refused.status_code == 400 and "shape" in refused.json()["detail"]

    rolled_back = client.post(url + "swap/", {"result": first}, format="json").json()
    assert rolled_back["serving_result"] == first
    assert len(rolled_back["swap_history"]) == 2


def test_a_result_in_use_cannot_be_deleted(client, finished_result, launcher):
    result_id = finished_result()
    client.post("/api/v1/inferences/", body(result_id), format="json")
    assert client.delete(f"/api/v1/results/{result_id}/").status_code == 409


def test_inferences_are_private(client, other_client, finished_result, launcher):
    inference = client.post("/api/v1/inferences/", body(finished_result()), format="json").json()
    assert other_client.get(f"/api/v1/inferences/{inference['id']}/").status_code == 404
    assert other_client.post(f"/api/v1/inferences/{inference['id']}/stop/").status_code == 404


def test_bad_topic_and_missing_limit(client, finished_result, launcher):
    result_id = finished_result()
    bad = client.post(
        "/api/v1/inferences/", body(result_id, input_topic="no spaces"), format="json"
    )
    assert bad.status_code == 400 and "input_topic" in bad.json()["errors"]
    no_limit = client.post(
        "/api/v1/inferences/", body(result_id, upper_topic="alice.up"), format="json"
    )
    assert no_limit.status_code == 400 and "limit" in no_limit.json()["errors"]


def test_topics_of_another_user_are_refused_and_nothing_is_launched(
    client, finished_result, launcher
):
    result_id = finished_result()
    launched = len(launcher.launched)
    for field, topic in (
        ("input_topic", "bob.digits-in"),
        ("output_topic", "bob.digits-out"),
        ("upper_topic", "bob.upper"),
        ("input_topic", "digits-in"),  # outside every namespace
    ):
        extra = {field: topic, "limit": 0.8} if field == "upper_topic" else {field: topic}
        response = client.post("/api/v1/inferences/", body(result_id, **extra), format="json")
        assert response.status_code == 409, response.json()
        assert response.json()["errors"] == {
            field: [f"{topic!r} is not yours: your topics start with 'alice.'."]
        }
    assert len(launcher.launched) == launched
    assert client.get("/api/v1/inferences/").json()["count"] == 0


def test_an_inference_made_before_ownership_with_a_foreign_topic_is_not_scaled_or_swapped(
    client, finished_result, launcher, user, monkeypatch
):
    from kafkaml.inference.models import Inference
    from kafkaml.inference.services import inference_resume_all
    from kafkaml.training.models import TrainingResult
    from kafkaml.workloads.launchers.base import WorkloadStatus

    result = TrainingResult.objects.get(pk=finished_result())
    legacy = Inference.objects.create(
        owner=user,
        result=result,
        serving_result=result,
        model_version=1,
        input_format="RAW",
        input_topic="bob.digits-in",
        output_topic="alice.out",
        status="running",
        workload_name="inference-legacy",
    )
    url = f"/api/v1/inferences/{legacy.pk}/"
    scaled = client.post(url + "scale/", {"replicas": 3}, format="json")
    assert scaled.status_code == 409 and "input_topic" in scaled.json()["errors"]
    swapped = client.post(url + "swap/", {"result": result.pk}, format="json")
    assert swapped.status_code == 409
    assert launcher.scaled == []

    # the platform restarted and the workload is gone: it is not relaunched
    monkeypatch.setattr(launcher, "status", lambda name: WorkloadStatus("stopped"))
    launched = len(launcher.launched)
    assert inference_resume_all() == 0
    assert len(launcher.launched) == launched
    legacy.refresh_from_db()
    assert legacy.status == "failed" and "'bob.digits-in' is not yours" in legacy.error
    assert client.post(url + "stop/").status_code == 409  # already ended
    assert client.delete(url).status_code == 204


def test_the_reconciler_stops_a_running_inference_made_before_ownership_with_a_foreign_topic(
    client, finished_result, launcher, user
):
    from kafkaml.inference.models import Inference
    from kafkaml.inference.services import inference_reconcile
    from kafkaml.training.models import TrainingResult

    result = TrainingResult.objects.get(pk=finished_result())
    fields = {"owner": user, "result": result, "serving_result": result, "model_version": 1}
    fields |= {"input_format": "RAW", "status": "running"}
    legacy = Inference.objects.create(
        input_topic="alice.in", output_topic="alice.out", upper_topic="bob.up", limit=0.5,
        workload_name="inference-legacy", **fields,
    )  # fmt: skip
    own = Inference.objects.create(
        input_topic="alice.in2", output_topic="alice.out2", workload_name="inference-own", **fields
    )
    assert inference_reconcile() == 1
    assert launcher.stopped == ["inference-legacy"]
    legacy.refresh_from_db()
    own.refresh_from_db()
    assert legacy.status == "failed"
    assert legacy.error == "stopped: 'bob.up' is not yours: your topics start with 'alice.'."
    assert own.status == "running"


def test_delivery_defaults_to_at_least_once_and_reaches_the_worker(
    client, workload_client, finished_result, launcher
):
    result_id = finished_result()
    plain = client.post("/api/v1/inferences/", body(result_id), format="json").json()
    assert plain["delivery"] == "at_least_once"
    response = client.post(
        "/api/v1/inferences/",
        body(result_id, delivery="exactly_once", output_topic="alice.digits-eo"),
        format="json",
    )
    assert response.status_code == 201, response.json()
    inference = response.json()
    assert inference["delivery"] == "exactly_once"
    worker = workload_client(launcher.launched[-1].name).get(
        f"/api/v1/worker/inferences/{inference['id']}/"
    )
    assert worker.json()["delivery"] == "exactly_once"


def test_unknown_delivery_is_refused(client, finished_result, launcher):
    result_id = finished_result()
    response = client.post(
        "/api/v1/inferences/", body(result_id, delivery="at_most_once"), format="json"
    )
    assert response.status_code == 400
    assert "delivery" in response.json()["errors"]
    assert not [s for s in launcher.launched if s.component == "inference"]


def test_exactly_once_is_refused_on_the_embedded_broker(
    client, finished_result, launcher, settings
):
    settings.KAFKAML_EMBEDDED_BROKER = True
    result_id = finished_result()
    response = client.post(
        "/api/v1/inferences/", body(result_id, delivery="exactly_once"), format="json"
    )
    assert response.status_code == 400
    message = response.json()["errors"]["delivery"][0]
    assert "embedded broker" in message and "at_least_once" in message
    assert not [s for s in launcher.launched if s.component == "inference"]
    # at-least-once is fine there
    assert client.post("/api/v1/inferences/", body(result_id), format="json").status_code == 201


def test_a_replica_that_cannot_reach_the_cluster_shows_the_inference_degraded(
    client, workload_client, finished_result, launcher
):
    inference = client.post("/api/v1/inferences/", body(finished_result()), format="json").json()
    url = f"/api/v1/inferences/{inference['id']}/"
    worker_client = workload_client(launcher.launched[-1].name)
    metrics_url = f"/api/v1/worker/inferences/{inference['id']}/metrics/"
    assert client.get(url).json()["degraded"] is None

    since = "2026-01-02T03:04:05+00:00"
    report = {"replica": "r0", "cluster_unreachable_since": since}
    assert worker_client.post(metrics_url, report, format="json").status_code == 204
    assert worker_client.post(metrics_url, {"replica": "r1"}, format="json").status_code == 204
    shown = client.get(url).json()
    assert shown["status"] == "running"
    assert shown["degraded"]["reason"] == "cluster_unreachable"
    from datetime import datetime

    assert datetime.fromisoformat(shown["degraded"]["since"]) == datetime.fromisoformat(since)

    # the cluster is back: the next report clears it
    report = {"replica": "r0", "cluster_unreachable_since": None}
    assert worker_client.post(metrics_url, report, format="json").status_code == 204
    assert client.get(url).json()["degraded"] is None
