"""Worker settings, all from the environment (the same code runs as a process or a container)."""

from __future__ import annotations

import os
import tempfile


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


def threads() -> int:
    """CPU threads for TensorFlow (intra and inter op) and PyTorch."""
    return max(1, _int("KAFKAML_TRAINING_THREADS", 2))


def read_timeout() -> float:
    """Seconds without any new record before reading the announced ranges fails."""
    return _float("KAFKAML_READ_TIMEOUT", 60.0)


def control_timeout() -> float:
    """Seconds to wait for the deployment's control message (0 = forever)."""
    return _float("KAFKAML_CONTROL_TIMEOUT", 0.0)


def memmap_threshold() -> int:
    """Datasets larger than this many bytes are cached in a memory-mapped file, not in RAM."""
    return _int("KAFKAML_TRAINING_MEMMAP_BYTES", 2 << 30)


def cache_dir() -> str:
    return os.environ.get("KAFKAML_TRAINING_CACHE_DIR", "") or tempfile.gettempdir()


def configure_threads() -> None:
    """Cap framework thread pools: training shares the machine with the other workers.

    Called before TensorFlow or PyTorch build anything (the TF setting is refused later).
    """
    n = str(threads())
    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(var, n)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
