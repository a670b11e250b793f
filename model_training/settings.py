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
    """CPU threads for TensorFlow (intra and inter op) and PyTorch (in the sandboxed trainer,
    whose environment holds no ``KAFKAML_*`` variable, from ``OMP_NUM_THREADS``)."""
    return max(1, _int("KAFKAML_TRAINING_THREADS", _int("OMP_NUM_THREADS", 2)))


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


# -- the sandboxed trainer ------------------------------------------------------------------


def trainer_limits():
    """The jail limits of the sandboxed trainer (the whole job: every process it starts).

    No wall clock by default: a training run may legitimately last days, and incremental
    training runs until stopped.
    """
    from mlcode_executor.jail import JailLimits

    cpu = _int("KAFKAML_TRAINING_CPU_S", 0)
    wall = _float("KAFKAML_TRAINING_WALL_S", 0.0)
    return JailLimits(
        memory_mb=_int("KAFKAML_TRAINING_MEMORY_MB", default_memory_mb()),
        cpu_s=cpu or None,
        wall_s=wall or None,
        processes=_int("KAFKAML_TRAINING_PROCESSES", 512),
        output_bytes=_int("KAFKAML_TRAINING_OUTPUT_MB", 4096) << 20,
        open_files=_int("KAFKAML_TRAINING_OPEN_FILES", 4096),
    )


def default_memory_mb() -> int:
    """Half the machine's memory, at least 2 GiB: TensorFlow alone takes ~0.6 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
    except (ValueError, OSError):
        return 4096
    return max(2048, total // 2)


def artifact_bytes() -> int:
    """The most bytes of artifacts one export may hand to the worker for upload."""
    return _int("KAFKAML_TRAINING_OUTPUT_MB", 4096) << 20


def trainer_log_bytes() -> int:
    """Trainer output (its log, the user's prints) copied into the workload log at most."""
    return _int("KAFKAML_TRAINING_LOG_BYTES", 16 << 20)


def trainer_env() -> dict[str, str]:
    """What the trainer's environment gets beyond the jail's clean one: thread counts and the
    GPUs the workload was given. Never a credential or an address."""
    n = str(threads())
    env = {"OMP_NUM_THREADS": n, "TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": n}
    for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env
