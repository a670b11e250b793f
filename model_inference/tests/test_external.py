"""The external runtime against a real MLServer (PyPI, its own venv: .ci/install-mlserver.sh)
on loopback serving the platform's ONNX artifact: equal predictions, the failure rules, and a
killed server mid-stream without loss."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_inference.core import process_batch
from model_inference.runtimes import RuntimeUnavailable, load_runtime
from model_inference.runtimes.external import (
    tfserving_outputs,
    tfserving_request,
    v2_outputs,
    v2_request,
)
from model_inference.testing import failing_onnx, write_metadata

from .conftest import (
    ThreadWorker,
    images,
    make_worker,
    produce,
    read_topics,
    topics,
    wait_for,
)


@pytest.fixture(scope="module")
def failing_artifact(tmp_path_factory):
    path = tmp_path_factory.mktemp("failing")
    (path / "model.onnx").write_bytes(failing_onnx((28, 28)).SerializeToString())
    write_metadata(
        path,
        framework="pytorch",
        version=1,
        input_shape=(28, 28),
        outputs=[("output", [None, 7919])],
    )
    return path


@pytest.fixture(scope="module")
def mlserver(tmp_path_factory, onnx_artifact, failing_artifact):
    from model_inference.mlserver_process import MLServer, MLServerUnavailable

    try:
        server = MLServer(
            tmp_path_factory.mktemp("mlserver"),
            {"mnist": onnx_artifact, "failing": failing_artifact},
        )
        server.start()
    except MLServerUnavailable as exc:
        pytest.skip(f"MLServer unavailable: {exc}")
    yield server
    server.stop()


def test_protocol_bodies_round_trip():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    body = v2_request("input", x)
    assert body["inputs"][0] == {
        "name": "input",
        "shape": [2, 3],
        "datatype": "FP32",
        "data": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
    }
    answer = {
        "outputs": [
            {"name": "b", "shape": [2], "datatype": "INT64", "data": [1, 2]},
            {"name": "a", "shape": [2, 3], "datatype": "FP32", "data": body["inputs"][0]["data"]},
        ]
    }
    a, b = v2_outputs(answer, ["a", "b"])
    assert np.array_equal(a, x) and b.dtype == np.int64
    assert tfserving_request(x) == {"instances": x.tolist()}
    (p,) = tfserving_outputs({"predictions": x.tolist()})
    assert np.array_equal(p, x)
    up, out = tfserving_outputs(
        {"predictions": [{"out": [1], "up": [2]}, {"out": [3], "up": [4]}]}, ["up", "out"]
    )
    assert up.tolist() == [[2], [4]] and out.tolist() == [[1], [3]]


def test_predictions_equal_the_embedded_runtime(mlserver, onnx_artifact):
    x = images(500, seed=3)
    embedded = load_runtime(onnx_artifact, "onnx").predict(x)[0]
    external = load_runtime(onnx_artifact, "external", url=mlserver.url, model_name="mnist")
    assert external.name == "external"
    np.testing.assert_allclose(external.predict(x)[0], embedded, atol=1e-4)
    # split into requests of 64, 3 in flight
    split = load_runtime(
        onnx_artifact,
        "external",
        url=mlserver.url,
        model_name="mnist",
        max_batch=64,
        concurrency=3,
    )
    np.testing.assert_allclose(split.predict(x)[0], embedded, atol=1e-4)
    assert split.calls == 8


def test_server_errors_go_to_dlq_unreachable_raises(mlserver, failing_artifact, onnx_artifact):
    from datasources.codecs import get_codec

    codec = get_codec("RAW", {"data_type": "uint8", "data_reshape": "28 28"})
    values = [v.tobytes() for v in images(8)]
    failing = load_runtime(failing_artifact, "external", url=mlserver.url, model_name="failing")
    from model_inference.core import ModelSpec

    result = process_batch(values, codec, ModelSpec(runtime=failing))
    assert sorted(result.errors) == list(range(8)) and not result.out_index
    assert "HTTP 500" in result.errors[0] or "HTTP 400" in result.errors[0]

    # nothing listens there: retried, then the whole batch is unavailable (not DLQ)
    from model_inference.mlserver_process import free_port

    gone = load_runtime(
        onnx_artifact,
        "external",
        url=f"http://127.0.0.1:{free_port()}",
        model_name="mnist",
        retries=2,
        backoff_ms=10,
    )
    with pytest.raises(RuntimeUnavailable, match="after 3 attempts"):
        process_batch(values, codec, ModelSpec(runtime=gone))
    # a model the server does not have: 404 is "unavailable" too
    missing = load_runtime(
        onnx_artifact, "external", url=mlserver.url, model_name="nope", retries=0
    )
    with pytest.raises(RuntimeUnavailable, match="HTTP 404"):
        missing.predict(images(2))


@pytest.mark.timeout(240)
def test_killed_mlserver_mid_stream_loses_nothing(broker, unique_topic, mlserver, onnx_artifact):
    src, out = unique_topic, f"{unique_topic}.out"
    dlq = f"{src}.dlq"
    topics(broker, src, out, dlq)
    n = 3000
    x = images(n, seed=5)
    values = [v.tobytes() for v in x]
    values[7] = b"short"  # a record the codec rejects: the DLQ, as always
    worker = ThreadWorker(
        make_worker(
            broker,
            onnx_artifact,
            src,
            out,
            batch_size=100,
            runtime="external",
            external={
                "url": mlserver.url,
                "model_name": "mnist",
                "timeout_ms": 2000,
                "retries": 2,
                "backoff_ms": 50,
            },
        )
    ).start()
    try:
        produce(broker, src, values[: n // 2])
        assert wait_for(lambda: worker.worker.metrics.records_out > 200, timeout=60)
        mlserver.kill()
        produce(broker, src, values[n // 2 :], keys=[str(i).encode() for i in range(n // 2, n)])
        assert wait_for(lambda: worker.worker.unavailable_batches >= 2, timeout=60)
        mlserver.start()

        def complete(got) -> bool:  # every key answered or dead-lettered, whatever the repeats
            return {int(m.key()) for m in got} >= set(range(n))

        records = read_topics(
            broker, [out, dlq], expected=n, timeout=120, settle=1.0, until=complete
        )
    finally:
        totals = worker.stop()
    outputs = [m for m in records if m.topic() == out]
    dead = [m for m in records if m.topic() == dlq]
    assert {int(m.key()) for m in dead} == {7}
    by_key = {int(m.key()): json.loads(m.value()) for m in outputs}
    assert set(by_key) == set(range(n)) - {7}  # 0 lost (at-least-once: repeats allowed)
    embedded = load_runtime(onnx_artifact, "onnx").predict(x)[0]
    got = np.array([by_key[k]["values"] for k in range(0, n, 97) if k != 7])
    np.testing.assert_allclose(got, embedded[[k for k in range(0, n, 97) if k != 7]], atol=1e-4)
    assert totals["records_out"] >= n - 1 and totals["errors"] >= 1
