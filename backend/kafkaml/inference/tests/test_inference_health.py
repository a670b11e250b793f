"""Issue 13: an input config that cannot feed the model is refused; a crashing workload is
shown failed with its last error; a stopped inference has no replica reporting."""

import pytest

from kafkaml.inference.tests.test_inference_api import body
from kafkaml.training.tests.test_worker_api import METADATA, upload
from kafkaml.workloads.launchers.base import WorkloadStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finished_result(make_deployment, training_client):
    def make(metadata=METADATA):
        result_id = make_deployment()["results"][0]["id"]
        assert upload(training_client(result_id), result_id, metadata=metadata).status_code == 201
        return result_id

    return make


FLAT_64 = {**METADATA, "inputs": [{"name": "x", "shape": [None, 64], "dtype": "float32"}]}


def test_an_input_config_that_does_not_fit_the_model_is_refused(
    client,
    finished_result,
    launcher,
):
    result_id = finished_result(metadata=FLAT_64)
    wrong = {"data_type": "float32", "data_reshape": "7 7"}
    response = client.post(
        "/api/v1/inferences/", body(result_id, input_config=wrong), format="json"
    )
    assert response.status_code == 400, response.json()
    message = response.json()["errors"]["input_config"][0]
    assert "64 values" in message and "49" in message
    assert not [s for s in launcher.launched if s.component == "inference"]

    broken = {"data_type": "float32", "data_reshape": "eight"}
    response = client.post(
        "/api/v1/inferences/", body(result_id, input_config=broken), format="json"
    )
    assert response.status_code == 400 and "input_config" in response.json()["errors"]

    for fits in ({"data_type": "float32", "data_reshape": "8 8"}, {"data_type": "float32"}):
        response = client.post(
            "/api/v1/inferences/", body(result_id, input_config=fits), format="json"
        )
        assert response.status_code == 201, response.json()


def test_a_swap_to_a_model_the_input_config_cannot_feed_is_refused(
    client,
    finished_result,
    launcher,
):
    first = finished_result(metadata=FLAT_64)
    config = {"data_type": "float32", "data_reshape": "64"}
    inference = client.post(
        "/api/v1/inferences/", body(first, input_config=config), format="json"
    ).json()
    other = finished_result(
        metadata={**METADATA, "inputs": [{"name": "x", "shape": [None, 32], "dtype": "float32"}]}
    )
    response = client.post(
        f"/api/v1/inferences/{inference['id']}/swap/", {"result": other}, format="json"
    )
    assert response.status_code == 400


def test_a_workload_that_keeps_crashing_is_failed_with_its_last_error(
    client,
    finished_result,
    launcher,
    monkeypatch,
):
    from kafkaml.inference.services import inference_reconcile

    inference = client.post("/api/v1/inferences/", body(finished_result()), format="json").json()
    url = f"/api/v1/inferences/{inference['id']}/"
    name = launcher.launched[-1].name
    log = (
        "==> replica-0 <==\nINFO loading model\n"
        "ValueError: model in /tmp/a expects records of shape (64,), the input topic carries "
        "(7, 7)\nINFO exiting\n"
    )
    monkeypatch.setattr(launcher, "logs", lambda n, tail=200: log)
    # restarting once is not crashing yet
    once = WorkloadStatus("running", "replica 0 exited with code 1; restarting in 1s", 1, 0, 1)
    monkeypatch.setattr(launcher, "status", lambda n: once)
    assert inference_reconcile() == 0
    assert client.get(url).json()["status"] == "running"

    crashing = WorkloadStatus("running", "replica 0 exited with code 1; restarting in 8s", 1, 0, 4)
    monkeypatch.setattr(launcher, "status", lambda n: crashing)
    assert inference_reconcile() == 1
    shown = client.get(url).json()
    assert shown["status"] == "failed"
    assert shown["error"].startswith("crashing: replica 0 exited with code 1")
    assert "restarted 4 times" in shown["error"]
    assert "expects records of shape (64,), the input topic carries (7, 7)" in shown["error"]
    assert launcher.stopped == [name]


def test_a_crash_loop_on_kubernetes_is_failed_with_the_log_tail(
    client,
    finished_result,
    launcher,
    monkeypatch,
):
    from kafkaml.inference.services import inference_reconcile

    inference = client.post("/api/v1/inferences/", body(finished_result()), format="json").json()
    state = WorkloadStatus("failed", "CrashLoopBackOff after Error (exit code 1)", 1, 0, 5)
    monkeypatch.setattr(launcher, "status", lambda n: state)
    monkeypatch.setattr(launcher, "logs", lambda n, tail=200: "Traceback\nKeyError: 'x'\n")
    assert inference_reconcile() == 1
    error = client.get(f"/api/v1/inferences/{inference['id']}/").json()["error"]
    assert error.startswith("crashing: CrashLoopBackOff") and "KeyError: 'x'" in error


def test_a_replica_that_reports_is_not_crashing(
    client,
    workload_client,
    finished_result,
    launcher,
    monkeypatch,
):
    from kafkaml.inference.services import inference_reconcile

    inference = client.post("/api/v1/inferences/", body(finished_result()), format="json").json()
    worker = workload_client(launcher.launched[-1].name)
    metrics_url = f"/api/v1/worker/inferences/{inference['id']}/metrics/"
    assert worker.post(metrics_url, {"replica": "r0"}, format="json").status_code == 204
    state = WorkloadStatus("running", "replica 1 exited with code 1; restarting in 8s", 2, 1, 5)
    monkeypatch.setattr(launcher, "status", lambda n: state)
    assert inference_reconcile() == 0


def test_stop_clears_the_replica_reports(client, workload_client, finished_result, launcher):
    inference = client.post(
        "/api/v1/inferences/", body(finished_result(), replicas=2), format="json"
    ).json()
    url = f"/api/v1/inferences/{inference['id']}/"
    worker = workload_client(launcher.launched[-1].name)
    for replica in ("r0", "r1"):
        worker.post(
            f"/api/v1/worker/inferences/{inference['id']}/metrics/",
            {"replica": replica, "records_in_per_s": 5},
            format="json",
        )
    assert client.get(url).json()["live"]["replicas_reporting"] == 2
    stopped = client.post(url + "stop/").json()
    assert stopped["live"]["replicas_reporting"] == 0
    assert client.get(url).json()["live"]["replicas_reporting"] == 0
