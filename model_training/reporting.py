"""Where a run's progress goes: the backend, or memory (tests, standalone runs).

A worker holds one reporter per trained (sub-)model: a distributed chain reports each
sub-model's metrics and artifacts to that sub-model's result.
"""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)


@runtime_checkable
class Reporter(Protocol):
    def set_status(self, status: str, *, error: str = "", log_tail: str = "") -> None: ...

    def epoch(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def upload_artifacts(self, directory: Path, summary: dict[str, Any]) -> None: ...


@dataclass
class MemoryReporter:
    """Records everything; ``artifacts`` keeps a copy of each uploaded directory."""

    keep_dir: Path | None = None
    statuses: list[tuple[str, str]] = field(default_factory=list)
    epochs: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    artifacts: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)
    log_tails: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_status(self, status: str, *, error: str = "", log_tail: str = "") -> None:
        with self._lock:
            self.statuses.append((status, error))
            self.log_tails.append(log_tail)

    def epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        with self._lock:
            self.epochs.append((epoch, dict(metrics)))

    def upload_artifacts(self, directory: Path, summary: dict[str, Any]) -> None:
        base = self.keep_dir or Path(tempfile.mkdtemp(prefix="kafkaml-artifacts-"))
        with self._lock:
            dest = Path(base) / f"v{len(self.artifacts) + 1}"
            shutil.copytree(directory, dest, dirs_exist_ok=True)
            self.artifacts.append((dest, dict(summary)))

    @property
    def status(self) -> str | None:
        return self.statuses[-1][0] if self.statuses else None

    @property
    def error(self) -> str:
        return self.statuses[-1][1] if self.statuses else ""


class BackendReporter:
    """Reports to ``/api/v1/worker/results/{id}/...`` through ``worker_common.backend``."""

    def __init__(self, client: Any, result_id: int) -> None:
        self.client = client
        self.result_id = result_id

    def set_status(self, status: str, *, error: str = "", log_tail: str = "") -> None:
        self.client.set_result_status(self.result_id, status, error=error, log_tail=log_tail)

    def epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        try:
            self.client.report_epoch(self.result_id, epoch, metrics)
        except Exception as exc:  # live metrics are best effort: training goes on
            log.warning("could not report epoch %s of result %s: %s", epoch, self.result_id, exc)

    def upload_artifacts(self, directory: Path, summary: dict[str, Any]) -> None:
        fd, archive = tempfile.mkstemp(suffix=".tar.gz", prefix="kafkaml-model-")
        os.close(fd)
        try:
            pack_directory(Path(directory), Path(archive))
            self.client.upload_artifacts(self.result_id, archive, summary)
        finally:
            os.unlink(archive)


def pack_directory(directory: Path, archive: Path) -> Path:
    """tar.gz of the directory's files at the archive root (``metadata.json``, ...)."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return archive


class LogTail(logging.Handler):
    """Keeps the last lines logged, sent with a ``failed`` status."""

    def __init__(self, lines: int = 200) -> None:
        super().__init__()
        self.lines: deque[str] = deque(maxlen=lines)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # pragma: no cover - never let logging break training
            pass

    def text(self) -> str:
        return "\n".join(self.lines)
