"""POST /api/v1/inferences/<id>/predict: the served model answers synchronously (Open Inference
Protocol JSON), equal to the streaming worker's output for the same records; owners only; the
batch cap and clear 400s. Also GET /metrics after that traffic."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from model_inference.testing import MLP, write_mlp_artifact

pytestmark = pytest.mark.django_db(transaction=True)

parser = pytest.importorskip("prometheus_client.parser")


@pytest.fixture(scope="module")
def mlp():
    return MLP.random(seed=3)


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory, mlp):
    return write_mlp_artifact(tmp_path_factory.mktemp("predict") / "v1", mlp, version=1)


def tar_gz(directory) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(directory.iterdir()):
            tar.add(path, arcname=path.name)
    return buf.getvalue()


@pytest.fixture
def inference(client, make_deployment, training_client, artifact_dir):
    from kafkaml.inference.predict import model_cache

    model_cache().clear()
    result_id = make_deployment()["results"][0]["id"]
    upload = training_client(result_id).post(
        f"/api/v1/worker/results/{result_id}/artifacts/",
        {
            "archive": SimpleUploadedFile("model.tar.gz", tar_gz(artifact_dir)),
            "summary": json.dumps({"test_metrics": {"accuracy": 0.9}}),
        },
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    response = client.post(
        "/api/v1/inferences/",
        {
            "result": result_id,
            "input_format": "RAW",
            "input_config": {"data_type": "uint8", "data_reshape": "28 28"},
            "input_topic": "alice.images-in",
            "output_topic": "alice.images-out",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    yield response.json()
    model_cache().clear()


def images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def v2(x, datatype="UINT8", shape=None):
    return {
        "id": "req-1",
        "inputs": [
            {
                "name": "input",
                "shape": list(shape or x.shape),
                "datatype": datatype,
                "data": x.ravel().tolist(),
            }
        ],
    }


def predict_url(inference):
    return f"/api/v1/inferences/{inference['id']}/predict/"


def test_predict_answers_the_owner_with_the_models_outputs(client, inference, mlp):
    x = images(40, seed=1)
    response = client.post(predict_url(inference), v2(x), format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == "req-1" and body["model_version"] == "1" and body["model_name"]
    (output,) = body["outputs"]
    assert output["shape"] == [40, 10] and output["datatype"] == "FP32"
    got = np.array(output["data"], dtype=np.float64).reshape(40, 10)
    np.testing.assert_allclose(got, mlp(x), rtol=1e-5, atol=1e-6)
    # nested data and another numeric datatype give the same answer; the model stays loaded
    nested = v2(x.astype(np.float32), "FP32")
    nested["inputs"][0]["data"] = x.astype(float).tolist()
    again = client.post(predict_url(inference), nested, format="json").json()
    np.testing.assert_allclose(np.array(again["outputs"][0]["data"]).reshape(40, 10), got)
    from kafkaml.inference.predict import model_cache

    assert len(model_cache().keys()) == 1


def test_predict_is_for_the_owner_only(client, other_client, inference):
    from rest_framework.test import APIClient

    x = images(2)
    assert other_client.post(predict_url(inference), v2(x), format="json").status_code == 404
    assert APIClient().post(predict_url(inference), v2(x), format="json").status_code in (401, 403)


def test_predict_refuses_wrong_requests_clearly(client, inference, settings):
    url = predict_url(inference)
    x = images(3)

    def error(body):
        response = client.post(url, body, format="json")
        assert response.status_code == 400, response.json()
        return json.dumps(response.json())

    assert "datatype" in error(v2(x, "BYTES"))
    assert "does not fit the model input" in error(v2(images(3, 0)[:, :27], "UINT8"))
    assert "needs" in error(v2(x, shape=[3, 28, 27]))  # 2352 values, shape wants 2268
    bad = v2(x)
    bad["inputs"][0]["data"][5] = "seven"
    assert "UINT8" in error(bad)
    bad = v2(x, "INT32")
    bad["inputs"][0]["data"][0] = 1.5
    assert "INT32" in error(bad)
    assert "UINT8" in error(v2(x.astype(np.int64) + 300, "UINT8"))  # out of range
    two = v2(x)
    two["inputs"].append(two["inputs"][0])
    assert "one input tensor" in error(two)
    assert error({"inputs": []})
    # the batch cap
    settings.KAFKAML_PREDICT_MAX_BATCH = 2
    assert "over the limit of 2" in error(v2(x))
    settings.KAFKAML_PREDICT_MAX_BATCH = 3
    assert client.post(url, v2(x), format="json").status_code == 200


def test_predict_on_a_stopped_inference_is_a_conflict(client, inference):
    url = f"/api/v1/inferences/{inference['id']}/"
    assert client.post(url + "stop/").status_code == 200
    assert client.post(url + "predict/", v2(images(1)), format="json").status_code == 409


def test_predict_equals_the_streaming_workers_output(
    client, inference, broker, unique_topic, artifact_dir
):
    """The same records through the real worker (embedded broker) and through the endpoint."""
    from model_inference.tests.conftest import (
        ThreadWorker,
        make_worker,
        outputs_by_key,
        produce,
        read_topics,
        topics,
    )

    n = 100
    x = images(n, seed=9)
    src, out = unique_topic, f"{unique_topic}.out"
    topics(broker, src, out)
    produce(broker, src, [row.tobytes() for row in x])
    worker = ThreadWorker(make_worker(broker, artifact_dir, src, out, batch_size=32)).start()
    try:
        records = read_topics(broker, [out], expected=n, timeout=60)
    finally:
        worker.stop()
    streamed = outputs_by_key(records)
    assert sorted(streamed) == list(range(n))
    streamed_values = np.array([streamed[i]["values"] for i in range(n)])
    body = client.post(predict_url(inference), v2(x), format="json").json()
    answered = np.array(body["outputs"][0]["data"]).reshape(n, -1)
    np.testing.assert_allclose(answered, streamed_values, rtol=1e-6, atol=1e-7)
    assert {streamed[i]["model_version"] for i in streamed} == {int(body["model_version"])}


def families(response):
    return {f.name: f for f in parser.text_string_to_metric_families(response.content.decode())}


def sample(fams, family, name, **labels):
    for s in fams[family].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError(f"{name} {labels} missing")


def test_backend_metrics_carry_the_documented_series(client, inference, settings):
    x = images(5)
    for _ in range(3):
        assert client.post(predict_url(inference), v2(x), format="json").status_code == 200
    assert client.post(predict_url(inference), v2(x, "BYTES"), format="json").status_code == 400
    response = client.get("/metrics")  # the test client is on loopback
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    fams = families(response)
    requests = "kafkaml_http_requests_total"
    ok = dict(view="inference-predict", method="POST")
    assert sample(fams, "kafkaml_http_requests", requests, status="200", **ok) >= 3
    assert sample(fams, "kafkaml_http_requests", requests, status="400", **ok) >= 1
    assert sample(fams, "kafkaml_http_requests", requests, view="inference-list", status="201") >= 1
    duration = "kafkaml_http_request_duration_seconds"
    assert sample(fams, duration, duration + "_count", view="inference-predict") >= 4
    assert sample(fams, "kafkaml_inferences", "kafkaml_inferences", state="running") >= 1
    assert sample(fams, "kafkaml_inferences", "kafkaml_inferences", state="failed") >= 0
    assert sample(fams, "kafkaml_inference_replicas", "kafkaml_inference_replicas") >= 1
    assert (
        sample(fams, "kafkaml_training_results", "kafkaml_training_results", state="finished") >= 1
    )
    assert sample(fams, "kafkaml_predict_rows", "kafkaml_predict_rows_total") >= 15
    predict = "kafkaml_predict_duration_seconds"
    assert sample(fams, predict, predict + "_count") >= 3
    assert sample(fams, predict, predict + "_sum") > 0


def test_metrics_access(client, settings):
    from rest_framework.test import APIClient

    remote = APIClient(REMOTE_ADDR="10.1.2.3")
    assert remote.get("/metrics").status_code == 403  # no token: loopback only
    spoofed = client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert spoofed.status_code == 403  # through a proxy: not a loopback client
    settings.KAFKAML_METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401  # a token set: loopback needs it too
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = remote.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200 and b"kafkaml_http_requests_total" in response.content


def test_metrics_middleware_counts_async_requests_too():
    """The backend runs under uvicorn (ASGI): the middleware's async path counts as well."""
    import asyncio

    from django.test import AsyncClient

    async def scrape():
        c = AsyncClient()
        await c.get("/api/v1/health")
        return await c.get("/metrics")

    response = asyncio.run(scrape())
    assert response.status_code == 200
    assert sample(families(response), "kafkaml_http_requests", "kafkaml_http_requests_total",
                  view="health", method="GET") >= 1  # fmt: skip


def test_a_model_that_cannot_be_loaded_is_a_503(client, make_deployment, training_client):
    from kafkaml.training.tests.test_worker_api import upload

    result_id = make_deployment()["results"][0]["id"]  # its model.onnx is not a model
    assert upload(training_client(result_id), result_id).status_code == 201
    created = client.post(
        "/api/v1/inferences/",
        {
            "result": result_id,
            "input_format": "RAW",
            "input_config": {"data_type": "float32", "data_reshape": "8 8"},
            "input_topic": "alice.broken-in",
            "output_topic": "alice.broken-out",
        },
        format="json",
    ).json()
    x = np.zeros((1, 8, 8), np.float32)
    response = client.post(predict_url(created), v2(x, "FP32"), format="json")
    assert response.status_code == 503
    assert "could not be loaded" in response.json()["detail"]
