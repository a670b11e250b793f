import io
import json
import tarfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db(transaction=True)


def make_archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


METADATA = {
    "framework": "tensorflow",
    "format_version": 1,
    "inputs": [{"name": "x", "shape": [None, 8, 8], "dtype": "float32"}],
    "outputs": [{"name": "y", "shape": [None, 10], "dtype": "float32"}],
    "files": {"native": "model.keras", "onnx": "model.onnx"},
}


def upload(worker, result_id, summary=None, metadata=METADATA):
    archive = make_archive(
        {
            "metadata.json": json.dumps(metadata).encode(),
            "model.keras": b"keras-bytes",
            "model.onnx": b"onnx-bytes",
        }
    )
    return worker.post(
        f"/api/v1/worker/results/{result_id}/artifacts/",
        {
            "archive": SimpleUploadedFile("model.tar.gz", archive),
            "summary": json.dumps(summary or {"test_metrics": {"accuracy": 0.9}}),
        },
        format="multipart",
    )


def test_worker_endpoints_refuse_users(client, make_deployment):
    result_id = make_deployment()["results"][0]["id"]
    assert client.get(f"/api/v1/worker/results/{result_id}/").status_code == 403


def test_users_endpoints_refuse_workload_credentials(training_client, make_deployment):
    result_id = make_deployment()["results"][0]["id"]
    worker = training_client(result_id)
    # not a user's credential: anonymous there (403 is how the session-first user API says it)
    assert worker.get("/api/v1/models/").status_code in (401, 403)
    assert worker.get(f"/api/v1/results/{result_id}/").status_code in (401, 403)


def test_training_lifecycle_reported_by_a_worker(client, training_client, make_deployment):
    deployment = make_deployment(training_kwargs="epochs=2")
    result_id = deployment["results"][0]["id"]
    worker_client = training_client(result_id)

    payload = worker_client.get(f"/api/v1/worker/results/{result_id}/").json()
    assert payload["model"]["framework"] == "tensorflow"
    assert payload["deployment"]["training_kwargs"] == {"epochs": 2}
    assert payload["deployment"]["batch_size"] == 16

    url = f"/api/v1/worker/results/{result_id}/"
    assert (
        worker_client.post(url + "status/", {"status": "deployed"}, format="json").status_code
        == 200
    )
    for epoch in (1, 2):
        response = worker_client.post(
            url + "epochs/",
            {"epoch": epoch, "metrics": {"loss": 1.0 / epoch, "accuracy": 0.5 * epoch}},
            format="json",
        )
        assert response.status_code == 204
    assert upload(worker_client, result_id).status_code == 201

    result = client.get(f"/api/v1/results/{result_id}/").json()
    assert result["status"] == "finished"
    assert [h["status"] for h in result["status_history"]] == ["created", "deployed", "finished"]
    assert [e["epoch"] for e in result["epoch_metrics"]] == [1, 2]
    assert result["test_metrics"] == {"accuracy": 0.9}
    assert result["artifacts"][0]["version"] == 1

    onnx = client.get(f"/api/v1/results/{result_id}/download/?kind=onnx")
    assert onnx.status_code == 200
    assert b"".join(onnx.streaming_content) == b"onnx-bytes"
    native = client.get(f"/api/v1/results/{result_id}/download/?kind=native")
    assert b"".join(native.streaming_content) == b"keras-bytes"
    metrics = client.get(f"/api/v1/results/{result_id}/download/?kind=metrics").json()
    assert metrics["test"] == {"accuracy": 0.9} and len(metrics["epochs"]) == 2

    # The workload's credential ended with its result: a late "failed" cannot overwrite
    # "finished" (and would not, anyway: final states stick).
    late = worker_client.post(url + "status/", {"status": "failed"}, format="json")
    assert late.status_code == 401
    assert client.get(f"/api/v1/results/{result_id}/").json()["status"] == "finished"


def test_failed_result_keeps_error_and_log_tail(client, training_client, make_deployment):
    result_id = make_deployment()["results"][0]["id"]
    training_client(result_id).post(
        f"/api/v1/worker/results/{result_id}/status/",
        {"status": "failed", "error": "bad record at offset 7", "log_tail": "Traceback..."},
        format="json",
    )
    result = client.get(f"/api/v1/results/{result_id}/").json()
    assert result["status"] == "failed"
    assert "offset 7" in result["error"] and result["log_tail"] == "Traceback..."


def test_archive_without_metadata_is_refused(training_client, make_deployment):
    result_id = make_deployment()["results"][0]["id"]
    archive = make_archive({"model.onnx": b"x"})
    response = training_client(result_id).post(
        f"/api/v1/worker/results/{result_id}/artifacts/",
        {"archive": SimpleUploadedFile("m.tar.gz", archive)},
        format="multipart",
    )
    assert response.status_code == 400
    assert "metadata.json" in response.json()["detail"]


def control(deployment_id, offset, **extra):
    return {
        "deployment_id": deployment_id,
        "topic": "alice.digits:0:0:100",
        "input_format": "RAW",
        "input_config": {"data_type": "uint8", "label_type": "uint8", "data_reshape": "8 8"},
        "validation_rate": 0.1,
        "test_rate": 0.1,
        "total_msg": 100,
        "control_topic": "KAFKA_ML_CONTROL_TOPIC",
        "control_partition": 0,
        "control_offset": offset,
        **extra,
    }


def test_datasource_registration_is_idempotent(
    client, control_logger_client, training_client, make_deployment
):
    deployment = make_deployment()
    first = control_logger_client.post(
        "/api/v1/worker/datasources/", control(deployment["id"], 5), format="json"
    )
    again = control_logger_client.post(
        "/api/v1/worker/datasources/", control(deployment["id"], 5), format="json"
    )
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    listed = client.get("/api/v1/datasources/").json()
    assert listed["count"] == 1 and listed["results"][0]["deployment"] == deployment["id"]
    worker = training_client(deployment["results"][0]["id"])
    sources = worker.get(f"/api/v1/worker/deployments/{deployment['id']}/datasources/")
    assert len(sources.json()) == 1


def test_datasource_for_unknown_deployment_is_refused(control_logger_client):
    response = control_logger_client.post(
        "/api/v1/worker/datasources/", control(999999, 1), format="json"
    )
    assert response.status_code == 400
    assert "deployment_id" in response.json()["errors"]


def test_datasources_are_private(other_client, control_logger_client, make_deployment):
    deployment = make_deployment()
    control_logger_client.post(
        "/api/v1/worker/datasources/", control(deployment["id"], 1), format="json"
    )
    assert other_client.get("/api/v1/datasources/").json()["count"] == 0


def test_a_datasource_naming_topics_of_another_user_is_refused(
    control_logger_client, make_deployment, other_client
):
    deployment = make_deployment()  # alice's
    for extra, field in (
        ({"topic": "bob.digits:0:0:100"}, "topic"),
        ({"topic": "alice.digits:0:0:50,bob.digits:0:0:50"}, "topic"),
        ({"topic": "digits:0:0:100"}, "topic"),
        ({"unsupervised_topic": "bob.unlabelled"}, "unsupervised_topic"),
        ({"topic": "bob.stream", "incremental": True}, "topic"),
    ):
        response = control_logger_client.post(
            "/api/v1/worker/datasources/", control(deployment["id"], 1, **extra), format="json"
        )
        assert response.status_code == 409, (extra, response.json())
        assert list(response.json()["errors"]) == [field]
        assert "is not yours: your topics start with 'alice.'" in response.json()["detail"]
    from kafkaml.training.models import Datasource

    assert not Datasource.objects.exists()
    incremental = control(deployment["id"], 2, topic="alice.stream", incremental=True)
    response = control_logger_client.post("/api/v1/worker/datasources/", incremental, format="json")
    assert response.status_code == 201, response.json()


def test_control_errors_are_shown_to_the_owner_of_the_deployment_they_name(
    client, other_client, control_logger_client, make_deployment
):
    deployment = make_deployment()
    error = {
        "control_topic": "KAFKA_ML_CONTROL_TOPIC",
        "control_partition": 0,
        "control_offset": 9,
        "error": "'bob.x' is not yours",
        "raw": "{}",
    }
    for deployment_id in (deployment["id"], 999_999, 2**64 - 1, None):
        response = control_logger_client.post(
            "/api/v1/worker/control-errors/",
            {**error, "deployment_id": deployment_id},
            format="json",
        )
        assert response.status_code == 201
    url = f"/api/v1/deployments/{deployment['id']}/control-errors/"
    shown = client.get(url)
    assert shown.status_code == 200
    assert [
        {k: v for k, v in e.items() if k not in ("id", "created_at")} for e in shown.json()
    ] == [
        {
            "error": "'bob.x' is not yours",
            "control_topic": "KAFKA_ML_CONTROL_TOPIC",
            "control_partition": 0,
            "control_offset": 9,
        }
    ]
    assert other_client.get(url).status_code == 404


def test_retraining_on_a_datasource_with_a_foreign_topic_is_refused(
    client, make_deployment, launcher, user
):
    from kafkaml.training.models import Datasource, Deployment

    first = Deployment.objects.get(pk=make_deployment()["id"])
    fields = {k: v for k, v in control(first.pk, 1).items() if k != "deployment_id"}

    def registered(topic, **extra):  # stored as registrations were before topics were owned
        return Datasource.objects.create(
            owner=user,
            deployment=first,
            deployment_key=first.pk,
            fingerprint=topic,
            **{**fields, "topic": topic, **extra},
        )

    legacy = registered("bob.digits:0:0:100")
    unsupervised = registered("alice.d:0:0:100", unsupervised_topic="bob.u")
    own = registered("alice.digits:0:0:100")
    launched = len(launcher.launched)
    configuration = client.get(f"/api/v1/deployments/{first.pk}/").json()["configuration"]
    for datasource, topic in ((legacy, "bob.digits"), (unsupervised, "bob.u")):
        response = client.post(
            "/api/v1/deployments/",
            {"configuration": configuration, "datasource": datasource.pk},
            format="json",
        )
        assert response.status_code == 409, response.json()
        reason = f"{topic!r} is not yours: your topics start with 'alice.'."
        assert response.json()["errors"] == {"datasource": [reason]}
    assert len(launcher.launched) == launched
    again = client.post(
        "/api/v1/deployments/",
        {"configuration": configuration, "datasource": own.pk},
        format="json",
    )
    assert again.status_code == 201, again.json()
