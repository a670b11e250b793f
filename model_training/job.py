"""What one training run needs, independent of where it came from (backend JSON or a test)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mlcode_executor.frameworks import ALIASES as FRAMEWORK_ALIASES  # noqa: F401
from mlcode_executor.frameworks import normalize_framework as normalise_framework


def parse_kwargs(value: Any, framework: str = "tensorflow", kind: str = "fit") -> dict:
    """Deployment kwargs arrive as a dict or as ``"epochs=5, shuffle=True"`` text.

    Both go through the platform's one literal-only parser and checker
    (``mlcode_executor.kwargs``), which rejects what the worker supplies itself.
    """
    if value is None or value == "" or value == {}:
        return {}
    from mlcode_executor.kwargs import parse_kwargs as parse_literal_kwargs

    return dict(parse_literal_kwargs(value, framework, kind))


def _json_obj(value: Any) -> dict:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        return dict(json.loads(value))
    return dict(value)


@dataclass(frozen=True)
class ModelSpec:
    """User model code; ``result_id`` is the result this (sub-)model reports to."""

    code: str
    framework: str = "tensorflow"
    imports: str = ""
    name: str = "model"
    id: int | None = None
    result_id: int | None = None


@dataclass(frozen=True)
class DatasourceSpec:
    """The fields of a control message (docs/protocol.md) the worker uses."""

    topic: str
    input_format: str = "RAW"
    input_config: dict = field(default_factory=dict)
    validation_rate: float = 0.0
    test_rate: float = 0.0
    total_msg: int | None = None
    incremental: bool = False
    description: str = ""
    unsupervised_topic: str | None = None  # unlabelled samples (semi-supervised training)

    @classmethod
    def from_message(cls, data: Mapping[str, Any]) -> DatasourceSpec:
        if not isinstance(data, Mapping) or not data.get("topic"):
            raise ValueError("control message has no 'topic'")
        total = data.get("total_msg")
        return cls(
            topic=str(data["topic"]),
            input_format=str(data.get("input_format") or "RAW").upper(),
            input_config=_json_obj(data.get("input_config")),
            validation_rate=float(data.get("validation_rate") or 0.0),
            test_rate=float(data.get("test_rate") or 0.0),
            total_msg=int(total) if total not in (None, "") else None,
            incremental=bool(data.get("incremental") or False),
            description=str(data.get("description") or ""),
            unsupervised_topic=str(data["unsupervised_topic"])
            if data.get("unsupervised_topic")
            else None,
        )


@dataclass(frozen=True)
class TrainingSettings:
    """Deployment settings. Keras models that are not compiled get ``optimizer`` etc."""

    batch: int = 32
    kwargs_fit: dict = field(default_factory=dict)
    kwargs_val: dict = field(default_factory=dict)
    confusion_matrix: bool = False
    optimizer: str = "adam"
    learning_rate: float = 0.001
    loss: str = "sparse_categorical_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    seed: int | None = None
    # incremental (unbounded) training
    incremental: bool = False
    window_size: int = 1000
    stream_timeout: float = 10.0  # seconds after a window's first record that close it
    monitoring_metric: str = "val_loss"
    change: str = "auto"  # "up" | "down" | "auto" (down for *loss*, else up)
    improvement: float = 0.0
    # "indefinite": until stopped; "time_limited": ends after stream_timeout s without data
    incremental_mode: str = "indefinite"
    # semi-supervised: pseudo-labelling rounds over the unsupervised topic (0: none)
    unsupervised_rounds: int = 0
    confidence_threshold: float = 0.9

    @classmethod
    def from_deployment(cls, dep: Mapping[str, Any], framework: str) -> TrainingSettings:
        prefix = "tf" if framework == "tensorflow" else "pth"

        def pick(*names: str, default: Any = None) -> Any:
            for name in names:
                if dep.get(name) not in (None, ""):
                    return dep[name]
            return default

        metrics = pick("metrics", default="accuracy")
        if isinstance(metrics, str):
            metrics = [m.strip() for m in metrics.split(",") if m.strip()]
        seed = pick("seed")
        return cls(
            batch=int(pick("batch", "batch_size", default=32)),
            kwargs_fit=parse_kwargs(
                pick("training_kwargs", "kwargs_fit", f"{prefix}_kwargs_fit"), framework, "fit"
            ),
            kwargs_val=parse_kwargs(
                pick("evaluation_kwargs", "kwargs_val", f"{prefix}_kwargs_val"),
                framework,
                "evaluate",
            ),
            confusion_matrix=bool(pick("confusion_matrix", "conf_mat_settings", default=False)),
            optimizer=str(pick("optimizer", default="adam")),
            learning_rate=float(pick("learning_rate", default=0.001)),
            loss=str(pick("loss", default="sparse_categorical_crossentropy")),
            metrics=tuple(metrics),
            seed=int(seed) if seed is not None else None,
            incremental=bool(pick("incremental", default=False)),
            window_size=int(pick("window_size", default=1000)),
            stream_timeout=float(pick("stream_timeout", default=10.0)),
            monitoring_metric=str(
                pick("monitored_metric", "monitoring_metric", default="val_loss")
            ),
            change=str(pick("change", default="auto")),
            improvement=float(pick("improvement", default=0.0)),
            incremental_mode=str(pick("incremental_mode", default="indefinite")),
            unsupervised_rounds=int(pick("unsupervised_rounds", default=0)),
            confidence_threshold=float(pick("confidence_threshold", default=0.9)),
        )


@dataclass(frozen=True)
class TrainingJob:
    """One training run: a model (or an edge→…→cloud chain, edge first) and its settings."""

    models: tuple[ModelSpec, ...]
    settings: TrainingSettings = field(default_factory=TrainingSettings)
    deployment_id: int | None = None
    result_id: int | None = None
    datasource: DatasourceSpec | None = None  # None: wait for the deployment's control message
    #: a federated deployment's settings and topic prefix (``model_training.federated``)
    federated: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("a training job needs at least one model")
        frameworks = {normalise_framework(m.framework) for m in self.models}
        if len(frameworks) != 1:
            raise ValueError(f"a chain mixes frameworks: {sorted(frameworks)}")

    @property
    def framework(self) -> str:
        return normalise_framework(self.models[0].framework)

    @property
    def distributed(self) -> bool:
        return len(self.models) > 1

    def with_datasource(self, datasource: DatasourceSpec) -> TrainingJob:
        return replace(self, datasource=datasource)

    @classmethod
    def from_backend(cls, data: Mapping[str, Any]) -> TrainingJob:
        """Build from ``GET /api/v1/worker/results/{id}/`` (docs/contracts.md)."""
        result_id = int(data["id"])
        chain = data.get("chain") or [data["model"]]
        models = []
        for entry in chain:
            model = entry.get("model", entry) if isinstance(entry, Mapping) else entry
            models.append(
                ModelSpec(
                    code=model["code"],
                    framework=model.get("framework") or "tensorflow",
                    imports=model.get("imports") or "",
                    name=model.get("name") or f"model-{model.get('id')}",
                    id=model.get("id"),
                    result_id=entry.get("result_id") or model.get("result_id") or result_id,
                )
            )
        deployment = data.get("deployment") or {}
        framework = normalise_framework(models[0].framework)
        datasource = data.get("datasource")
        return cls(
            models=tuple(models),
            settings=TrainingSettings.from_deployment(deployment, framework),
            deployment_id=deployment.get("id"),
            result_id=result_id,
            datasource=DatasourceSpec.from_message(datasource) if datasource else None,
            federated=data.get("federated") or None,
        )
