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


def send_digits(deployment_id: int, topic: str, reshape: str = "8 8") -> None:
    """Stream scikit-learn's digits (shipped with the package) with the RawSink."""
    import numpy as np
    from sklearn.datasets import load_digits

    from datasources.raw_sink import RawSink

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    x = (digits.data[order] / 16.0).astype(np.float32)
    y = digits.target[order].astype(np.uint8)
    sink = RawSink(
        boostrap_servers=BOOTSTRAP,
        topic=topic,
        deployment_id=deployment_id,
        description="scikit-learn digits",
        validation_rate=0.1,
        test_rate=0.1,
        data_type="float32",
        label_type="uint8",
        data_reshape=reshape,
    )
    for sample, label in zip(x, y, strict=True):
        sink.send(data=sample, label=label)
    sink.close()
    print(f"sent {len(y)} digits to {topic}")


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
