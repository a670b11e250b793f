"""Launchers register themselves on import; ``get_launcher`` picks one by settings."""

from __future__ import annotations

from functools import lru_cache

from .base import Launcher, LauncherError, WorkloadSpec, WorkloadStatus, launcher_class

__all__ = ["Launcher", "LauncherError", "WorkloadSpec", "WorkloadStatus", "get_launcher"]


def _import_launchers() -> None:
    from . import local  # noqa: F401

    try:
        from . import kubernetes  # noqa: F401
    except ImportError:  # the kubernetes client is optional on a laptop
        pass


@lru_cache(maxsize=4)
def get_launcher(name: str | None = None) -> Launcher:
    from django.conf import settings

    _import_launchers()
    return launcher_class(name or settings.KAFKAML_LAUNCHER)()
