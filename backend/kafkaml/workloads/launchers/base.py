"""The Launcher seam: one interface over local processes and Kubernetes workloads.

A training result runs as one workload (a process locally, a ``batch/v1`` Job on Kubernetes);
an inference runs as one workload with ``replicas`` copies (processes, or an ``apps/v1``
Deployment). Everything a launcher needs is in :class:`WorkloadSpec`, so both launchers build
the same thing from the same description.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Component = Literal["training", "inference"]
WorkloadState = Literal["pending", "running", "succeeded", "failed", "stopped", "unknown"]


class LauncherError(RuntimeError):
    """A launcher could not do what it was asked (unknown workload, API refused, ...)."""


@dataclass(frozen=True)
class Resources:
    cpu: str | None = None  # Kubernetes quantity, e.g. "500m"
    memory: str | None = None  # e.g. "2Gi"
    gpus: int = 0


@dataclass(frozen=True)
class WorkloadSpec:
    """What to run. ``command`` is an argv list (``python -m model_training ...``).

    ``env`` holds plain settings; ``secret_env`` names variables whose values are secrets
    (the worker's API token): the local launcher passes them in the process environment,
    the Kubernetes launcher reads them from a Secret and never writes them into an object.
    """

    name: str
    component: Component
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict)
    replicas: int = 1
    resources: Resources = field(default_factory=Resources)
    labels: dict[str, str] = field(default_factory=dict)
    framework: str | None = None  # "tensorflow" | "pytorch": picks the training image


@dataclass(frozen=True)
class WorkloadStatus:
    state: WorkloadState
    reason: str = ""
    replicas_desired: int = 0
    replicas_ready: int = 0
    restarts: int = 0


class Launcher(abc.ABC):
    """Start, stop, scale and observe workloads. Names are unique per launcher."""

    name: str = ""

    @abc.abstractmethod
    def launch(self, spec: WorkloadSpec) -> None: ...

    @abc.abstractmethod
    def stop(self, name: str) -> None:
        """Terminate the workload and forget it. Stopping an unknown name is not an error."""

    @abc.abstractmethod
    def scale(self, name: str, replicas: int) -> None: ...

    @abc.abstractmethod
    def status(self, name: str) -> WorkloadStatus: ...

    @abc.abstractmethod
    def logs(self, name: str, tail: int = 200) -> str: ...


_REGISTRY: dict[str, Callable[[], Launcher]] = {}


def register_launcher(key: str) -> Callable[[type[Launcher]], type[Launcher]]:
    def decorator(cls: type[Launcher]) -> type[Launcher]:
        if key in _REGISTRY:
            raise LauncherError(f"launcher {key!r} registered twice")
        cls.name = key
        _REGISTRY[key] = cls
        return cls

    return decorator


def launcher_class(key: str) -> Callable[[], Launcher]:
    if key not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise LauncherError(f"unknown launcher {key!r} (known: {known})")
    return _REGISTRY[key]
