"""The split: the worker drives a sandboxed trainer (real jail, real frameworks, real broker).

User code that fails at fit time is reported with its line; a trainer that dies (killed, out of
memory) fails the run with the reason and its last output; a stop kills the trainer's whole job;
what the trainer writes is copied out without following its links.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from model_training import protocol
from model_training.errors import TrainingError
from model_training.job import DatasourceSpec, ModelSpec, TrainingJob, TrainingSettings
from model_training.reporting import MemoryReporter
from model_training.tests.conftest import KERAS_IMPORTS, TORCH_IMPORTS, stream_digits
from model_training.trainer_process import copy_artifacts
from model_training.worker import TrainingWorker

# A PyTorch model whose forward runs ``PROBE`` only while training on real batches: building
# the model (and the executor's validation) never triggers it.
TORCH_PROBE = """
import os, signal, sys

class Probe(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        if self.training and x.shape[0] > 2:
            PROBE
        return self.out(x.flatten(1) / 16)

    def loss_fn(self):
        return nn.CrossEntropyLoss()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)

    def metrics(self):
        return {"loss": Loss(self.loss_fn()), "accuracy": Accuracy()}

model = Probe()
"""
KERAS_RAISING = """
class Probe(tf.keras.layers.Layer):
    def call(self, x, training=None):
        if training:
            raise ValueError("no training today")
        return x

model = tf.keras.Sequential([
    tf.keras.layers.Input((8, 8)),
    tf.keras.layers.Flatten(),
    Probe(),
    tf.keras.layers.Dense(10, activation="softmax"),
])
"""


def probe(statement: str) -> str:
    return TORCH_PROBE.replace("PROBE", statement)


@pytest.fixture(scope="module")
def source(broker, digits):
    topic = f"t-sandboxed-{uuid.uuid4().hex[:8]}"
    images, labels = digits
    message = stream_digits(
        broker.bootstrap_servers,
        topic,
        1,
        images[:400],
        labels[:400],
        control_topic=f"{topic}-control",
    )
    return DatasourceSpec.from_message(message)


def worker_for(broker, source, code, framework="pytorch", epochs=1, **kwargs):
    imports = TORCH_IMPORTS if framework == "pytorch" else KERAS_IMPORTS
    job = TrainingJob(
        models=(ModelSpec(code, framework, imports, name="probe"),),
        settings=TrainingSettings(kwargs_fit={"epochs": epochs}, seed=1),
        datasource=source,
    )
    reporter = MemoryReporter()
    return TrainingWorker(job, [reporter], bootstrap=broker.bootstrap_servers, **kwargs), reporter


@pytest.mark.parametrize(
    "framework,code,line,quoted",
    [
        ("pytorch", probe("1 / 0"), 11, "1 / 0"),
        ("tensorflow", KERAS_RAISING, 5, 'raise ValueError("no training today")'),
    ],
)
def test_user_code_raising_at_fit_time_names_its_line(
    broker, source, framework, code, line, quoted
):
    worker, reporter = worker_for(broker, source, code, framework)
    assert worker.run() == "failed"
    assert f"code line {line}: {quoted}" in reporter.error, reporter.error
    assert "Error" in reporter.error.split(":")[0]
    assert "\x1b[" not in reporter.error  # no terminal styling in the result's error
    assert 'File "<model code>"' in reporter.log_tails[-1]  # the trainer's traceback
    assert [s for s, _ in reporter.statuses] == ["deployed", "failed"]


def test_print_in_user_code_goes_to_the_log_not_the_event_pipe(broker, source, monkeypatch):
    # a credential in the worker's environment never reaches the trainer's
    monkeypatch.setenv("KAFKAML_API_TOKEN", "worker-secret-token")
    statement = (
        "print('PROBE', os.getuid(), os.environ.get('KAFKAML_API_TOKEN'), "
        "sorted(k for k in os.environ if k.startswith('KAFKAML')), flush=True)"
    )
    worker, reporter = worker_for(broker, source, probe(statement), epochs=2)
    assert worker.run() == "finished", reporter.error
    assert [e for e, _ in reporter.epochs] == [1, 2]
    printed = [line for line in worker.trainer.output_lines() if line.startswith("PROBE")]
    assert printed, worker.trainer.output_lines()
    _, uid, token, names = printed[0].split(" ", 3)
    assert token == "None" and names == "[]"
    if os.geteuid() == 0:  # the jail gives the job its own uid
        assert int(uid) not in (0, os.geteuid())


def test_trainer_killed_ends_failed_with_the_reason_and_its_last_output(broker, source):
    statement = "print('about to die', flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    worker, reporter = worker_for(broker, source, probe(statement))
    assert worker.run() == "failed"
    assert "killed (SIGKILL)" in reporter.error, reporter.error
    assert "about to die" in reporter.error  # the trainer's last output, in the error itself
    assert "about to die" in reporter.log_tails[-1]
    assert worker.trainer.proc.returncode is not None
    assert not worker.trainer.job_dir.exists() and not worker.trainer.input_dir.exists()


@pytest.mark.skipif(
    not __import__("mlcode_executor.jail", fromlist=["capabilities"]).capabilities().complete,
    reason="memory limits of a whole job need the complete sandbox (root, cgroups)",
)
def test_memory_limit_ends_failed_naming_the_limit(broker, source):
    from mlcode_executor.jail import JailLimits

    statement = "import numpy; hog = numpy.ones(2 << 27)"  # 2 GiB, every page touched
    worker, reporter = worker_for(
        broker, source, probe(statement), limits=JailLimits(memory_mb=1024)
    )
    assert worker.run() == "failed"
    assert "memory" in reporter.error and "1024 MiB" in reporter.error, reporter.error


def test_stop_during_fit_kills_the_trainer_and_ends_stopped(broker, source):
    stop = threading.Event()
    worker, reporter = worker_for(
        broker, source, probe("import time; time.sleep(0.05)"), epochs=1000, stop_event=stop
    )
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("status", worker.run()))
    thread.start()
    deadline = time.monotonic() + 120
    while not reporter.epochs and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.1)
    assert reporter.epochs, reporter.statuses
    stopped_at = time.monotonic()
    stop.set()
    thread.join(30)
    assert outcome.get("status") == "stopped"
    assert time.monotonic() - stopped_at < 10  # the fit is interrupted, not waited for
    assert [s for s, _ in reporter.statuses] == ["deployed", "stopped"]
    assert worker.trainer.proc.returncode is not None
    assert not worker.trainer.job_dir.exists()


def test_job_description_round_trip_keeps_literal_kwargs():
    settings = TrainingSettings(
        kwargs_fit={"epochs": 2, "class_weight": {0: 1.0, 1: 2.5}}, kwargs_val={"steps": None}
    )
    description = protocol.JobDescription(
        "tensorflow", (protocol.ModelCode("m", "import tensorflow as tf", "model = 1"),), settings
    )
    back = protocol.JobDescription.from_json(description.to_json())
    assert back == description
    assert back.settings.kwargs_fit["class_weight"] == {0: 1.0, 1: 2.5}


def test_bad_event_lines_are_refused():
    assert protocol.decode(b'{"event": "ready"}\n', "event") == {"event": "ready"}
    for line in (b"not json\n", b'{"event": "shell"}\n', b"[1]\n", b'{"cmd": "fit"}\n'):
        with pytest.raises(protocol.ProtocolError):
            protocol.decode(line, "event")


def _exported(root, files):
    directory = root / "v1" / "0"
    directory.mkdir(parents=True)
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return directory


def test_artifacts_are_copied_without_following_what_the_trainer_planted(tmp_path):
    secret = tmp_path / "db.sqlite3"
    secret.write_bytes(b"the platform's database")
    out = tmp_path / "out"
    good = {"metadata.json": b"{}", "model.onnx": b"onnx", "model.pt": b"pt"}
    directory = _exported(out, good)
    copied = copy_artifacts(out, ["v1", "0"], tmp_path / "copy", [1 << 20])
    assert {p.name: p.read_bytes() for p in copied.iterdir()} == good

    budget = [1 << 20]
    # a symlink to a platform file, as the artifact or as a directory on the way
    (directory / "model.onnx").unlink()
    (directory / "model.onnx").symlink_to(secret)
    with pytest.raises(TrainingError, match="model.onnx"):
        copy_artifacts(out, ["v1", "0"], tmp_path / "c1", budget)
    (directory / "model.onnx").unlink()
    os.link(secret, directory / "model.onnx")  # a hard link to it
    with pytest.raises(TrainingError, match="not a plain file"):
        copy_artifacts(out, ["v1", "0"], tmp_path / "c2", budget)
    (directory / "model.onnx").unlink()
    os.mkfifo(directory / "model.onnx")  # would block a plain open() forever
    with pytest.raises(TrainingError, match="not a plain file"):
        copy_artifacts(out, ["v1", "0"], tmp_path / "c3", budget)
    (directory / "model.onnx").unlink()
    (directory / "model.onnx").write_bytes(b"x" * 100)
    linked = tmp_path / "out2"
    (linked / "v1").mkdir(parents=True)
    (linked / "v1" / "0").symlink_to(directory)
    with pytest.raises(OSError):
        copy_artifacts(linked, ["v1", "0"], tmp_path / "c4", budget)
    with pytest.raises(TrainingError, match="larger than"):
        copy_artifacts(out, ["v1", "0"], tmp_path / "c5", [50])
    assert secret.read_bytes() == b"the platform's database"


def test_default_limits_have_no_wall_clock_and_a_memory_cap(monkeypatch):
    from model_training import settings

    limits = settings.trainer_limits()
    assert limits.wall_s is None and limits.memory_mb >= 2048
    monkeypatch.setenv("KAFKAML_TRAINING_MEMORY_MB", "3000")
    monkeypatch.setenv("KAFKAML_TRAINING_WALL_S", "600")
    limits = settings.trainer_limits()
    assert (limits.memory_mb, limits.wall_s) == (3000, 600)
    assert "KAFKAML_API_TOKEN" not in settings.trainer_env()
    assert not [k for k in settings.trainer_env() if k.startswith("KAFKAML")]
