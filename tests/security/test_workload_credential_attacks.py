"""Attacks with a stolen workload credential, against a real platform (``kafkaml up``).

Alice (the attacker) steals the credential of her own running training workload the way a
process of hers could: from ``/proc/<pid>/environ`` of the workload's supervisor, found
through ``<data dir>/workloads/<name>/supervisor.pid``. With it she goes after Bob's trained
result, his deployment and his running inference on every worker endpoint. Each attack must
be harmless: 404 (as if Bob's objects did not exist), nothing of Bob's changed, a dead
credential once the workload ended, and the control logger's credential useless on results.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.e2e_platform.test_journey import IMPORTS, digits, poll, send_training_data

pytestmark = pytest.mark.slow

CODE = """model = tf.keras.Sequential([
    tf.keras.Input(shape=(8, 8)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""
PLATFORM_SECRETS = ("DATABASE_URL", "DJANGO_SECRET_KEY", "MLCODE_EXECUTOR_SECRET", "REDIS_URL")


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def supervisor_pid(platform, name: str, timeout: float = 60) -> int:
    pid_file = platform.data_dir / "workloads" / name / "supervisor.pid"
    poll(pid_file.exists, bool, timeout=timeout, interval=0.2)
    return int(pid_file.read_text())


def steal_workload_key(platform, name: str) -> str:
    """What a process of the workload's uid can read: the supervisor's environment."""
    return environ_of(supervisor_pid(platform, name))["KAFKAML_API_TOKEN"]


def control_logger_key(platform) -> str:
    """The control logger of this platform: the process running ``-m control_logger`` whose
    data dir is this platform's."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"control_logger" not in cmdline:
                continue
            env = environ_of(int(proc.name))
        except OSError:
            continue
        if Path(env.get("KAFKAML_DATA_DIR", "/nonexistent")) == platform.data_dir.resolve():
            return env["KAFKAML_API_TOKEN"]
    raise AssertionError("no control logger process found for this platform")


def as_workload(key: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Workload {key}"
    return session


def worker(platform, session: requests.Session, method: str, path: str, **kwargs):
    return session.request(method, f"{platform.url}/api/v1/worker/{path}", timeout=60, **kwargs)


def ok(response: requests.Response, *codes: int) -> dict:
    assert response.status_code in (codes or (200, 201)), response.text[:2000]
    return response.json() if response.content else {}


def evil_archive() -> bytes:
    buffer = io.BytesIO()
    files = {
        "metadata.json": json.dumps(
            {"framework": "tensorflow", "format_version": 1, "files": {"onnx": "model.onnx"}}
        ).encode(),
        "model.onnx": b"the attacker's model",
    }
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def deploy(platform, user, tag: str) -> dict:
    """A model, a configuration and a training deployment of ``user``."""
    model = ok(
        user.api(
            platform,
            "POST",
            "models/",
            json={"name": f"m-{tag}", "framework": "tensorflow", "imports": IMPORTS, "code": CODE},
        )
    )
    configuration = ok(
        user.api(
            platform, "POST", "configurations/", json={"name": f"c-{tag}", "models": [model["id"]]}
        )
    )
    return ok(
        user.api(
            platform,
            "POST",
            "deployments/",
            json={
                "configuration": configuration["id"],
                "batch_size": 32,
                "training_kwargs": "epochs=2",
                "stream_timeout": 120,
            },
        )
    )


def trained_and_served(platform, user, tag: str) -> dict:
    """A finished result of ``user`` and a running inference of it."""
    deployment = deploy(platform, user, tag)
    (result_id,) = [r["id"] for r in deployment["results"]]
    x, y = digits()
    topic = f"{user.username}.{tag}"  # in the user's namespace (kafkaml.topics.namespace)
    send_training_data(platform.bootstrap_servers, topic, deployment["id"], x[:400], y[:400])
    result = poll(
        lambda: ok(user.api(platform, "GET", f"results/{result_id}/")),
        lambda r: r["status"] in ("finished", "failed", "stopped"),
        timeout=300,
    )
    assert result["status"] == "finished", result
    inference = ok(
        user.api(
            platform,
            "POST",
            "inferences/",
            json={
                "result": result_id,
                "input_format": "RAW",
                "input_config": {"data_type": "float32", "data_reshape": "8 8"},
                "input_topic": f"{topic}-in",
                "output_topic": f"{topic}-out",
            },
        )
    )
    onnx = user.api(platform, "GET", f"results/{result_id}/download/?kind=onnx")
    assert onnx.status_code == 200
    return {
        "deployment": deployment["id"],
        "result": result_id,
        "inference": inference["id"],
        "onnx": onnx.content,
    }


@pytest.fixture(scope="module")
def bobs(platform, bob) -> dict:
    """Bob's trained result and his running inference of it: the victims."""
    return trained_and_served(platform, bob, f"bob-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def alices_inference(platform, alice) -> dict:
    """Alice's own running inference, and the key she stole from its workload."""
    mine = trained_and_served(platform, alice, f"alice-inf-{uuid.uuid4().hex[:6]}")
    return {**mine, "key": steal_workload_key(platform, f"inference-{mine['inference']}")}


@pytest.fixture(scope="module")
def alices(platform, alice) -> dict:
    """Alice's own training workload (waiting for data, so it keeps running) and the key she
    stole from its environment."""
    deployment = deploy(platform, alice, f"alice-{uuid.uuid4().hex[:6]}")
    (result_id,) = [r["id"] for r in deployment["results"]]
    key = steal_workload_key(platform, f"training-result-{result_id}")
    assert len(key) == 64
    return {"deployment": deployment["id"], "result": result_id, "key": key}


def bobs_endpoints(bobs: dict) -> list[tuple[str, str, dict]]:
    result, inference = bobs["result"], bobs["inference"]
    return [
        ("GET", f"results/{result}/", {}),
        ("POST", f"results/{result}/status/", {"json": {"status": "failed", "error": "pwned"}}),
        ("POST", f"results/{result}/epochs/", {"json": {"epoch": 1, "metrics": {"loss": 9.9}}}),
        ("GET", f"results/{result}/artifacts/", {}),
        (
            "POST",
            f"results/{result}/artifacts/",
            {
                "files": {"archive": ("model.tar.gz", evil_archive(), "application/gzip")},
                "data": {"summary": json.dumps({"version": 99})},
            },
        ),
        ("GET", f"deployments/{bobs['deployment']}/datasources/", {}),
        ("GET", f"inferences/{inference}/", {}),
        ("POST", f"inferences/{inference}/metrics/", {"json": {"replica": "x", "errors": 1e6}}),
    ]


def test_the_stolen_key_works_for_alices_own_workload_only(platform, alices, bobs):
    thief = as_workload(alices["key"])
    ok(worker(platform, thief, "GET", f"results/{alices['result']}/"))
    for method, path, kwargs in bobs_endpoints(bobs):
        response = worker(platform, thief, method, path, **kwargs)
        assert response.status_code in (403, 404), f"{method} {path}: {response.status_code}"
        if path.startswith(("results/", "deployments/")):
            # a training credential may use these endpoints: Bob's objects do not exist for it
            assert response.status_code == 404, f"{method} {path}: {response.status_code}"


def test_injecting_into_bobs_result_changes_nothing(platform, alices, bobs, bob):
    thief = as_workload(alices["key"])
    before = ok(bob.api(platform, "GET", f"results/{bobs['result']}/"))
    for method, path, kwargs in bobs_endpoints(bobs)[1:5]:
        assert worker(platform, thief, method, path, **kwargs).status_code == 404
    after = ok(bob.api(platform, "GET", f"results/{bobs['result']}/"))
    assert after["epoch_metrics"] == before["epoch_metrics"]
    assert after["status"] == before["status"] == "finished"
    assert [a["version"] for a in after["artifacts"]] == [a["version"] for a in before["artifacts"]]
    onnx = bob.api(platform, "GET", f"results/{bobs['result']}/download/?kind=onnx")
    assert onnx.status_code == 200 and onnx.content == bobs["onnx"]


def test_an_inference_credential_reaches_its_own_inference_and_model_only(platform, alices, bobs):
    url = f"inferences/{bobs['inference']}/"
    thief = as_workload(alices["key"])
    assert worker(platform, thief, "GET", url).status_code == 403  # a training credential
    # the inference workload's own key (read the same way from its supervisor)
    serving = as_workload(steal_workload_key(platform, f"inference-{bobs['inference']}"))
    ok(worker(platform, serving, "GET", url))
    served = worker(platform, serving, "GET", f"results/{bobs['result']}/artifacts/")
    assert served.status_code == 200 and served.content[:2] == b"\x1f\x8b"  # its model's tar.gz
    assert worker(
        platform, serving, "GET", f"results/{alices['result']}/artifacts/"
    ).status_code == (404)
    assert worker(platform, serving, "GET", f"results/{bobs['result']}/").status_code == 403


def test_a_stolen_inference_credential_gets_404_for_bobs_objects(
    platform, alices_inference, bobs, bob
):
    thief = as_workload(alices_inference["key"])
    ok(worker(platform, thief, "GET", f"inferences/{alices_inference['inference']}/"))
    url = f"inferences/{bobs['inference']}/"
    assert worker(platform, thief, "GET", url).status_code == 404
    fake = {"replica": "evil", "records_in": 1e9, "errors": 1e9}
    assert worker(platform, thief, "POST", url + "metrics/", json=fake).status_code == 404
    artifacts = f"results/{bobs['result']}/artifacts/"
    assert worker(platform, thief, "GET", artifacts).status_code == 404
    live = ok(bob.api(platform, "GET", url))
    assert "evil" not in json.dumps(live)


def test_a_workload_credential_is_no_user_credential(platform, alices, alice, bobs):
    thief = as_workload(alices["key"])
    response = thief.get(f"{platform.url}/api/v1/results/{bobs['result']}/", timeout=30)
    assert response.status_code in (401, 403)
    response = thief.get(f"{platform.url}/api/v1/results/{alices['result']}/", timeout=30)
    assert response.status_code in (401, 403)
    # and a user's own token is the wrong kind of credential for the worker API
    assert alice.api(platform, "GET", f"worker/results/{alices['result']}/").status_code == 403
    anonymous = requests.get(f"{platform.url}/api/v1/worker/results/{bobs['result']}/", timeout=30)
    assert anonymous.status_code == 401


def test_the_control_logger_credential_cannot_touch_results(platform, alices, bobs):
    logger = as_workload(control_logger_key(platform))
    for method, path, kwargs in bobs_endpoints(bobs):
        if path.startswith("deployments/"):
            continue
        response = worker(platform, logger, method, path, **kwargs)
        assert response.status_code == 403, f"{method} {path}: {response.status_code}"
    assert worker(platform, logger, "GET", f"results/{alices['result']}/").status_code == 403


def test_the_credential_dies_with_its_workload(platform, alice):
    deployment = deploy(platform, alice, f"alice-end-{uuid.uuid4().hex[:6]}")
    (result_id,) = [r["id"] for r in deployment["results"]]
    key = steal_workload_key(platform, f"training-result-{result_id}")
    thief = as_workload(key)
    ok(worker(platform, thief, "GET", f"results/{result_id}/"))
    ok(alice.api(platform, "POST", f"results/{result_id}/stop/"))
    deadline = time.monotonic() + 30
    while worker(platform, thief, "GET", f"results/{result_id}/").status_code != 401:
        assert time.monotonic() < deadline, "the credential outlived its workload"
        time.sleep(0.5)
    epochs = {"json": {"epoch": 1, "metrics": {"loss": 0.0}}}
    assert (
        worker(platform, thief, "POST", f"results/{result_id}/epochs/", **epochs).status_code == 401
    )


def test_workloads_inherit_no_platform_secret(platform, alices):
    env = environ_of(supervisor_pid(platform, f"training-result-{alices['result']}"))
    assert not set(PLATFORM_SECRETS) & set(env), sorted(env)
    key_file = platform.data_dir / "secret_key"
    if key_file.exists():
        django_key = key_file.read_text().strip()
        assert all(django_key not in value for value in env.values())
    spec = platform.data_dir / "workloads" / f"training-result-{alices['result']}" / "spec.json"
    assert alices["key"] not in spec.read_text()  # the key is never written to disk
