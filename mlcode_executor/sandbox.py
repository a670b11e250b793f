"""The service side of the sandbox: owns the zygote (starts it, respawns it), queues jobs
fairly between users, and gives every job its own jail (uid, cgroup, dir), released when the
job's answer is back. The sandboxed side is ``zygote`` and ``worker``; the wire is ``protocol``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from mlcode_executor import jail
from mlcode_executor.fairqueue import FairQueue, QueueTimeout
from mlcode_executor.protocol import cpu_limit, error, recv_msg, send_msg, tail
from mlcode_executor.worker import job_limits
from mlcode_executor.zygote import GRACE_S


@dataclass
class SandboxConfig:
    timeout_s: float = 60.0
    memory_mb: int = 2048  # the whole job (every process it starts), beyond the zygote's imports
    cpu_s: float | None = None  # default: 2 × the timeout + 5 s (see protocol.cpu_limit)
    output_bytes: int = 1024 * 1024
    workers: int = 2  # jobs running at once
    per_user: int = 1  # jobs running at once for one user
    queue_timeout_s: float = 300.0
    frameworks: tuple[str, ...] = ("tensorflow", "pytorch")
    start_timeout_s: float = 180.0


class SandboxUnavailable(RuntimeError):
    pass


class Sandbox:
    """Owns the zygote: starts it, respawns it, sends it jobs."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self.queue = FairQueue(self.config.workers, self.config.per_user)
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._info: dict[str, Any] = {}
        self._stopping = False
        self._restarts = 0
        self._spawns = 0
        self._rundir = tempfile.mkdtemp(prefix="mlcode-executor-")
        os.chmod(self._rundir, 0o700)
        self._watcher: threading.Thread | None = None

    # lifecycle
    def start(self, wait: bool = True) -> None:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._spawn()
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="zygote-watch", daemon=True)
            self._watcher.start()
        if wait:
            self.wait_ready(self.config.start_timeout_s)

    def _spawn(self) -> None:
        self._ready.clear()
        self._spawns += 1
        sock = os.path.join(self._rundir, f"zygote-{self._spawns}.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**jail.clean_env(self._rundir), "PYTHONPATH": pkg_root}
        for name in ("KAFKAML_DATA_DIR", "KAFKAML_JAIL_ROOT"):  # what jobs must not see
            if os.environ.get(name):
                env[name] = os.environ[name]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlcode_executor.zygote",
                "--socket",
                sock,
                "--frameworks",
                ",".join(self.config.frameworks),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=self._rundir,
            start_new_session=True,
        )
        self._proc = proc
        self._socket = sock
        threading.Thread(target=self._read_ready, args=(proc,), daemon=True).start()

    def _read_ready(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        try:
            info = json.loads(line)
        except ValueError:
            return
        if proc is self._proc and info.get("ready"):
            self._info = info
            self._ready.set()

    def _watch(self) -> None:
        while not self._stopping:
            proc = self._proc
            if proc is None:
                time.sleep(0.2)
                continue
            proc.wait()
            if self._stopping:
                return
            with self._lock:
                if self._proc is proc and not self._stopping:
                    self._restarts += 1
                    sys.stderr.write(
                        f"mlcode_executor: zygote {proc.pid} exited ({proc.returncode}); "
                        f"restarting\n"
                    )
                    time.sleep(min(5.0, 0.2 * self._restarts))
                    self._spawn()

    def wait_ready(self, timeout: float) -> bool:
        if not self._ready.wait(timeout):
            raise SandboxUnavailable("the sandbox did not start in time")
        return True

    def stop(self) -> None:
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            proc.wait()
        shutil.rmtree(self._rundir, ignore_errors=True)

    def health(self) -> dict[str, Any]:
        proc = self._proc
        alive = proc is not None and proc.poll() is None
        caps = jail.capabilities()
        return {
            "ready": self._ready.is_set() and alive,
            "zygote_pid": proc.pid if proc is not None else None,
            "restarts": self._restarts,
            "versions": self._info.get("versions", {}),
            "framework_errors": self._info.get("errors", {}),
            "limits": {
                "timeout_s": self.config.timeout_s,
                "memory_mb": self.config.memory_mb,
                "cpu_s": cpu_limit(
                    {"cpu_s": self.config.cpu_s, "timeout_s": self.config.timeout_s}
                ),
                "output_bytes": self.config.output_bytes,
                "workers": self.config.workers,
                "per_user": self.config.per_user,
            },
            "queue": self.queue.stats(),
            "jail": {"complete": caps.complete, "missing": list(caps.missing)},
        }

    # jobs
    def run(
        self, job: dict[str, Any], timeout_s: float | None = None, user: str = ""
    ) -> dict[str, Any]:
        """Run one job ({"op": "validate"|"validate-chain", ...}) for ``user`` in a fresh jail."""
        timeout = self.config.timeout_s
        if timeout_s is not None:
            timeout = max(0.5, min(float(timeout_s), timeout))
        queued = time.monotonic()
        try:
            self.queue.acquire(user, self.config.queue_timeout_s)
        except QueueTimeout:
            raise SandboxUnavailable("all sandbox workers are busy; try again") from None
        try:
            return self._run(job, timeout, queued)
        finally:
            self.queue.release(user)

    def _run(self, job: dict[str, Any], timeout: float, queued: float) -> dict[str, Any]:
        base = tempfile.mkdtemp(prefix="job-", dir=self._rundir)
        paths = {
            "stdout_path": os.path.join(base, "stdout.txt"),
            "stderr_path": os.path.join(base, "stderr.txt"),
        }
        limits = {
            "timeout_s": timeout,
            "memory_mb": self.config.memory_mb,
            "cpu_s": self.config.cpu_s,
            "output_bytes": self.config.output_bytes,
        }
        confined = jail.Job.create(
            limits=job_limits(limits), hidden=[self._rundir], private_workdir=True
        )
        req = {**job, **paths, "job": confined.spec(), "limits": limits}
        try:
            response = self._ask_zygote(req, timeout)
            if response is None:
                response = error(
                    "ProcessKilled",
                    "the validation process was killed before it could answer (did the model "
                    "code kill its parent process?); the executor is still running",
                    "crashed",
                )
                response["stdout"] = tail(paths["stdout_path"], 8192)
                response["stderr"] = tail(paths["stderr_path"], 8192)
            response["total_ms"] = round((time.monotonic() - queued) * 1000, 1)
            return response
        finally:
            confined.close()
            shutil.rmtree(base, ignore_errors=True)

    def _ask_zygote(self, req: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        for attempt in range(3):
            self.start(wait=False)
            self.wait_ready(self.config.start_timeout_s)
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                conn.settimeout(30)
                conn.connect(self._socket)
                send_msg(conn, req)
                ack = recv_msg(conn)
            except (OSError, ValueError):
                ack = None
            if ack is None:  # the zygote died before it forked a monitor: restart, retry
                conn.close()
                if attempt == 2:
                    raise SandboxUnavailable("cannot reach the sandbox")
                self._restart_now()
                continue
            try:
                conn.settimeout(timeout + GRACE_S + 30)
                return recv_msg(conn)
            except (OSError, ValueError):
                return None
            finally:
                conn.close()
        return None

    def _restart_now(self) -> None:
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if proc is not None:
                proc.wait()
            self._ready.clear()
            self._restarts += 1
            self._spawn()
