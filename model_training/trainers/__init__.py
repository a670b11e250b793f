"""Framework trainers behind one registry; framework imports stay inside each module."""

from __future__ import annotations

import importlib

from model_training.job import normalise_framework
from model_training.trainers.base import EpochCallback, Trainer

__all__ = ["EpochCallback", "Trainer", "get_trainer", "known_frameworks"]

_REGISTRY = {
    "tensorflow": "model_training.trainers.keras:KerasTrainer",
    "pytorch": "model_training.trainers.pytorch:TorchTrainer",
}


def known_frameworks() -> list[str]:
    return sorted(_REGISTRY)


def get_trainer(framework: str) -> type[Trainer]:
    """The trainer class for a framework name; unknown names raise ``ValueError``."""
    key = normalise_framework(framework)
    module, _, name = _REGISTRY[key].partition(":")
    return getattr(importlib.import_module(module), name)
