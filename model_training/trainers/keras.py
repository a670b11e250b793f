"""Keras (TensorFlow backend) trainer: ``fit`` with the deployment's kwargs.

Models the user compiled are trained as compiled; others are compiled from the deployment's
``optimizer``/``learning_rate``/``loss``/``metrics``. A chain is composed into one functional
model with one named output per sub-model (``m0``, ``m1``, ...) and a loss on each.
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

_configured = False


def _configure_tensorflow() -> None:
    global _configured
    if _configured:
        return
    _configured = True
    import tensorflow as tf

    n = worker_settings.threads()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # already initialised by an earlier model in this process
        pass


def _outputs(result) -> tuple:
    """A sub-model's call result as ``(to_upper, output)``; the top model may return one."""
    if isinstance(result, dict):
        result = list(result.values())
    if isinstance(result, list | tuple):
        if len(result) == 2:
            return result[0], result[1]
        if len(result) == 1:
            return None, result[0]
        raise ValueError(f"a chained model must return (to_upper, output), got {len(result)}")
    return None, result


class KerasTrainer(Trainer):
    framework = "tensorflow"

    def __init__(self, models, settings) -> None:
        super().__init__(models, settings)
        _configure_tensorflow()
        import keras

        self.keras = keras
        if not self.distributed:
            self.model = self.models[0]
            if not getattr(self.model, "compiled", False) or self.model.optimizer is None:
                self.model.compile(
                    optimizer=self._optimizer(),
                    loss=settings.loss,
                    metrics=list(settings.metrics),
                )
            self.names = None
            return
        self.names = [f"m{i}" for i in range(len(self.models))]
        self.model = self._compose()

    # -- building -------------------------------------------------------------------------
    def _optimizer(self, template=None):
        keras = self.keras
        if template is not None:
            return template.__class__.from_config(template.get_config())
        optimizer = keras.optimizers.get(self.settings.optimizer)
        return optimizer.__class__(learning_rate=self.settings.learning_rate)

    def _compose(self):
        keras = self.keras
        first = self.models[0]
        inputs = keras.Input(shape=tuple(first.inputs[0].shape[1:]), dtype=first.inputs[0].dtype)
        outputs, losses = {}, {}
        current = inputs
        for i, (name, sub) in enumerate(zip(self.names, self.models, strict=True)):
            to_upper, output = _outputs(sub(current))
            if to_upper is None and i < len(self.models) - 1:
                raise ValueError(f"sub-model {i} ({sub.name}) must return (to_upper, output)")
            outputs[name] = output
            losses[name] = self._loss_of(sub)
            current = to_upper
        template = next(
            (m.optimizer for m in self.models if getattr(m, "compiled", False) and m.optimizer),
            None,
        )
        model = keras.Model(inputs, outputs, name="kafkaml_chain")
        model.compile(
            optimizer=self._optimizer(template),
            loss=losses,
            metrics={name: list(self.settings.metrics) for name in self.names},
        )
        return model

    def _loss_of(self, sub):
        loss = getattr(sub, "loss", None) if getattr(sub, "compiled", False) else None
        if isinstance(loss, list | tuple):
            loss = next((item for item in reversed(loss) if item is not None), None)
        elif isinstance(loss, dict):
            loss = list(loss.values())[-1] if loss else None
        return loss or self.settings.loss

    def _targets(self, y):
        return y if not self.distributed else {name: y for name in self.names}

    def _per_model(self, logs: dict) -> list[dict[str, float]]:
        logs = scalar_metrics(logs)
        if not self.distributed:
            return [logs]
        per = [{} for _ in self.names]
        for key, value in logs.items():
            prefix = "val_" if key.startswith("val_") else ""
            bare = key[len(prefix) :]
            for i, name in enumerate(self.names):
                if bare.startswith(name + "_"):
                    per[i][prefix + bare[len(name) + 1 :]] = value
        return per

    # -- Trainer --------------------------------------------------------------------------
    def fit(self, train: Split, val: Split | None, kwargs: dict, on_epoch: EpochCallback):
        keras = self.keras
        has_val = val is not None and len(val) > 0
        kwargs = clean_fit_kwargs(kwargs, has_val)
        kwargs.setdefault("batch_size", self.settings.batch)
        kwargs.setdefault("epochs", 1)
        kwargs.setdefault("verbose", 2)
        trainer = self
        last: list[dict[str, float]] = []

        class _Report(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                nonlocal last
                last = trainer._per_model(logs or {})
                on_epoch(epoch + 1, last)

        callbacks = list(kwargs.pop("callbacks", []) or []) + [_Report()]
        validation = (val.x, self._targets(val.y)) if has_val else None
        self.model.fit(
            train.x,
            self._targets(train.y),
            validation_data=validation,
            callbacks=callbacks,
            **kwargs,
        )
        return last

    def evaluate(self, test: Split, kwargs: dict | None = None):
        kwargs = clean_fit_kwargs(kwargs or {})
        kwargs.setdefault("batch_size", max(self.settings.batch, 256))
        kwargs.setdefault("verbose", 0)
        kwargs.pop("return_dict", None)
        logs = self.model.evaluate(test.x, self._targets(test.y), return_dict=True, **kwargs)
        return self._per_model(logs)

    def predict(self, x: np.ndarray) -> list[np.ndarray]:
        out = self.model.predict(x, batch_size=max(self.settings.batch, 256), verbose=0)
        if not self.distributed:
            return [np.asarray(_outputs(out)[1] if isinstance(out, list | tuple) else out)]
        return [np.asarray(out[name]) for name in self.names]

    def export(self, directory: Path, sample: np.ndarray) -> list[Exported]:
        exported = []
        current = np.asarray(sample, dtype="float32")
        for i, sub in enumerate(self.models):
            target = Path(directory) / str(i)
            target.mkdir(parents=True, exist_ok=True)
            sub.save(target / "model.keras")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sub.export(str(target / "model.onnx"), format="onnx", verbose=False)
            out = sub(current, training=False)
            reference = [np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])]
            exported.append(Exported(target, "model.keras", current, reference))
            to_upper, _ = _outputs(out)
            if to_upper is not None:
                current = np.asarray(to_upper, dtype="float32")
        return exported

    def export_formats(self, exported, representative, test) -> None:
        """``model.h5`` (legacy Keras HDF5) for every sub-model; TensorFlow Lite float and int8
        for a single model, both evaluated on ``test`` (``tflite`` in the metadata)."""
        for sub, item in zip(self.models, exported, strict=True):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # Keras calls HDF5 legacy
                    sub.save(item.directory / "model.h5")
                item.files["h5"] = "model.h5"
            except Exception as exc:  # e.g. a subclassed model: recorded, not fatal
                log.warning("no .h5 export: %s", exc)
                (item.directory / "model.h5").unlink(missing_ok=True)
                item.info["h5_error"] = f"{type(exc).__name__}: {exc}"[:2000]
        if self.distributed:
            for item in exported:
                item.info["tflite"] = {"skipped": "distributed chains are not converted"}
            return
        from model_training import tinyml

        rows = np.asarray(representative[: tinyml.REPRESENTATIVE_ROWS], dtype="float32")
        split = (np.asarray(test.x, dtype="float32"), np.asarray(test.y)) if test else None
        files, info = tinyml.export(self.model, exported[0].directory, rows, split)
        exported[0].files.update(files)
        exported[0].info["tflite"] = info

    def framework_version(self) -> str:
        import tensorflow as tf

        return f"tensorflow {tf.__version__}, keras {self.keras.__version__}"
