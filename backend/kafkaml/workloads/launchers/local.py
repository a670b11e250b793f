"""LocalLauncher: each workload is a detached supervisor process (``kafkaml.workloads.supervisor``)
that runs the replicas, restarts dead inference replicas with backoff, and writes its state to
``<data dir>/workloads/<name>/status.json``. Because supervisors are detached and keep their
state on disk, a backend restart finds them again: nothing is held in the web process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .base import Launcher, LauncherError, WorkloadSpec, WorkloadStatus, register_launcher


def workloads_dir() -> Path:
    from django.conf import settings

    return Path(settings.DATA_DIR) / "workloads"


# What a workload inherits from the platform's own environment: enough to find Python and its
# packages, nothing else. The platform's secrets (DATABASE_URL, DJANGO_SECRET_KEY, REDIS_URL,
# the executor's secret, ...) stay with the platform; the workload's own credential comes in
# the spec's ``secret_env`` and is never written to the workload's directory.
INHERITED_ENV = (
    "PATH",
    "PYTHONPATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
    "CUDA_VISIBLE_DEVICES",
)


# The operator's worker tunables (KAFKAML_TRAINING_THREADS, KAFKAML_LOG_LEVEL, ...) pass too,
# unless their name says they hold a secret or they configure the platform's Kubernetes access.
_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "KEY", "CREDENTIAL")


def inherited_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    source = os.environ if environ is None else environ
    env = {key: source[key] for key in INHERITED_ENV if key in source}
    for key, value in source.items():
        if (
            key.startswith("KAFKAML_")
            and not key.startswith("KAFKAML_K8S_")
            and not any(word in key for word in _SECRET_WORDS)
        ):
            env[key] = value
    return env


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


@register_launcher("local")
class LocalLauncher(Launcher):
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else workloads_dir()

    def _dir(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise LauncherError(f"invalid workload name {name!r}")
        return self.root / name

    def _supervisor_pid(self, name: str) -> int | None:
        try:
            return int((self._dir(name) / "supervisor.pid").read_text())
        except (OSError, ValueError):
            return None

    def launch(self, spec: WorkloadSpec) -> None:
        workdir = self._dir(spec.name)
        pid = self._supervisor_pid(spec.name)
        if pid and _pid_alive(pid):
            raise LauncherError(f"workload {spec.name} is already running")
        workdir.mkdir(parents=True, exist_ok=True)
        for stale in ("status.json", "stop"):
            (workdir / stale).unlink(missing_ok=True)
        (workdir / "spec.json").write_text(
            json.dumps(
                {
                    "name": spec.name,
                    "component": spec.component,
                    "command": spec.command,
                    "env": spec.env,
                    "secret_env_names": sorted(spec.secret_env),
                    "labels": spec.labels,
                }
            )
        )
        (workdir / "replicas").write_text(str(spec.replicas))
        env = {**inherited_env(), **spec.env, **spec.secret_env}
        with open(workdir / "supervisor.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "kafkaml.workloads.supervisor", str(workdir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        (workdir / "supervisor.pid").write_text(str(process.pid))

    def stop(self, name: str, timeout: float = 20.0) -> None:
        pid = self._supervisor_pid(name)
        if not pid or not _pid_alive(pid):
            return
        (self._dir(name) / "stop").touch()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return
            time.sleep(0.1)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def scale(self, name: str, replicas: int) -> None:
        if replicas < 0:
            raise LauncherError("replicas must be >= 0")
        pid = self._supervisor_pid(name)
        if not pid or not _pid_alive(pid):
            raise LauncherError(f"workload {name} is not running")
        (self._dir(name) / "replicas").write_text(str(replicas))
        os.kill(pid, signal.SIGHUP)

    def status(self, name: str) -> WorkloadStatus:
        workdir = self._dir(name)
        if not workdir.exists():
            return WorkloadStatus("unknown", "no such workload")
        try:
            state = json.loads((workdir / "status.json").read_text())
        except (OSError, ValueError):
            state = {"state": "pending"}
        pid = self._supervisor_pid(name)
        alive = bool(pid and _pid_alive(pid))
        if not alive and state.get("state") in ("pending", "running"):
            state = {**state, "state": "failed", "reason": "the workload's supervisor died"}
        return WorkloadStatus(
            state=state.get("state", "unknown"),
            reason=state.get("reason", ""),
            replicas_desired=state.get("replicas_desired", 0),
            replicas_ready=state.get("replicas_ready", 0),
            restarts=state.get("restarts", 0),
        )

    def logs(self, name: str, tail: int = 200) -> str:
        workdir = self._dir(name)
        chunks = []
        for path in sorted(workdir.glob("replica-*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            chunks.append(f"==> {path.stem} <==\n" + "\n".join(lines))
        return "\n".join(chunks)
