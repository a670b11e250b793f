"""The fork server that runs user code in isolated child processes.

Process tree::

    service (HTTP, no framework imported)
      └─ zygote     python -m mlcode_executor.sandbox; TensorFlow + PyTorch imported once
           └─ monitor   forked per request; enforces the wall-clock limit, collects the result
                └─ worker   forked; new session, rlimits, no network, unprivileged user,
                            empty working dir, scrubbed environment, stdout/stderr to capped
                            files; runs the user code and writes its JSON result to a pipe

The service talks to the zygote over a Unix socket (one connection per request; the monitor
answers on it). If the zygote dies the service respawns it. If the worker kills its parent
(the monitor) it dies with it (PR_SET_PDEATHSIG) and the service reports a clear error.
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE = 16 * 1024 * 1024
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNET = 0x40000000
GRACE_S = 3.0


# What the frameworks need from an environment: nothing from the parent but these.
def clean_env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
        "KERAS_BACKEND": "tensorflow",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def send_msg(sock: socket.socket, obj: Any) -> None:
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack(">I", len(data)) + data)


def recv_msg(sock: socket.socket) -> Any:
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    if size > MAX_MESSAGE:
        raise ValueError(f"message too large ({size} bytes)")
    body = _recv_exact(sock, size)
    if body is None:
        return None
    return json.loads(body)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _tail(path: str, cap: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - cap))
            data = f.read(cap)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    if size > cap:
        text = f"[... {size - cap} bytes cut ...]\n" + text
    return text


def _error(type_: str, message: str, kind: str, **extra: Any) -> dict[str, Any]:
    err = {
        "type": type_,
        "message": message,
        "line": None,
        "column": None,
        "source_line": None,
        "section": None,
        "kind": kind,
        "trace": [],
    }
    err.update(extra)
    return {"ok": False, "error": err}


# --------------------------------------------------------------------------------------------
# Zygote side (runs in the pre-imported process)


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


class _Raise:
    def __init__(self, exc_type: type[BaseException], message: str) -> None:
        self.exc_type, self.message = exc_type, message

    def __call__(self, signum: int, frame: Any) -> None:
        raise self.exc_type(self.message)


def _worker(req: dict[str, Any], wfd: int, monitor_pid: int) -> None:
    """The sandboxed child: never returns."""
    result: dict[str, Any]
    try:
        os.setsid()
        libc = _libc()
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != monitor_pid:
            os._exit(70)
        isolation = req.get("isolation", {})
        if isolation.get("network", True):
            libc.unshare(CLONE_NEWNET)  # best effort: needs CAP_SYS_ADMIN
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(req["stdout_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(req["stderr_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        keep = sorted({0, 1, 2, wfd})
        for lo, hi in zip(keep, [*keep[1:], 65536], strict=True):
            os.closerange(lo + 1, hi)
        import resource

        limits = req["limits"]
        timeout = float(limits["timeout_s"])
        memory = int(limits["memory_mb"]) * 1024 * 1024
        cap = int(limits["output_bytes"])
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        cpu = cpu_limit(limits)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
        resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + memory,) * 2)
        uid, gid = req.get("uid"), req.get("gid")
        if uid is not None and os.geteuid() == 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # cleared by setuid
            if os.getppid() != monitor_pid:
                os._exit(70)
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        os.chdir(req["workdir"])
        os.environ.clear()
        os.environ.update(clean_env(req["workdir"]))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from mlcode_executor import usercode

        signal.signal(
            signal.SIGALRM,
            _Raise(usercode.WallClockLimit, f"wall-clock limit of {timeout:g} s exceeded"),
        )
        signal.signal(
            signal.SIGXCPU, _Raise(usercode.CpuTimeLimit, f"CPU time limit of {cpu} s exceeded")
        )
        signal.setitimer(signal.ITIMER_REAL, timeout)
        result = _run_job(req, usercode, memory)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:  # noqa: BLE001 - anything here is reported, not raised
        result = _error("InternalError", f"{type(exc).__name__}: {exc}", "internal")
    try:
        data = json.dumps(result).encode()
    except Exception as exc:
        data = json.dumps(
            _error("InternalError", f"unserialisable result: {exc}", "internal")
        ).encode()
    try:
        view = memoryview(data)
        while view:
            n = os.write(wfd, view)
            view = view[n:]
    except OSError:
        pass
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(0)


def _limit_message(err: dict[str, Any], memory: int) -> None:
    kind = err.get("kind")
    if kind == "memory":
        detail = "" if err["message"] == err["type"] else f": {err['message']}"
        err["message"] = f"memory limit exceeded ({memory // 2**20} MiB){detail}"
    elif err.get("type") in ("PermissionError", "ProcessLookupError"):
        err["message"] += (
            " (model code runs in a sandbox: it cannot signal other processes or "
            "write outside its empty working directory)"
        )
    elif kind == "timeout":
        err["message"] = (
            f"{err['message']}: the model code did not finish in time (an endless loop?)"
        )
    elif kind == "cpu":
        err["message"] = f"{err['message']}: the model code used too much CPU time"


def _run_job(req: dict[str, Any], usercode: Any, memory: int) -> dict[str, Any]:
    framework = req["framework"]

    def one(imports: str, code: str, input_shape: Any) -> dict[str, Any]:
        try:
            return {"ok": True, "result": usercode.validate(framework, imports, code, input_shape)}
        except usercode.UserCodeError as exc:
            err = exc.to_dict()
            _limit_message(err, memory)
            return {"ok": False, "error": err}

    if req["op"] == "validate":
        return one(req.get("imports", ""), req.get("code", ""), req.get("input_shape"))
    if req["op"] == "validate-chain":
        models = []
        for m in req["models"]:
            r = one(m.get("imports", ""), m.get("code", ""), m.get("input_shape"))
            entry = {"name": m["name"], **r}
            models.append(entry)
            if not r["ok"] and r["error"].get("kind") in ("timeout", "cpu", "memory"):
                break
        links = usercode.check_chain(
            [{"name": m["name"], "result": m.get("result")} for m in models]
        )
        ok = (
            all(m["ok"] for m in models)
            and all(link["ok"] for link in links)
            and len(models) == len(req["models"])
        )
        out: dict[str, Any] = {"ok": ok, "models": models, "links": links}
        if not ok:
            bad_model = next((m for m in models if not m["ok"]), None)
            bad_link = next(
                (link for link in links if not link["ok"] and not link.get("skipped")), None
            )
            if bad_model is not None:
                out["error"] = {**bad_model["error"], "model": bad_model["name"]}
            elif bad_link is not None:
                out["error"] = _error(
                    "ChainMismatch", bad_link["message"], "chain", link=bad_link["name"]
                )["error"]
        return out
    return _error("InternalError", f"unknown op {req['op']!r}", "internal")


def _monitor(conn: socket.socket) -> None:
    """Per-request supervisor (forked from the zygote): never returns."""
    code = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        req = recv_msg(conn)
        if req is None:
            os._exit(0)
        send_msg(conn, {"accepted": os.getpid()})
        response = _supervise(req, conn)
        send_msg(conn, response)
    except BaseException:  # noqa: BLE001
        code = 1
    os._exit(code)


def _supervise(req: dict[str, Any], conn: socket.socket) -> dict[str, Any]:
    limits = req["limits"]
    timeout = float(limits["timeout_s"])
    cap = int(limits["output_bytes"])
    started = time.monotonic()
    r, w = os.pipe()
    me = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _worker(req, w, me)
    os.close(w)
    os.set_blocking(r, False)
    data = bytearray()
    status: int | None = None
    killed = False
    deadline = started + timeout + GRACE_S
    eof = False
    while True:
        now = time.monotonic()
        if status is None:
            wpid, st = os.waitpid(pid, os.WNOHANG)
            if wpid:
                status = st
        if eof and status is not None:
            break
        if status is not None and not eof:
            # worker gone but a descendant holds the pipe: drain what is there, then stop
            _drain(r, data, cap)
            break
        if now >= deadline:
            killed = True
            _killpg(pid)
            os.waitpid(pid, 0)
            status = -1
            break
        if not eof:
            ready, _, _ = select.select([r], [], [], min(0.2, deadline - now))
            if ready:
                eof = _drain(r, data, cap)
        else:
            time.sleep(0.01)
    _killpg(pid)
    os.close(r)
    elapsed = time.monotonic() - started
    response: dict[str, Any] | None = None
    if data and not killed:
        try:
            response = json.loads(bytes(data))
        except ValueError:
            response = None
    if response is None:
        response = _status_error(status, killed, timeout, limits, elapsed)
    response["duration_ms"] = round(elapsed * 1000, 1)
    response["stdout"] = _tail(req["stdout_path"], cap and min(cap, 8192))
    response["stderr"] = _tail(req["stderr_path"], cap and min(cap, 8192))
    return response


def _drain(fd: int, data: bytearray, cap: int) -> bool:
    """Read what is available; True at end of file."""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if not chunk:
            return True
        if len(data) < MAX_MESSAGE:
            data += chunk


def cpu_limit(limits: dict[str, Any]) -> int:
    """CPU seconds a validation may use: a backstop behind the wall-clock timer (which names
    the running line). TensorFlow's start-up threads count as CPU time too, so by default it
    sits well above the timeout; ``--cpu`` sets it explicitly."""
    if limits.get("cpu_s"):
        return max(1, int(limits["cpu_s"]))
    return max(1, int(float(limits["timeout_s"]) * 2 + 5))


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _status_error(
    status: int | None, killed: bool, timeout: float, limits: dict[str, Any], elapsed: float
) -> dict[str, Any]:
    if killed:
        return _error(
            "TimeoutError",
            f"validation did not finish within the wall-clock limit of {timeout:g} s "
            f"(an endless loop?); the process was killed",
            "timeout",
        )
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGXCPU:
            return _error(
                "CpuTimeLimit",
                f"CPU time limit of {cpu_limit(limits)} s exceeded; the process was killed",
                "cpu",
            )
        if sig in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS):
            return _error(
                "ProcessCrashed",
                f"the validation process crashed ({name}); a native library aborted, often "
                f"because the memory limit ({limits['memory_mb']} MiB) was exceeded",
                "crashed",
            )
        return _error("ProcessKilled", f"the validation process was killed by {name}", "crashed")
    if status is not None and os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        return _error(
            "ProcessExited",
            f"the model code ended the validation process (exit code {code}) before it "
            f"could report; do not call os._exit() or similar in model code",
            "exit",
        )
    return _error("ProcessCrashed", "the validation process ended without a result", "crashed")


def _warm_up(frameworks: list[str]) -> dict[str, str]:
    """Import the frameworks once. TensorFlow's runtime is *not* started (its thread pools do
    not survive fork); PyTorch runs a tiny forward pass (single-threaded, fork-safe)."""
    versions: dict[str, str] = {}
    import numpy  # noqa: F401

    from mlcode_executor import usercode  # noqa: F401

    if "tensorflow" in frameworks:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(2)
        import keras
        import keras.layers  # noqa: F401
        import keras.losses  # noqa: F401
        import keras.metrics  # noqa: F401
        import keras.optimizers  # noqa: F401

        # symbolic only: no variables, no eager context
        keras.Input(shape=(4,))
        versions["tensorflow"] = tf.__version__
        versions["keras"] = keras.__version__
    if "pytorch" in frameworks:
        import torch

        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        import ignite
        import ignite.engine  # noqa: F401
        import ignite.metrics
        import torch.nn as nn

        net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        with torch.no_grad():
            net(torch.zeros(2, 4))
        torch.optim.Adam(net.parameters())
        ignite.metrics.Accuracy()
        versions["pytorch"] = torch.__version__
        versions["ignite"] = ignite.__version__
    return versions


def zygote_main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mlcode_executor.sandbox")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--frameworks", default="tensorflow,pytorch")
    args = parser.parse_args(argv)
    frameworks = [f for f in args.frameworks.split(",") if f]
    versions: dict[str, str] = {}
    errors: dict[str, str] = {}
    for fw in frameworks:
        try:
            versions.update(_warm_up([fw]))
        except Exception as exc:  # a missing framework must not take the other down
            errors[fw] = f"{type(exc).__name__}: {exc}"
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(args.socket)
    lsock.listen(64)
    sys.stdout.write(
        json.dumps({"ready": True, "pid": os.getpid(), "versions": versions, "errors": errors})
        + "\n"
    )
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nothing reads the pipe after the handshake
    os.close(devnull)
    stdin = sys.stdin.buffer
    children: set[int] = set()
    while True:
        ready, _, _ = select.select([lsock, stdin], [], [], 1.0)
        while children:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                break
            if not pid:
                break
            children.discard(pid)
        if stdin in ready and not os.read(stdin.fileno(), 4096):
            os._exit(0)  # the service is gone
        if lsock in ready:
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    lsock.close()
                    os.close(stdin.fileno())
                except OSError:
                    pass
                _monitor(conn)
            children.add(pid)
            conn.close()


# --------------------------------------------------------------------------------------------
# Service side


@dataclass
class SandboxConfig:
    timeout_s: float = 60.0
    memory_mb: int = 2048
    cpu_s: float | None = None  # default: 2 × the timeout + 5 s (see cpu_limit)
    output_bytes: int = 1024 * 1024
    workers: int = 2
    sandbox_user: str | None = "nobody"  # used only when the service runs as root
    network: bool = True  # cut the worker off the network (new net namespace) when possible
    frameworks: tuple[str, ...] = ("tensorflow", "pytorch")
    start_timeout_s: float = 180.0


class SandboxUnavailable(RuntimeError):
    pass


class Sandbox:
    """Owns the zygote: starts it, respawns it, sends it jobs."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.config.workers)
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._info: dict[str, Any] = {}
        self._stopping = False
        self._restarts = 0
        self._spawns = 0
        self._rundir = tempfile.mkdtemp(prefix="mlcode-executor-")
        os.chmod(self._rundir, 0o700)
        self._uid: int | None = None
        self._gid: int | None = None
        if self.config.sandbox_user and os.geteuid() == 0:
            try:
                pw = pwd.getpwnam(self.config.sandbox_user)
                self._uid, self._gid = pw.pw_uid, pw.pw_gid
            except KeyError:
                pass
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
        env = clean_env(self._rundir)
        pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = pkg_root
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlcode_executor.sandbox",
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
            },
            "sandbox_uid": self._uid if self._uid is not None else os.geteuid(),
        }

    # jobs
    def run(self, job: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        """Run one job ({"op": "validate"|"validate-chain", ...}) in a fresh worker."""
        timeout = self.config.timeout_s
        if timeout_s is not None:
            timeout = max(0.5, min(float(timeout_s), timeout))
        queued = time.monotonic()
        if not self._slots.acquire(timeout=timeout + self.config.start_timeout_s):
            raise SandboxUnavailable("all sandbox workers are busy")
        try:
            return self._run(job, timeout, queued)
        finally:
            self._slots.release()

    def _run(self, job: dict[str, Any], timeout: float, queued: float) -> dict[str, Any]:
        base = tempfile.mkdtemp(prefix="job-", dir=self._rundir)
        work = os.path.join(base, "work")
        os.mkdir(work, 0o700)
        paths = {
            "stdout_path": os.path.join(base, "stdout.txt"),
            "stderr_path": os.path.join(base, "stderr.txt"),
        }
        for p in paths.values():
            open(p, "wb").close()
        if self._uid is not None:
            os.chmod(base, 0o711)
            os.chmod(self._rundir, 0o711)
            for p in [work, *paths.values()]:
                os.chown(p, self._uid, self._gid)
        req = {
            **job,
            **paths,
            "workdir": work,
            "uid": self._uid,
            "gid": self._gid,
            "isolation": {"network": self.config.network},
            "limits": {
                "timeout_s": timeout,
                "memory_mb": self.config.memory_mb,
                "cpu_s": self.config.cpu_s,
                "output_bytes": self.config.output_bytes,
            },
        }
        try:
            response = None
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
                    response = recv_msg(conn)
                except (OSError, ValueError):
                    response = None
                finally:
                    conn.close()
                break
            if response is None:
                response = _error(
                    "ProcessKilled",
                    "the validation process was killed before it could answer (did the model "
                    "code kill its parent process?); the executor is still running",
                    "crashed",
                )
                response["stdout"] = _tail(paths["stdout_path"], 8192)
                response["stderr"] = _tail(paths["stderr_path"], 8192)
            response["total_ms"] = round((time.monotonic() - queued) * 1000, 1)
            return response
        finally:
            shutil.rmtree(base, ignore_errors=True)

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


if __name__ == "__main__":
    zygote_main()
