"""The training → inference journey over the REST API of a real platform, once per launcher.

The body is the same function for ``local`` and ``kubernetes`` (the fixture differs): model,
configuration, deployment, digits streamed with the sink, a finished result, an inference whose
every prediction matches the trained model run directly (its ONNX export through ONNX Runtime),
scale to 2 replicas, stop. ``platform.workload`` observes the workload through the configured
launcher: that, the launch mechanics, is the only thing that differs between the two.
"""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import pytest

pytestmark = pytest.mark.slow

IMPORTS = "import tensorflow as tf"
CODE = """model = tf.keras.Sequential([
    tf.keras.Input(shape=(8, 8)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""
N_INFER = 300
FINAL = ("finished", "failed", "stopped")


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    x = (data.images[order] / 16.0).astype(np.float32)  # (n, 8, 8)
    return x, data.target[order].astype(np.uint8)


def poll(fetch, done, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value):
        assert time.monotonic() < deadline, f"gave up after {timeout:.0f}s waiting on {value}"
        time.sleep(interval)
        value = fetch()
    return value


def send_training_data(bootstrap: str, topic: str, deployment_id: int, x, y) -> None:
    from datasources.raw_sink import RawSink

    sink = RawSink(
        boostrap_servers=bootstrap,
        topic=topic,
        deployment_id=deployment_id,
        description="scikit-learn digits",
        validation_rate=0.1,
        test_rate=0.1,
        data_type="float32",
        label_type="uint8",
        data_reshape="8 8",
    )
    for sample, label in zip(x, y, strict=True):
        sink.send(data=sample, label=label)
    sink.close()


def produce(bootstrap: str, topic: str, images) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, image in enumerate(images):
        producer.produce(topic, key=str(i).encode(), value=image.tobytes())
    assert producer.flush(30) == 0


def prediction_values(body: dict) -> np.ndarray:
    return np.asarray(body["values"], dtype=np.float32)


def consume_predictions(
    bootstrap: str, topic: str, count: int, timeout: float, keep=prediction_values
) -> dict:
    """``{key: keep(output)}`` for ``count`` distinct keys (the last output of a repeated key)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"e2e-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            # the worker may create the output topic after we subscribed: look again soon
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([topic])
    outputs: dict[int, np.ndarray] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(outputs) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            body = json.loads(message.value())
            outputs[int(message.key())] = keep(body)
    finally:
        consumer.close()
    return outputs


def onnx_predict(model_bytes: bytes, images) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: images}
    return session.run(None, feed)[0]


def test_train_then_infer_journey(platform):
    """Model → deployment → data → finished result → inference → scale → stop."""
    tag = uuid.uuid4().hex[:8]
    prefix = platform.api("GET", "auth/me/")["kafka"]["topic_prefix"]  # "admin.": topics are owned
    x, y = digits()

    # -- a model, a configuration, a deployment ---------------------------------------------
    model = platform.api(
        "POST",
        "models/",
        json={"name": f"digits-{tag}", "framework": "tensorflow", "imports": IMPORTS, "code": CODE},
    )
    assert model["summary"]["total_params"] == 64 * 32 + 32 + 32 * 10 + 10
    configuration = platform.api(
        "POST", "configurations/", json={"name": f"digits-{tag}", "models": [model["id"]]}
    )
    deployment = platform.api(
        "POST",
        "deployments/",
        json={
            "configuration": configuration["id"],
            "batch_size": 32,
            "training_kwargs": "epochs=8",
            "stream_timeout": 120,
        },
    )
    (result_id,) = [r["id"] for r in deployment["results"]]
    training = f"training-result-{result_id}"

    # -- data, then a finished result -------------------------------------------------------
    # the backend registers (and the worker trains on) only topics of the deployment's owner
    send_training_data(
        platform.bootstrap_servers, f"{prefix}digits-{tag}", deployment["id"], x[:1200], y[:1200]
    )
    result = poll(
        lambda: platform.api("GET", f"results/{result_id}/"),
        lambda r: r["status"] in FINAL,
        timeout=150,
    )
    assert result["status"] == "finished", result
    assert result["test_metrics"]["accuracy"] > 0.5, result["test_metrics"]
    assert len(result["epoch_metrics"]) == 8
    platform.wait_workload(training, lambda s: s.state == "succeeded", timeout=30)

    # -- inference ----------------------------------------------------------------------------
    inference = platform.api(
        "POST",
        "inferences/",
        json={
            "result": result_id,
            "input_format": "RAW",
            "input_config": {"data_type": "float32", "data_reshape": "8 8"},
            "input_topic": f"{prefix}digits-in-{tag}",
            "output_topic": f"{prefix}digits-out-{tag}",
            "replicas": 1,
        },
    )
    inference_id = inference["id"]
    serving = f"inference-{inference_id}"
    assert inference["status"] in ("created", "running"), inference
    inference = poll(
        lambda: platform.api("GET", f"inferences/{inference_id}/"),
        lambda i: i["status"] != "created",
        timeout=30,
    )
    assert inference["status"] == "running", inference
    platform.wait_workload(serving, lambda s: s.state == "running" and s.replicas_ready == 1)

    images = x[-N_INFER:]
    produce(platform.bootstrap_servers, inference["input_topic"], images)
    outputs = consume_predictions(
        platform.bootstrap_servers, inference["output_topic"], N_INFER, timeout=90
    )
    assert sorted(outputs) == list(range(N_INFER)), f"{len(outputs)} of {N_INFER} predictions"

    onnx = platform.api("GET", f"results/{result_id}/download/?kind=onnx")
    expected = onnx_predict(onnx, images)
    served = np.stack([outputs[i] for i in range(N_INFER)])
    assert served.shape == expected.shape == (N_INFER, 10)
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-5)
    assert (served.argmax(axis=1) == expected.argmax(axis=1)).all()
    assert (served.argmax(axis=1) == y[-N_INFER:]).mean() > 0.5

    # -- scale, then stop ---------------------------------------------------------------------
    scaled = platform.api("POST", f"inferences/{inference_id}/scale/", json={"replicas": 2})
    assert scaled["replicas"] == 2
    assert platform.api("GET", f"inferences/{inference_id}/")["replicas"] == 2
    platform.wait_workload(serving, lambda s: s.replicas_desired == 2 and s.replicas_ready == 2)

    stopped = platform.api("POST", f"inferences/{inference_id}/stop/")
    assert stopped["status"] == "stopped"
    assert platform.api("GET", f"inferences/{inference_id}/")["status"] == "stopped"
    platform.wait_workload(serving, lambda s: s.state in ("stopped", "unknown"), timeout=30)
    assert platform.api("GET", f"results/{result_id}/")["status"] == "finished"
