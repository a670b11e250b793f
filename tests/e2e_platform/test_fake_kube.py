"""The fake Kubernetes API behind the ``kubernetes`` journey, driven by the real launcher.

Fast (no platform): each test runs tiny ``python -c`` workloads as pods and checks that what the
launcher reads back (through the real ``kubernetes`` client and its status mapping) is what a
cluster would report for them.
"""

from __future__ import annotations

import sys
import threading
import time

import pytest
from kafkaml.workloads.launchers.base import WorkloadSpec
from kafkaml.workloads.launchers.kubernetes import KubernetesLauncher, KubernetesSettings

from .fake_kube import Cluster, make_server

NS = "fake-test"
TOKEN = "cluster-token"


@pytest.fixture
def launcher(tmp_path):
    from kubernetes import client as k8s

    cluster = Cluster(tmp_path, sys.executable, grace=5)
    server = make_server(cluster, TOKEN)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    configuration = k8s.Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
    configuration.api_key = {"authorization": TOKEN}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    api = k8s.ApiClient(configuration)
    launcher = KubernetesLauncher(KubernetesSettings(namespace=NS), api)
    launcher.cluster = cluster  # what the fake holds, for the tests' eyes only
    yield launcher
    server.shutdown()
    server.server_close()
    cluster.shutdown()


def spec(name, component, code, replicas=1, secret_env=None):
    return WorkloadSpec(
        name=name,
        component=component,
        command=["python", "-c", code],
        env={"GREETING": "hello"},
        secret_env=secret_env if secret_env is not None else {"KAFKAML_API_TOKEN": "s3cr3t"},
        replicas=replicas,
    )


def wait(launcher, name, accept, timeout=20.0):
    deadline = time.monotonic() + timeout
    status = launcher.status(name)
    while not accept(status):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
        status = launcher.status(name)
    return status


def test_job_runs_once_with_env_and_its_own_secret(launcher):
    code = "import os; print(os.environ['GREETING'], os.environ['KAFKAML_API_TOKEN'])"
    launcher.launch(spec("training-result-1", "training", code))
    secret = (NS, "training-result-1-credentials")
    assert launcher.cluster.secrets[secret] == {"api-token": "s3cr3t"}
    assert launcher.cluster.secret_owners[secret]  # owned by the Job
    status = wait(launcher, "training-result-1", lambda s: s.state == "succeeded")
    assert status.reason == "Complete"
    assert launcher.logs("training-result-1") == "hello s3cr3t\n"
    launcher.stop("training-result-1")
    assert secret not in launcher.cluster.secrets


def test_deleting_a_workload_collects_its_secret(launcher):
    from kubernetes import client as k8s

    launcher.launch(spec("inference-9", "inference", "import time; time.sleep(60)"))
    secret = (NS, "inference-9-credentials")
    assert secret in launcher.cluster.secrets
    k8s.AppsV1Api(launcher.api_client).delete_namespaced_deployment("inference-9", NS)
    assert secret not in launcher.cluster.secrets


def test_failing_job_fails_after_its_backoff_limit(launcher):
    launcher.launch(spec("training-result-2", "training", "import sys; sys.exit(3)"))
    status = wait(launcher, "training-result-2", lambda s: s.state == "failed")
    assert "BackoffLimitExceeded" in status.reason and "exit code 3" in status.reason
    assert status.restarts == 2  # backoffLimit 1: two pods


def test_missing_secret_is_a_container_config_error(launcher):
    from kafkaml.workloads.launchers.kubernetes import build_job
    from kubernetes import client as k8s

    job = build_job(spec("training-result-3", "training", "pass"), launcher.settings)
    (token,) = [e for e in job.spec.template.spec.containers[0].env if e.value_from]
    token.value_from.secret_key_ref.name = "nobody-made-this"
    k8s.BatchV1Api(launcher.api_client).create_namespaced_job(NS, job)
    status = wait(launcher, "training-result-3", lambda s: s.state != "pending")
    assert status.state == "failed" and "CreateContainerConfigError" in status.reason


def test_deployment_scales_restarts_and_stops(launcher):
    code = "import time; print('up', flush=True); time.sleep(120)"
    launcher.launch(spec("inference-1", "inference", code, replicas=1))
    wait(launcher, "inference-1", lambda s: s.state == "running" and s.replicas_ready == 1)
    launcher.scale("inference-1", 2)
    status = wait(launcher, "inference-1", lambda s: s.replicas_ready == 2)
    assert (status.state, status.replicas_desired) == ("running", 2)
    assert launcher.logs("inference-1").count("up\n") == 2
    launcher.scale("inference-1", 1)
    wait(launcher, "inference-1", lambda s: s.replicas_desired == 1 and s.replicas_ready == 1)
    launcher.stop("inference-1")
    assert launcher.status("inference-1").state == "unknown"


def test_crashing_deployment_goes_to_crash_loop(launcher):
    launcher.launch(spec("inference-2", "inference", "import sys; sys.exit(1)"))
    status = wait(launcher, "inference-2", lambda s: s.state == "failed", timeout=30)
    assert "CrashLoopBackOff" in status.reason and status.restarts >= 3
    launcher.stop("inference-2")
