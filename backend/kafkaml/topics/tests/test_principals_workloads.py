"""The platform's own Kafka password never reaches a workload: a local workload sees only the
Kafka principal its launch made (``spec.secret_env``), whatever the platform's environment holds.
(On Kubernetes those variables come from the workload's Secret: test_kubernetes_launcher.py.)"""

from __future__ import annotations

import json
import sys
import time

import pytest

from kafkaml.workloads.launchers.base import WorkloadSpec
from kafkaml.workloads.launchers.local import LocalLauncher

PLATFORM = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "kafkaml-platform",
    "KAFKA_SASL_PASSWORD": "the-platforms-own-password",
    "KAFKA_SASL_PASSWORD_FILE": "/run/secrets/kafka-password",
}


@pytest.fixture
def launcher(tmp_path):
    instance = LocalLauncher(root=tmp_path / "workloads")
    yield instance
    for workdir in instance.root.iterdir():
        instance.stop(workdir.name)


def run_and_read_env(launcher, tmp_path, name: str, secret_env: dict) -> dict:
    out = tmp_path / f"{name}.json"
    command = [
        sys.executable,
        "-c",
        f"import json, os; open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))",
    ]
    launcher.launch(
        WorkloadSpec(name=name, component="training", command=command, secret_env=secret_env)
    )
    deadline = time.monotonic() + 30
    while launcher.status(name).state != "succeeded":
        assert time.monotonic() < deadline, launcher.status(name)
        time.sleep(0.1)
    return json.loads(out.read_text())


@pytest.mark.parametrize("provisioned", [True, False], ids=["provisioned", "unsecured"])
def test_the_platforms_kafka_password_never_reaches_a_workload(
    launcher, tmp_path, monkeypatch, provisioned
):
    for key, value in PLATFORM.items():
        monkeypatch.setenv(key, value)
    own = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "workload.training-result-3",
        "KAFKA_SASL_PASSWORD": "the-workloads-own-password",
    }
    secret_env = {"KAFKAML_API_TOKEN": "ab" * 32, **(own if provisioned else {})}
    seen = run_and_read_env(launcher, tmp_path, f"training-{provisioned}", secret_env)
    assert "the-platforms-own-password" not in seen.values()
    assert "KAFKA_SASL_PASSWORD_FILE" not in seen
    assert {k: v for k, v in seen.items() if k.startswith("KAFKA_")} == (own if provisioned else {})
