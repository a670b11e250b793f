"""The local launcher with real processes: supervise, restart with backoff, scale, stop."""

import json
import os
import signal
import sys
import time

import pytest

from kafkaml.workloads.launchers.base import WorkloadSpec
from kafkaml.workloads.launchers.local import LocalLauncher

SLEEPER = [
    sys.executable,
    "-c",
    "import time, os; print('replica', os.environ['KAFKAML_REPLICA'], flush=True); time.sleep(600)",
]


def wait_for(predicate, timeout=20.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def pids(launcher, name):
    try:
        return json.loads((launcher.root / name / "status.json").read_text()).get("pids", {})
    except (OSError, ValueError):
        return {}


@pytest.fixture
def launcher(tmp_path):
    instance = LocalLauncher(root=tmp_path)
    yield instance
    for workdir in tmp_path.iterdir():
        instance.stop(workdir.name)


def test_inference_replicas_scale_restart_and_stop(launcher):
    launcher.launch(
        WorkloadSpec(name="inference-1", component="inference", command=SLEEPER, replicas=2)
    )
    wait_for(lambda: launcher.status("inference-1").replicas_ready == 2)
    assert launcher.status("inference-1").state == "running"

    victim = pids(launcher, "inference-1")["0"]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: pids(launcher, "inference-1").get("0") not in (None, victim), timeout=30)
    assert launcher.status("inference-1").restarts == 1

    launcher.scale("inference-1", 3)
    wait_for(lambda: launcher.status("inference-1").replicas_ready == 3)
    launcher.scale("inference-1", 1)
    wait_for(lambda: launcher.status("inference-1").replicas_ready == 1)
    assert "replica inference-1-0" in launcher.logs("inference-1")

    launcher.stop("inference-1")
    assert launcher.status("inference-1").state == "stopped"
    assert not any(_alive(p) for p in [victim])


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.parametrize("code,state", [(0, "succeeded"), (3, "failed")])
def test_training_runs_once(launcher, code, state):
    command = [sys.executable, "-c", f"print('training'); raise SystemExit({code})"]
    launcher.launch(WorkloadSpec(name=f"training-{code}", component="training", command=command))
    status = wait_for(
        lambda: (s := launcher.status(f"training-{code}")).state != "running"
        and s.state != "pending"
        and s
    )
    assert status.state == state
    if code:
        assert "code 3" in status.reason
    assert "training" in launcher.logs(f"training-{code}")


def test_secrets_reach_the_process_but_not_the_disk(launcher, tmp_path):
    out = tmp_path / "seen"
    command = [
        sys.executable,
        "-c",
        f"import os; open({str(out)!r}, 'w').write(os.environ['SECRET'])",
    ]
    launcher.launch(
        WorkloadSpec(
            name="training-s",
            component="training",
            command=command,
            secret_env={"SECRET": "s3cr3t"},
        )
    )
    wait_for(lambda: launcher.status("training-s").state == "succeeded")
    assert out.read_text() == "s3cr3t"
    assert "s3cr3t" not in (launcher.root / "training-s" / "spec.json").read_text()


def test_the_platforms_secrets_do_not_reach_workloads(launcher, tmp_path, monkeypatch):
    platform_secrets = {
        "DATABASE_URL": "postgres://u:p@db/kafkaml",
        "DJANGO_SECRET_KEY": "django-secret",
        "MLCODE_EXECUTOR_SECRET": "executor-secret",
        "REDIS_URL": "redis://:pw@redis:6379/0",
        "KAFKAML_K8S_API_TOKEN_FILE": "/var/run/token",
        "KAFKAML_CONTROL_LOGGER_TOKEN": "ab" * 32,
    }
    for key, value in {**platform_secrets, "KAFKAML_TRAINING_THREADS": "3"}.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "env.json"
    command = [
        sys.executable,
        "-c",
        f"import json, os; open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))",
    ]
    launcher.launch(
        WorkloadSpec(
            name="training-env",
            component="training",
            command=command,
            env={"KAFKAML_BACKEND_URL": "http://backend"},
            secret_env={"KAFKAML_API_TOKEN": "cd" * 32},
        )
    )
    wait_for(lambda: launcher.status("training-env").state == "succeeded")
    seen = json.loads(out.read_text())
    assert not set(platform_secrets) & set(seen)
    assert seen["KAFKAML_API_TOKEN"] == "cd" * 32
    assert seen["KAFKAML_BACKEND_URL"] == "http://backend"
    assert seen["KAFKAML_TRAINING_THREADS"] == "3"  # an operator's worker tunable passes
    assert seen["PATH"] == os.environ["PATH"]


def test_a_dead_supervisor_reads_as_failed(launcher):
    launcher.launch(WorkloadSpec(name="inference-x", component="inference", command=SLEEPER))
    wait_for(lambda: launcher.status("inference-x").replicas_ready == 1)
    supervisor = int((launcher.root / "inference-x" / "supervisor.pid").read_text())
    replica = pids(launcher, "inference-x")["0"]
    os.killpg(supervisor, signal.SIGKILL)
    wait_for(
        lambda: not _alive(supervisor)
        or open(f"/proc/{supervisor}/stat").read().split(") ")[1][0] == "Z"
    )
    assert launcher.status("inference-x").state == "failed"
    if _alive(replica):
        os.kill(replica, signal.SIGKILL)
