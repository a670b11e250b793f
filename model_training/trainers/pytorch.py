"""PyTorch trainer on pytorch-ignite, driven by the model's own ``loss_fn()``,
``optimizer()`` and ``metrics()`` methods (the Kafka-ML model convention).

One process function serves a single model and a chain alike: the chain's forward pass feeds
each sub-model the previous one's ``to_upper``, and the loss is the sum of every sub-model's
loss on its ``output``. Metrics are the model's ignite metrics, updated during the epoch on the
training batches (as Keras does) and on the validation split after each epoch.

Inputs are fed as float32 and integer labels as int64 (what ``nn.Linear`` and
``CrossEntropyLoss`` expect), whatever the record dtype was.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from model_training import settings as worker_settings
from model_training.dataset import Split
from model_training.trainers.base import (
    EpochCallback,
    Exported,
    Trainer,
    clean_fit_kwargs,
    scalar_metrics,
)

log = logging.getLogger(__name__)


def _split_output(result):
    if isinstance(result, list | tuple):
        if len(result) == 2:
            return result[0], result[1]
        if len(result) == 1:
            return None, result[0]
        raise ValueError(f"a chained model must return (to_upper, output), got {len(result)}")
    return None, result


class _Batches:
    """Minimal re-iterable batch source (much faster than a DataLoader over a TensorDataset)."""

    def __init__(self, x, y, batch_size, shuffle, seed, drop_last: bool = False) -> None:
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.drop_last = drop_last
        import torch

        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.x) // self.batch_size
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        import torch

        n = len(self.x)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = start + self.batch_size
            if order is None:
                yield self.x[start:stop], self.y[start:stop]
            else:
                idx = order[start:stop]
                yield self.x[idx], self.y[idx]


class TorchTrainer(Trainer):
    framework = "pytorch"

    def __init__(self, models, settings) -> None:
        super().__init__(models, settings)
        import torch

        torch.set_num_threads(worker_settings.threads())
        self.torch = torch
        for i, model in enumerate(self.models):
            if not isinstance(model, torch.nn.Module):
                raise TypeError(f"model {i} is a {type(model).__name__}, not a torch.nn.Module")
        self.loss_fns = [self._loss_fn(m) for m in self.models]
        self.optimizers = self._optimizers()

    # -- the model convention -------------------------------------------------------------
    def _loss_fn(self, model):
        if callable(getattr(model, "loss_fn", None)):
            return model.loss_fn()
        return self.torch.nn.CrossEntropyLoss()

    def _optimizers(self):
        optimizers = []
        for model in self.models:
            if callable(getattr(model, "optimizer", None)):
                optimizers.append(model.optimizer())
            else:
                name = self.settings.optimizer.lower()
                classes = {c.lower(): getattr(self.torch.optim, c) for c in dir(self.torch.optim)}
                cls = classes.get(name, self.torch.optim.Adam)
                optimizers.append(cls(model.parameters(), lr=self.settings.learning_rate))
        return optimizers

    def _metrics(self, index: int) -> dict:
        model = self.models[index]
        if callable(getattr(model, "metrics", None)):
            metrics = model.metrics()
            if not isinstance(metrics, dict):
                raise TypeError("metrics() must return a dict of name -> ignite Metric")
            return dict(metrics)
        from ignite.metrics import Accuracy, Loss

        return {"loss": Loss(self.loss_fns[index]), "accuracy": Accuracy()}

    # -- data -----------------------------------------------------------------------------
    def _tensors(self, split: Split):
        torch = self.torch
        x = torch.from_numpy(np.ascontiguousarray(split.x, dtype=np.float32))
        y = np.asarray(split.y)
        if y.dtype.kind in "biu":
            y = y.astype(np.int64)
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
        else:
            y = y.astype(np.float32)
        return x, torch.from_numpy(np.ascontiguousarray(y))

    def _forward(self, x) -> list:
        outputs = []
        current = x
        for i, model in enumerate(self.models):
            to_upper, output = _split_output(model(current))
            outputs.append(output)
            if i < len(self.models) - 1:
                if to_upper is None:
                    raise ValueError(f"sub-model {i} must return (to_upper, output)")
                current = to_upper
        return outputs

    # -- Trainer --------------------------------------------------------------------------
    def fit(self, train: Split, val: Split | None, kwargs: dict, on_epoch: EpochCallback):
        from ignite.engine import Engine, Events

        torch = self.torch
        has_val = val is not None and len(val) > 0
        kwargs = clean_fit_kwargs(kwargs, has_val)
        epochs = int(kwargs.pop("epochs", kwargs.pop("max_epochs", 1)))
        batch_size = int(kwargs.pop("batch_size", self.settings.batch))
        shuffle = bool(kwargs.pop("shuffle", True))
        drop_last = bool(kwargs.pop("drop_last", False))
        epoch_length = kwargs.pop("epoch_length", None)
        validation_split = float(kwargs.pop("validation_split", 0) or 0)
        kwargs.pop("verbose", None)
        if kwargs:
            log.warning("ignoring PyTorch fit arguments %s", sorted(kwargs))
        if not has_val and 0 < validation_split < 1:  # like Keras: the last share of the data
            cut = len(train) - int(round(len(train) * validation_split))
            train, val, has_val = (
                Split(train.x[:cut], train.y[:cut]),
                Split(train.x[cut:], train.y[cut:]),
                True,
            )
        x, y = self._tensors(train)
        batches = _Batches(x, y, batch_size, shuffle, self.settings.seed, drop_last)
        val_tensors = self._tensors(val) if has_val else None
        train_metrics = [self._metrics(i) for i in range(len(self.models))]

        def step(engine, batch):
            for model in self.models:
                model.train()
            xb, yb = batch
            for optimizer in self.optimizers:
                optimizer.zero_grad()
            outputs = self._forward(xb)
            loss = sum(fn(out, yb) for fn, out in zip(self.loss_fns, outputs, strict=True))
            loss.backward()
            for optimizer in self.optimizers:
                optimizer.step()
            with torch.no_grad():
                for metrics, out in zip(train_metrics, outputs, strict=True):
                    for metric in metrics.values():
                        metric.update((out.detach(), yb))
            return loss.item()

        engine = Engine(step)
        last: list[dict[str, float]] = []

        @engine.on(Events.EPOCH_STARTED)
        def _reset(_):
            for metrics in train_metrics:
                for metric in metrics.values():
                    metric.reset()

        @engine.on(Events.EPOCH_COMPLETED)
        def _report(eng):
            nonlocal last
            per = [
                scalar_metrics({name: m.compute() for name, m in metrics.items()})
                for metrics in train_metrics
            ]
            if val_tensors is not None:
                for mine, theirs in zip(per, self._evaluate(*val_tensors), strict=True):
                    mine.update({f"val_{k}": v for k, v in theirs.items()})
            last = per
            log.info("epoch %d/%d: %s", eng.state.epoch, epochs, per)
            on_epoch(eng.state.epoch, per)

        engine.run(batches, max_epochs=epochs, epoch_length=epoch_length)
        return last

    def _evaluate(self, x, y, batch_size: int | None = None) -> list[dict[str, float]]:
        torch = self.torch
        metrics = [self._metrics(i) for i in range(len(self.models))]
        for m in metrics:
            for metric in m.values():
                metric.reset()
        for model in self.models:
            model.eval()
        with torch.no_grad():
            for xb, yb in _Batches(x, y, batch_size or max(self.settings.batch, 256), False, None):
                for m, out in zip(metrics, self._forward(xb), strict=True):
                    for metric in m.values():
                        metric.update((out, yb))
        return [scalar_metrics({n: metric.compute() for n, metric in m.items()}) for m in metrics]

    def evaluate(self, test: Split, kwargs: dict | None = None):
        kwargs = dict(kwargs or {})
        return self._evaluate(*self._tensors(test), batch_size=kwargs.get("batch_size"))

    def predict(self, x: np.ndarray) -> list[np.ndarray]:
        torch = self.torch
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        for model in self.models:
            model.eval()
        chunks: list[list[np.ndarray]] = [[] for _ in self.models]
        with torch.no_grad():
            for start in range(0, len(xt), 1024):
                for i, out in enumerate(self._forward(xt[start : start + 1024])):
                    chunks[i].append(out.numpy())
        return [np.concatenate(c) for c in chunks]

    def export(self, directory: Path, sample: np.ndarray) -> list[Exported]:
        torch = self.torch
        exported = []
        current = torch.from_numpy(np.ascontiguousarray(sample, dtype=np.float32))
        for i, model in enumerate(self.models):
            model.eval()
            target = Path(directory) / str(i)
            target.mkdir(parents=True, exist_ok=True)
            with torch.no_grad():
                result = model(current)
            to_upper, _ = _split_output(result)
            two = isinstance(result, list | tuple) and len(result) == 2
            output_names = ["to_upper", "output"] if two else ["output"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(model, current, check_trace=False)
                traced.save(str(target / "model.pt"))
                torch.onnx.export(
                    model,
                    (current,),
                    str(target / "model.onnx"),
                    input_names=["input"],
                    output_names=output_names,
                    dynamic_axes={n: {0: "batch"} for n in ["input", *output_names]},
                    dynamo=False,
                )
            outs = list(result) if isinstance(result, list | tuple) else [result]
            reference = [o.detach().numpy() for o in outs]
            exported.append(Exported(target, "model.pt", current.numpy(), reference))
            if to_upper is not None:
                current = to_upper.detach().to(torch.float32)
        return exported

    def export_formats(self, exported, representative, test) -> None:
        """``model_state_dict.pt``: ``torch.save(model.state_dict())`` of every sub-model, to
        load into a fresh instance of the same code (``torch.load(weights_only=True)``)."""
        for model, item in zip(self.models, exported, strict=True):
            self.torch.save(model.state_dict(), item.directory / "model_state_dict.pt")
            item.files["state_dict"] = "model_state_dict.pt"

    def framework_version(self) -> str:
        import ignite

        return f"torch {self.torch.__version__}, pytorch-ignite {ignite.__version__}"
