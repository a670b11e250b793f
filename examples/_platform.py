"""Small helpers the examples share: talk to a running platform over its REST API."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `datasources` from the source

URL = os.environ.get("KAFKAML_URL", "http://127.0.0.1:8000").rstrip("/")
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def session() -> requests.Session:
    """A session authenticated with a token (KAFKAML_TOKEN, or KAFKAML_USER/KAFKAML_PASSWORD)."""
    token = os.environ.get("KAFKAML_TOKEN")
    if not token:
        user = os.environ.get("KAFKAML_USER", "admin")
        password = os.environ.get("KAFKAML_PASSWORD")
        if not password:
            sys.exit("Set KAFKAML_PASSWORD (printed by the first `make up`) or KAFKAML_TOKEN.")
        response = requests.post(
            f"{URL}/api/v1/auth/token/", json={"username": user, "password": password}, timeout=30
        )
        response.raise_for_status()
        token = response.json()["token"]
    http = requests.Session()
    http.headers["Authorization"] = f"Token {token}"
    return http


def call(http: requests.Session, method: str, path: str, **kwargs):
    response = http.request(method, f"{URL}/api/v1/{path}", timeout=180, **kwargs)
    if response.status_code >= 400:
        sys.exit(f"{method} {path} -> {response.status_code}: {response.text}")
    return response.json() if response.content else None


def topic(http: requests.Session, name: str) -> str:
    """``name`` in the signed-in user's namespace (``alice.digits``): the platform refuses
    topics that do not start with the user's prefix (docs/security.md, Topic ownership)."""
    prefix = call(http, "GET", "auth/me/")["kafka"]["topic_prefix"]
    return name if name.startswith(prefix) else prefix + name


def create_model(http, name: str, framework: str, imports: str, code: str, **extra) -> dict:
    """Create the model, or reuse the one with this name (examples can run twice)."""
    existing = call(http, "GET", f"models/?search={name}")["results"]
    for model in existing:
        if model["name"] == name:
            return model
    body = {"name": name, "framework": framework, "imports": imports, "code": code, **extra}
    model = call(http, "POST", "models/", json=body)
    print(f"model {name}: {model['summary'].get('total_params')} parameters")
    return model


def deploy(http, name: str, model_ids: list[int], **settings) -> dict:
    configuration = call(
        http,
        "POST",
        "configurations/",
        json={"name": f"{name}-{int(time.time())}", "models": model_ids},
    )
    deployment = call(
        http, "POST", "deployments/", json={"configuration": configuration["id"], **settings}
    )
    print(f"deployment {deployment['id']} with results {[r['id'] for r in deployment['results']]}")
    return deployment


def digits() -> tuple:
    """scikit-learn's digits (shipped with the package), shuffled: float32 images in [0, 1]
    of shape (n, 8, 8) and uint8 labels."""
    import numpy as np
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    return (data.images[order] / 16.0).astype(np.float32), data.target[order].astype(np.uint8)


def raw_sink(deployment_id: int, topic: str, online: bool = False, **options):
    """A RawSink (an OnlineRawSink for an incremental stream) for the digits' format."""
    from datasources.online_raw_sink import OnlineRawSink
    from datasources.raw_sink import RawSink

    settings = {"validation_rate": 0.1, "test_rate": 0.1, "data_reshape": "8 8", **options}
    return (OnlineRawSink if online else RawSink)(
        boostrap_servers=BOOTSTRAP,
        topic=topic,
        deployment_id=deployment_id,
        description="scikit-learn digits",
        data_type="float32",
        label_type="uint8",
        **settings,
    )


def send_digits(deployment_id: int, topic: str, reshape: str = "8 8") -> None:
    """Stream all of scikit-learn's digits with the RawSink."""
    x, y = digits()
    sink = raw_sink(deployment_id, topic, data_reshape=reshape)
    for sample, label in zip(x.reshape(len(x), -1), y, strict=True):
        sink.send(data=sample, label=label)
    sink.close()
    print(f"sent {len(y)} digits to {topic}")


def deploy_inference(http, result_id: int, name: str, **options) -> dict:
    """An inference of a result that reads RAW 8x8 float32 digits from ``<prefix>name-in`` and
    answers on ``<prefix>name-out``."""
    body = {
        "result": result_id,
        "input_format": "RAW",
        "input_config": {"data_type": "float32", "data_reshape": "8 8"},
        "input_topic": topic(http, f"{name}-in"),
        "output_topic": topic(http, f"{name}-out"),
        **options,
    }
    return call(http, "POST", "inferences/", json=body)


def send_images(topic: str, images, first_key: int = 0) -> None:
    """Images to an inference's input topic, keyed first_key, first_key + 1, ..."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    for i, image in enumerate(images, start=first_key):
        producer.produce(topic, key=str(i).encode(), value=image.tobytes())
    producer.flush()


def read_outputs(http, output_topic: str, count: int, timeout: float = 120) -> dict:
    """``{key: output record}`` for ``count`` keys from an inference's output topic."""
    import json

    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": topic(http, f"example-{time.time_ns()}"),  # groups are owned like topics
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([output_topic])
    outputs: dict[int, dict] = {}
    deadline = time.monotonic() + timeout
    while len(outputs) < count and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is not None and not message.error():
            outputs[int(message.key())] = json.loads(message.value())
    consumer.close()
    return outputs


def onnx_accuracy(http, result_id: int, images, labels) -> float:
    """Accuracy of a result's ONNX export (run here with ONNX Runtime) on images it never saw."""
    import numpy as np
    import onnxruntime as ort

    response = http.get(f"{URL}/api/v1/results/{result_id}/download/?kind=onnx", timeout=180)
    response.raise_for_status()
    model = ort.InferenceSession(response.content, providers=["CPUExecutionProvider"])
    scores = model.run(None, {model.get_inputs()[0].name: images})[0]
    return float((np.argmax(scores, axis=1) == labels).mean())


def wait_results(http, deployment: dict, timeout: float = 900) -> list[dict]:
    ids = [r["id"] for r in deployment["results"]]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        results = [call(http, "GET", f"results/{i}/") for i in ids]
        if all(r["status"] in ("finished", "failed", "stopped") for r in results):
            for r in results:
                print(
                    f"result {r['id']} ({r['model_name']}): {r['status']} test={r['test_metrics']} {r['error']}"
                )
            return results
        time.sleep(3)
    sys.exit("training did not finish in time")
