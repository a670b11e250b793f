"""The one shape every framework trainer has.

A trainer trains a *chain* of one or more models: one model is a chain of length one; a
distributed edge→fog→cloud chain is trained as one composed model with a loss per sub-model
output. Metrics therefore always come as one dict per sub-model.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model_training.dataset import Split
from model_training.job import TrainingSettings

log = logging.getLogger(__name__)

#: ``on_epoch(epoch, metrics)``: epoch counts from 1; one metrics dict per sub-model.
EpochCallback = Callable[[int, list[dict[str, float]]], None]

#: fit() keywords the worker owns (the split is announced by the data source).
RESERVED_FIT_KWARGS = ("x", "y", "validation_data", "return_dict", "sample_weight")


@dataclass
class Exported:
    """One exported sub-model: its directory, native file name, and the sub-model's own
    outputs on ``sample`` (its input), against which the ONNX file is checked."""

    directory: Path
    native: str
    sample: np.ndarray
    reference: list[np.ndarray]
    #: further downloadable files by kind (``h5``, ``state_dict``, ``tflite``, ...)
    files: dict[str, str] = field(default_factory=dict)
    #: further ``metadata.json`` entries (e.g. ``tflite``: conversions and their accuracies)
    info: dict[str, Any] = field(default_factory=dict)


class Trainer(abc.ABC):
    framework: str = ""

    def __init__(self, models: Sequence[Any], settings: TrainingSettings) -> None:
        if not models:
            raise ValueError("nothing to train")
        self.models = list(models)
        self.settings = settings

    @property
    def distributed(self) -> bool:
        return len(self.models) > 1

    @abc.abstractmethod
    def fit(
        self, train: Split, val: Split | None, kwargs: dict, on_epoch: EpochCallback
    ) -> list[dict[str, float]]:
        """Train; returns the last epoch's metrics (train and ``val_*``) per sub-model."""

    @abc.abstractmethod
    def evaluate(self, test: Split, kwargs: dict | None = None) -> list[dict[str, float]]:
        """Metrics on ``test`` per sub-model."""

    @abc.abstractmethod
    def predict(self, x: np.ndarray) -> list[np.ndarray]:
        """The ``output`` of every sub-model for ``x`` (for the confusion matrix)."""

    @abc.abstractmethod
    def export(self, directory: Path, sample: np.ndarray) -> list[Exported]:
        """Write each sub-model's native file and ``model.onnx`` into ``directory/<i>/``.

        Returns one entry per sub-model, edge first. ``metadata.json`` is written by the
        caller (``model_training.artifacts``) from the ONNX graph.
        """

    def export_formats(
        self,
        exported: list[Exported],
        representative: np.ndarray,
        test: Split | None,
    ) -> None:
        """Write further formats next to each exported sub-model (recording them in its
        ``files``/``info``); ``representative``: training rows, ``test``: the test split.
        A format that fails is recorded, not raised."""
        return None

    @abc.abstractmethod
    def framework_version(self) -> str: ...


def clean_fit_kwargs(kwargs: dict, has_validation: bool = False) -> dict:
    """Drop what the worker supplies; ``validation_split`` only applies when the data source
    announced no validation share (the announced split wins)."""
    kwargs = dict(kwargs)
    if has_validation and "validation_split" in kwargs:
        log.warning("ignoring validation_split: the data source announced a validation split")
        kwargs.pop("validation_split")
    for key in RESERVED_FIT_KWARGS:
        if key in kwargs:
            log.warning("ignoring fit() argument %r: the worker sets it", key)
            kwargs.pop(key)
    return kwargs


def scalar_metrics(values: dict[str, Any]) -> dict[str, float]:
    """Keep the numbers (a metric may be a tensor or array: confusion matrices are not epochs)."""
    out = {}
    for name, value in values.items():
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            continue
        if arr.size == 1:
            out[str(name)] = float(arr.reshape(()))
    return out
