"""``python -m model_training.federated.sandboxed_site``: the sandboxed trainer of a federated
site.

The jailed trainer of ``model_training.sandboxed`` (same start, same ``fit``/``evaluate``/
``export`` commands, same event pipe) plus three commands, so that the model code runs only
here and the privileged site process moves weights as ``.npz`` files:

- ``get_weights`` → writes ``out/<name>.npz`` (the model's weights, in order);
- ``set_weights`` ``file`` → loads ``<input>/<file>`` into the model;
- ``fit`` with ``proximal_mu`` > 0 (FedProx) adds ``μ (w − w_global)`` to each step: PyTorch
  through gradient hooks on the parameters (exactly the proximal term's gradient), Keras as a
  decoupled step after each batch (``w −= lr μ (w − w_global)``), ``w_global`` being the
  weights last set.

Federated training covers one model (not a distributed chain).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import threading
import time
from pathlib import Path

import numpy as np

from model_training import protocol
from model_training import sandboxed as base
from model_training.federated.messages import load_weights, save_weights

log = logging.getLogger("model_training.federated.sandboxed_site")


class SiteTrainer(base.Trainer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.global_weights: list[np.ndarray] | None = None

    @property
    def model(self):
        return self.trainer.models[0]

    def weights(self) -> list[np.ndarray]:
        if self.trainer.framework == "tensorflow":
            return [np.asarray(w) for w in self.model.get_weights()]
        return [v.detach().cpu().numpy().copy() for v in self.model.state_dict().values()]

    def load(self, weights: list[np.ndarray]) -> None:
        if self.trainer.framework == "tensorflow":
            self.model.set_weights(weights)
            return
        import torch

        state = self.model.state_dict()
        if len(state) != len(weights):
            raise ValueError(f"{len(weights)} arrays for a model of {len(state)}")
        new = {k: torch.as_tensor(np.asarray(w)) for k, w in zip(state, weights, strict=True)}
        self.model.load_state_dict(new)

    def get_weights(self, cmd: dict) -> dict:
        name = str(cmd["name"])
        if not name.replace("-", "").isalnum():
            raise ValueError(f"bad file name {name!r}")
        self.output.mkdir(parents=True, exist_ok=True)
        path = self.output / f"{name}.npz"
        save_weights(path, self.weights())
        os.chmod(path, 0o644)
        return {"file": path.name}

    def set_weights(self, cmd: dict) -> dict:
        name = Path(str(cmd["file"])).name
        weights = load_weights(self.input / name)
        self.load(weights)
        self.global_weights = [np.array(w) for w in weights]
        return {}

    def fit(self, cmd: dict) -> dict:
        mu = float(cmd.get("proximal_mu") or 0.0)
        if mu <= 0 or self.global_weights is None:
            return super().fit(cmd)
        if self.trainer.framework == "tensorflow":
            return self._fit_keras_prox(cmd, mu)
        return self._fit_torch_prox(cmd, mu)

    def _fit_torch_prox(self, cmd: dict, mu: float) -> dict:
        import torch

        state_keys = list(self.model.state_dict().keys())
        anchors = dict(zip(state_keys, self.global_weights, strict=True))
        handles = []
        for pname, param in self.model.named_parameters():
            if pname not in anchors or not param.requires_grad:
                continue
            anchor = torch.as_tensor(anchors[pname], dtype=param.dtype)

            def hook(grad, param=param, anchor=anchor):
                return grad + mu * (param.detach() - anchor)

            handles.append(param.register_hook(hook))
        try:
            return super().fit(cmd)
        finally:
            for h in handles:
                h.remove()

    def _fit_keras_prox(self, cmd: dict, mu: float) -> dict:
        import keras

        model = self.model
        anchors = list(self.global_weights)
        trainable = {id(v) for v in model.trainable_weights}
        index = [i for i, v in enumerate(model.weights) if id(v) in trainable]

        class Proximal(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
                for i in index:
                    var = model.weights[i]
                    w = keras.ops.convert_to_numpy(var)
                    var.assign(w - lr * mu * (w - anchors[i]))

        settings = self.job.settings
        original = dict(settings.kwargs_fit)
        object.__setattr__(
            settings, "kwargs_fit", {**original, "callbacks": [Proximal()]}
        )  # TrainingSettings is frozen; this process owns its copy
        try:
            return super().fit(cmd)
        finally:
            object.__setattr__(settings, "kwargs_fit", original)


SITE_COMMANDS = (*protocol.COMMANDS, "get_weights", "set_weights")


def command_reader(stream, commands: queue.Queue) -> None:
    """``sandboxed.command_reader`` with the site's commands besides the trainer's."""
    for line in stream:
        try:
            if len(line) > protocol.MAX_LINE:
                raise protocol.ProtocolError("command line too long")
            message = json.loads(line)
            if not isinstance(message, dict) or message.get("cmd") not in SITE_COMMANDS:
                raise protocol.ProtocolError(f"not a site command: {str(line[:200])}")
            commands.put(message)
        except (ValueError, protocol.ProtocolError) as exc:
            log.error("ignoring a bad command: %s", exc)
    os._exit(0)  # stdin closed: the site is gone (or done)


def serve(trainer: SiteTrainer, events: base.Events, commands: queue.Queue) -> int:
    handlers = {
        "fit": trainer.fit,
        "evaluate": trainer.evaluate,
        "export": trainer.export,
        "get_weights": trainer.get_weights,
        "set_weights": trainer.set_weights,
    }
    while True:
        cmd = commands.get()
        if cmd["cmd"] == "exit":
            return 0
        try:
            result = handlers[cmd["cmd"]](cmd)
        except BaseException as exc:  # user code may raise SystemExit etc.
            log.error("%s failed: %s", cmd["cmd"], exc)
            events.send("error", id=cmd.get("id"), **base.describe_error(exc, trainer.job))
            continue
        events.send("done", id=cmd.get("id"), **result)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m model_training.federated.sandboxed_site")
    parser.add_argument("--job-dir", required=True, type=Path)
    parser.add_argument("--input-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    events = base.Events(base.take_stdout())
    job = protocol.JobDescription.read(args.input_dir)
    logging.basicConfig(
        level=job.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(var, str(job.threads))
    commands: queue.Queue = queue.Queue()
    threading.Thread(target=command_reader, args=(sys.stdin.buffer, commands), daemon=True).start()
    trainer = SiteTrainer(args.job_dir, args.input_dir, job, events)
    started = time.monotonic()
    try:
        trainer.build()
        if len(trainer.trainer.models) != 1:
            raise base.BuildError("federated training takes one model, not a chain")
    except BaseException as exc:
        cause = exc.__cause__ if isinstance(exc, base.BuildError) and exc.__cause__ else exc
        details = base.describe_error(cause, job)
        details["message"] = str(exc) if isinstance(exc, base.BuildError) else details["message"]
        events.send("error", id=None, **details)
        return 1
    events.send(
        "ready",
        models=1,
        framework_version=trainer.trainer.framework_version(),
        start_time=time.monotonic() - started,
    )
    return serve(trainer, events, commands)


if __name__ == "__main__":
    sys.exit(main())
