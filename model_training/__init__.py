"""Training worker: reads an announced stream, trains Keras or PyTorch models, uploads artifacts.

Run as ``python -m model_training --result-id N`` (backend mode, launched by the Launcher) or
standalone with ``--model-file``; see ``docs/training.md``.
"""

from model_training.job import DatasourceSpec, ModelSpec, TrainingJob, TrainingSettings
from model_training.reporting import BackendReporter, MemoryReporter, Reporter

__all__ = [
    "BackendReporter",
    "DatasourceSpec",
    "MemoryReporter",
    "ModelSpec",
    "Reporter",
    "TrainingJob",
    "TrainingSettings",
]
