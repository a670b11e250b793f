"""``python -m model_training.sandboxed --job-dir DIR --input-dir DIR``: the sandboxed trainer.

The only process of a training workload that runs user code. The privileged worker
(``model_training.worker``) starts it inside the jail (``mlcode_executor.jail.spawn``: its own
uid, no network, no credential in its environment) and drives it through the contract of
``model_training.protocol``: it builds the models from ``in/job.json`` at once (reporting
``ready`` or the user's error), then fits, evaluates and exports on the arrays the worker writes
into the input dir, answering each command on the event pipe. It knows nothing of Kafka or the
backend. It exits when its stdin closes (the worker is gone) or on ``exit``.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import re
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

import numpy as np

from model_training import protocol

log = logging.getLogger("model_training.sandboxed")

# Keras imports these only to offer optional wrappers (scikit-learn estimators, image
# galleries) that a trainer never uses; blocking them while TensorFlow loads saves ~1.9 s of a
# ~4.5 s start. User code may still import them afterwards.
_OPTIONAL_AT_START = ("sklearn", "matplotlib", "matplotlib.pyplot")
_USER_FILES = {"<model code>": "code", "<model imports>": "imports"}
_AUTOGRAPH_FRAME = re.compile(r'File "<model (code|imports)>", line (\d+)')
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Keras styles its messages for a terminal


class Events:
    """The event pipe (the process's original stdout)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, event: str, **fields: Any) -> None:
        line = protocol.encode({"event": event, **fields})
        with self.lock:
            self.stream.write(line)
            self.stream.flush()


def take_stdout() -> IO[bytes]:
    """Keep fd 1 for events and point fd 1 (``print``, C libraries) at stderr."""
    events = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    return events


def import_framework(framework: str) -> None:
    """Load the framework first thing: it is most of the trainer's start."""
    if framework != "tensorflow":
        import ignite  # noqa: F401
        import torch  # noqa: F401

        return
    blocked = {name: sys.modules.get(name) for name in _OPTIONAL_AT_START}
    for name in _OPTIONAL_AT_START:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: ImportError
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        for name, module in blocked.items():
            if module is None and sys.modules.get(name, 0) is None:
                del sys.modules[name]


def user_line(exc: BaseException, job: protocol.JobDescription) -> dict[str, Any] | None:
    """The innermost frame of the user's code in ``exc``'s traceback: model, section, line."""
    found = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        section = _USER_FILES.get(frame.f_code.co_filename)
        if section is not None:
            found = (frame.f_globals, section, lineno)
    if found is None:  # errors raised while TensorFlow traced the code quote the user's frame
        matches = _AUTOGRAPH_FRAME.findall(str(exc))
        if not matches:
            return None
        section, line = matches[-1]
        found = ({}, section, int(line))
    namespace, section, lineno = found
    index = _model_of(namespace, section, job)
    model = job.models[index] if index is not None else None
    text = getattr(model, section) if model is not None else ""
    lines = text.splitlines()
    return {
        "model": model.name if model is not None else None,
        "section": section,
        "line": lineno,
        "source_line": lines[lineno - 1].strip() if 0 < lineno <= len(lines) else None,
    }


def _model_of(namespace: dict, section: str, job: protocol.JobDescription) -> int | None:
    if len(job.models) == 1:
        return 0
    sources = namespace.get("__kafkaml_sources__")  # set by mlcode_executor.usercode
    text = getattr(sources, "text", {}).get(section) if sources is not None else None
    for i, model in enumerate(job.models):
        if text is not None and getattr(model, section) == text:
            return i
    return None


def describe_error(exc: BaseException, job: protocol.JobDescription) -> dict[str, Any]:
    where = user_line(exc, job) if job is not None else None
    text = _ANSI.sub("", str(exc)).strip()
    message = f"{type(exc).__name__}: {text or type(exc).__name__}"
    from_user = getattr(exc, "line", None) is not None and hasattr(exc, "to_dict")
    if from_user:  # mlcode_executor.usercode.UserCodeError: already located
        message = str(exc)
    elif where is not None:
        name = f"model {where['model']!r}, " if len(job.models) > 1 and where["model"] else ""
        quoted = f": {where['source_line']}" if where["source_line"] else ""
        message += f" ({name}{where['section']} line {where['line']}{quoted})"
    return {
        "message": message[:8000],
        "user_line": where,
        "traceback": "".join(traceback.format_exception(exc))[-20000:],
    }


class Trainer:
    """Builds the models and answers the worker's commands."""

    #: the commands ``command_reader`` accepts (``exit`` included)
    commands: tuple[str, ...] = protocol.COMMANDS

    def __init__(
        self, job_dir: Path, input_dir: Path, job: protocol.JobDescription, events: Events
    ) -> None:
        self.job_dir = job_dir
        self.input = input_dir
        self.output = job_dir / protocol.OUTPUT_DIR
        self.job = job
        self.events = events
        self.trainer = None
        self._data: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def build(self) -> None:
        from mlcode_executor.usercode import build_model
        from model_training.trainers import get_trainer

        import_framework(self.job.framework)
        models = []
        for spec in self.job.models:
            try:
                models.append(build_model(self.job.framework, spec.imports, spec.code))
            except Exception as exc:
                raise BuildError(f"model {spec.name!r} could not be built: {exc}") from exc
        self.trainer = get_trainer(self.job.framework)(models, self.job.settings)

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._data:
            self._data.clear()  # one data set at a time (incremental windows replace each other)
            fx, fy = protocol.data_files(name)
            self._data[name] = (
                np.load(self.input / fx, mmap_mode="r", allow_pickle=False),
                np.load(self.input / fy, mmap_mode="r", allow_pickle=False),
            )
        return self._data[name]

    def split(self, name: str, bounds) -> Any:
        from model_training.dataset import Split

        x, y = self.arrays(name)
        start, stop = (int(b) for b in bounds)
        return Split(x[start:stop], y[start:stop])

    # -- commands -------------------------------------------------------------------------
    def handlers(self) -> dict[str, Any]:
        """What answers each command but ``exit``."""
        return {
            "fit": self.fit,
            "pseudo_label": self.pseudo_label,
            "evaluate": self.evaluate,
            "export": self.export,
        }

    def fit(self, cmd: dict) -> dict:
        train = self.split(cmd["data"], cmd["train"])
        val = self.split(cmd["data"], cmd["val"]) if cmd.get("val") else None
        offset = int(cmd.get("epoch_offset", 0))

        def on_epoch(epoch: int, per_model: list[dict[str, float]]) -> None:
            self.events.send("epoch", epoch=offset + epoch, metrics=per_model)

        started = time.monotonic()
        last = self.trainer.fit(train, val, dict(self.job.settings.kwargs_fit), on_epoch)
        return {"last": last, "training_time": time.monotonic() - started}

    def pseudo_label(self, cmd: dict) -> dict:
        """Semi-supervised rounds: after the model trained on the labelled rows ``train`` of
        ``data``, label the samples of data set ``unlabelled`` the model is at least
        ``threshold`` confident about, and train again on the labelled rows plus those, for
        ``rounds`` rounds. Runs here, beside the user's code, never in the worker."""
        train = self.split(cmd["data"], cmd["train"])
        val = self.split(cmd["data"], cmd["val"]) if cmd.get("val") else None
        fx, _ = protocol.data_files(str(cmd["unlabelled"]))
        unlabelled = np.load(self.input / fx, mmap_mode="r", allow_pickle=False)
        threshold = float(cmd["threshold"])
        offset = int(cmd.get("epoch_offset", 0))
        x_l, y_l = np.asarray(train.x), np.asarray(train.y)
        last: list[dict[str, float]] = []
        rounds: list[dict[str, Any]] = []
        started = time.monotonic()
        for round_ in range(1, int(cmd["rounds"]) + 1):
            probs = _probabilities(self.trainer.predict(np.asarray(unlabelled))[-1])
            confident = probs.max(axis=1) >= threshold if len(probs) else np.zeros(0, bool)
            pseudo = probs.argmax(axis=1)[confident].astype(y_l.dtype).reshape(-1, *y_l.shape[1:])
            if not confident.any():
                rounds.append({"round": round_, "pseudo_labelled": 0})
                break
            x = np.concatenate([x_l, np.asarray(unlabelled)[confident].astype(x_l.dtype)])
            y = np.concatenate([y_l, pseudo])
            order = np.random.default_rng(round_).permutation(len(x))

            def on_epoch(epoch: int, per_model: list[dict[str, float]], base=offset) -> None:
                self.events.send("epoch", epoch=base + epoch, metrics=per_model)

            from model_training.dataset import Split

            kwargs = dict(self.job.settings.kwargs_fit)
            last = self.trainer.fit(Split(x[order], y[order]), val, kwargs, on_epoch)
            offset += int(kwargs.get("epochs", 1) or 1)
            rounds.append(
                {
                    "round": round_,
                    "pseudo_labelled": int(confident.sum()),
                    # the metrics after this round's fit (of the last sub-model)
                    "metrics": {k: float(v) for k, v in (last[-1] if last else {}).items()},
                }
            )
            log.info("pseudo-labelling round %d: %d samples", round_, int(confident.sum()))
        return {"last": last, "rounds": rounds, "training_time": time.monotonic() - started}

    def evaluate(self, cmd: dict) -> dict:
        from model_training.artifacts import confusion_matrix

        test = self.split(cmd["data"], cmd["test"])
        n = len(self.trainer.models)
        if not len(test):
            return {"metrics": [{} for _ in range(n)], "matrices": [None] * n}
        metrics = self.trainer.evaluate(test, dict(self.job.settings.kwargs_val))
        matrices = [None] * n
        if cmd.get("confusion_matrix"):
            matrices = [confusion_matrix(test.y, s) for s in self.trainer.predict(test.x)]
        return {"metrics": metrics, "matrices": matrices}

    def export(self, cmd: dict) -> dict:
        from model_training.artifacts import write_metadata

        name = str(cmd["name"])
        if not name.replace("-", "").isalnum():
            raise ValueError(f"bad export name {name!r}")
        target = self.output / name
        target.mkdir(parents=True, exist_ok=False)
        sample = np.asarray(self.split(cmd["data"], cmd["sample"]).x)
        exported = self.trainer.export(target, sample)
        # further formats (h5, state_dict, TensorFlow Lite): calibrated on training rows
        # ``representative`` and evaluated on the test rows ``test`` when the worker sends them
        representative = sample
        if cmd.get("representative"):
            representative = np.asarray(self.split(cmd["data"], cmd["representative"]).x)
        test = self.split(cmd["data"], cmd["test"]) if cmd.get("test") else None
        self.trainer.export_formats(exported, representative, test)
        extras = list(cmd.get("extras") or [])
        for i, item in enumerate(exported):
            write_metadata(
                item,
                framework=self.trainer.framework,
                framework_version=self.trainer.framework_version(),
                version=int(cmd["version"]),
                input_format=cmd["input_format"],
                input_config=cmd["input_config"],
                extra=extras[i] if i < len(extras) else {},
            )
        return {"dir": name, "models": [item.directory.name for item in exported]}


def _probabilities(out: np.ndarray) -> np.ndarray:
    """Class probabilities from a classifier's output: kept when the rows already are
    probabilities (softmax), else a softmax of the logits; one unit means sigmoid."""
    out = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
    if out.shape[1] == 1:
        p = out[:, 0]
        if p.min(initial=0) < 0 or p.max(initial=1) > 1:
            p = 1 / (1 + np.exp(-p))
        return np.stack([1 - p, p], axis=1)
    if out.size and out.min() >= 0 and np.allclose(out.sum(axis=1), 1, atol=1e-3):
        return out
    out = np.exp(out - out.max(axis=1, keepdims=True))
    return out / out.sum(axis=1, keepdims=True)


class BuildError(RuntimeError):
    pass


def command_reader(
    stream: IO[bytes], commands: queue.Queue, allowed: tuple[str, ...] = protocol.COMMANDS
) -> None:
    """Feed commands to the main thread; exit the whole process when the worker goes away."""
    for line in stream:
        try:
            commands.put(protocol.decode(line, "cmd", allowed))
        except protocol.ProtocolError as exc:
            log.error("ignoring a bad command: %s", exc)
    os._exit(0)  # stdin closed: the worker is gone (or done), nothing may outlive it


def serve(trainer: Trainer, events: Events, commands: queue.Queue) -> int:
    handlers = trainer.handlers()
    while True:
        cmd = commands.get()
        if cmd["cmd"] == "exit":
            return 0
        try:
            result = handlers[cmd["cmd"]](cmd)
        except BaseException as exc:  # user code may raise SystemExit etc.
            log.error("%s failed: %s", cmd["cmd"], exc)
            events.send("error", id=cmd.get("id"), **describe_error(exc, trainer.job))
            continue
        events.send("done", id=cmd.get("id"), **result)


def main(
    argv: list[str] | None = None,
    *,
    trainer_class: type[Trainer] = Trainer,
    prog: str = "python -m model_training.sandboxed",
) -> int:
    """The trainer's start: events on the original stdout, the job, the command reader, the
    build (``ready`` or the error), then the commands until ``exit``. The federated site's
    trainer (``model_training.federated.sandboxed_site``) starts here too, with its class."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--job-dir", required=True, type=Path, help="where artifacts go")
    parser.add_argument("--input-dir", required=True, type=Path, help="job.json and the data")
    args = parser.parse_args(argv)
    events = Events(take_stdout())
    job = protocol.JobDescription.read(args.input_dir)
    logging.basicConfig(
        level=job.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(var, str(job.threads))
    commands: queue.Queue = queue.Queue()
    reader = (sys.stdin.buffer, commands, trainer_class.commands)
    threading.Thread(target=command_reader, args=reader, daemon=True).start()
    trainer = trainer_class(args.job_dir, args.input_dir, job, events)
    started = time.monotonic()
    try:
        trainer.build()
    except BaseException as exc:  # the worker must hear about any failure
        cause = exc.__cause__ if isinstance(exc, BuildError) and exc.__cause__ else exc
        details = describe_error(cause, job)
        details["message"] = str(exc) if isinstance(exc, BuildError) else details["message"]
        events.send("error", id=None, **details)
        return 1
    events.send(
        "ready",
        models=len(trainer.trainer.models),
        framework_version=trainer.trainer.framework_version(),
        start_time=time.monotonic() - started,
    )
    return serve(trainer, events, commands)


if __name__ == "__main__":
    sys.exit(main())
