"""The standalone CLI, and the stop path (SIGTERM → ``stopped``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model_training.job import TrainingJob
from model_training.tests.conftest import KERAS_CODE, KERAS_IMPORTS, stream_digits

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, env=None, **kwargs):
    env = env or {**os.environ, "KAFKAML_TRAINING_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "model_training", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def test_standalone_run_trains_and_writes_artifacts(
    broker, unique_topic, control_topic, deployment_id, digits, tmp_path
):
    images, labels = digits
    message = stream_digits(
        broker.bootstrap_servers,
        unique_topic,
        deployment_id,
        images[:600],
        labels[:600],
        control_topic=control_topic,
    )
    (tmp_path / "model.py").write_text(KERAS_CODE)
    (tmp_path / "imports.py").write_text(KERAS_IMPORTS)
    proc = cli(
        "--model-file", str(tmp_path / "model.py"),
        "--imports-file", str(tmp_path / "imports.py"),
        "--datasource", json.dumps(message),
        "--kwargs", "epochs=2",
        "--bootstrap-servers", broker.bootstrap_servers,
        "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    final = json.loads(out.strip().splitlines()[-1])
    assert final["status"] == "finished"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [e["epoch"] if isinstance(e, dict) else e[0] for e in report[0]["epochs"]] == [1, 2]
    assert (tmp_path / "out" / "model-0" / "v1" / "model.onnx").exists()
    assert (tmp_path / "out" / "model-0" / "v1" / "metadata.json").exists()


def test_standalone_without_a_datasource_is_refused(tmp_path):
    (tmp_path / "model.py").write_text(KERAS_CODE)
    proc = cli("--model-file", str(tmp_path / "model.py"), "--bootstrap-servers", "127.0.0.1:1")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "--datasource" in out, out


@pytest.mark.django_db(transaction=True)
def test_sigterm_while_waiting_ends_stopped(broker, deployed, tmp_path):
    """Backend mode: the worker waits for the backend to register the deployment's datasource
    (none comes) until SIGTERM, and reports ``stopped``."""
    from kafkaml.training.models import TrainingResult

    proc = cli(
        "--result-id", str(deployed.result_id),
        "--bootstrap-servers", broker.bootstrap_servers,
        env={
            **os.environ,
            "KAFKAML_TRAINING_THREADS": "1",
            "KAFKAML_BACKEND_URL": deployed.backend_url,
            "KAFKAML_API_TOKEN": deployed.token,
        },
    )  # fmt: skip
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # wait until it is waiting for the datasource
        line = proc.stdout.readline()
        lines.append(line)
        if "waiting for the backend to register a datasource" in line or not line:
            break
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + out
    assert TrainingResult.objects.get(pk=deployed.result_id).status == "stopped", out


def test_job_from_backend_payload():
    model = {"id": 3, "name": "edge", "framework": "pytorch", "imports": "", "code": "model = 1"}
    payload = {
        "id": 10,
        "status": "created",
        "deployment": {
            "id": 4,
            "batch_size": 64,
            "training_kwargs": {"epochs": 3},
            "evaluation_kwargs": "batch_size=128",
            "confusion_matrix": True,
            "metrics": "accuracy",
            "incremental": False,
            "stream_timeout": 30,
            "monitored_metric": "val_accuracy",
            "improvement": 0.01,
            "window_size": 500,
        },
        "model": model,
        "chain": [
            {**model, "result_id": 10},
            {**model, "id": 5, "name": "cloud", "result_id": 11},
        ],
        "datasource": {
            "topic": "t:0:0:10",
            "input_format": "RAW",
            "input_config": {"data_type": "uint8"},
            "validation_rate": 0.1,
            "test_rate": 0.2,
            "total_msg": 10,
        },
    }
    job = TrainingJob.from_backend(payload)
    assert job.framework == "pytorch" and job.distributed
    assert [m.result_id for m in job.models] == [10, 11]
    assert job.deployment_id == 4 and job.result_id == 10
    s = job.settings
    assert (s.batch, s.kwargs_fit, s.kwargs_val) == (64, {"epochs": 3}, {"batch_size": 128})
    assert s.confusion_matrix and s.stream_timeout == 30 and s.window_size == 500
    assert s.monitoring_metric == "val_accuracy" and s.improvement == 0.01
    assert job.datasource.topic == "t:0:0:10" and job.datasource.test_rate == 0.2


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if text.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_sigterm_during_fit_kills_the_trainer_job_and_ends_stopped(
    broker, unique_topic, control_topic, deployment_id, digits, tmp_path
):
    import re

    from model_training.tests.conftest import TORCH_IMPORTS
    from model_training.tests.test_sandboxed import probe

    images, labels = digits
    message = stream_digits(
        broker.bootstrap_servers,
        unique_topic,
        deployment_id,
        images[:300],
        labels[:300],
        control_topic=control_topic,
    )
    (tmp_path / "model.py").write_text(probe("import time; time.sleep(0.05)"))
    (tmp_path / "imports.py").write_text(TORCH_IMPORTS)
    proc = cli(
        "--model-file", str(tmp_path / "model.py"),
        "--imports-file", str(tmp_path / "imports.py"),
        "--framework", "pytorch",
        "--datasource", json.dumps(message),
        "--kwargs", "epochs=1000",
        "--bootstrap-servers", broker.bootstrap_servers,
        "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    lines, job_dir = [], None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for the trainer's first epoch
        line = proc.stdout.readline()
        lines.append(line)
        found = re.search(r"trainer started in (\S+)", line)
        job_dir = found.group(1) if found else job_dir
        if line.startswith('{"epoch": 1') or not line:
            break
    assert job_dir and _processes_mentioning(job_dir), "".join(lines)
    stopped_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + out
    assert json.loads(out.strip().splitlines()[-1])["status"] == "stopped"
    assert time.monotonic() - stopped_at < 15
    assert not _processes_mentioning(job_dir)  # the whole job is gone
    assert not Path(job_dir).exists()
