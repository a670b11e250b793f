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

import os
import sys
from pathlib import Path

import numpy as np

from model_training import protocol
from model_training import sandboxed as base
from model_training.federated.messages import load_weights, save_weights


class SiteTrainer(base.Trainer):
    #: the trainer's commands and the site's two
    commands = (*protocol.COMMANDS, "get_weights", "set_weights")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.global_weights: list[np.ndarray] | None = None

    def build(self) -> None:
        super().build()
        if len(self.trainer.models) != 1:
            raise base.BuildError("federated training takes one model, not a chain")

    def handlers(self) -> dict:
        """No ``pseudo_label`` here (answered as an error, as an unknown command)."""
        return {
            "fit": self.fit,
            "evaluate": self.evaluate,
            "export": self.export,
            "get_weights": self.get_weights,
            "set_weights": self.set_weights,
        }

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


def main(argv: list[str] | None = None) -> int:
    """``sandboxed.main`` (the same start) with the site's trainer."""
    return base.main(
        argv, trainer_class=SiteTrainer, prog="python -m model_training.federated.sandboxed_site"
    )


if __name__ == "__main__":
    sys.exit(main())
