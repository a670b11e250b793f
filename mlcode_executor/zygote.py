"""The fork server (``python -m mlcode_executor.zygote``): TensorFlow and PyTorch are imported
once here, then every job is a fork.

    zygote (root, clean environment; listens on a Unix socket)
      └─ monitor       forked per request: wall-clock limit, collects the result
           └─ holder   forked; enters the job's cgroup and namespaces (mlcode_executor.jail)
                └─ pid 1 of the job: its own uid; runs the user code (mlcode_executor.worker)

The monitor answers on the request's connection. When the job ends, by itself or by a kill,
the kernel ends every process in its PID namespace; the service then removes its cgroup and
dir and releases its uid.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time
from typing import Any

from mlcode_executor import jail, worker
from mlcode_executor.protocol import MAX_MESSAGE, cpu_limit, error, recv_msg, send_msg, tail

GRACE_S = 3.0


def _monitor(conn: socket.socket) -> None:
    """Per-request supervisor: never returns."""
    code = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        req = recv_msg(conn)
        if req is None:
            os._exit(0)
        send_msg(conn, {"accepted": os.getpid()})
        send_msg(conn, _supervise(req))
    except BaseException:  # noqa: BLE001
        code = 1
    os._exit(code)


def _supervise(req: dict[str, Any]) -> dict[str, Any]:
    limits = req["limits"]
    timeout = float(limits["timeout_s"])
    cap = int(limits["output_bytes"])
    job = jail.Job.from_spec(req["job"])
    started = time.monotonic()
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        worker.run(req, w)
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
        if status is not None:
            if not eof:
                _drain(r, data)
            break
        if now >= deadline:
            killed = True
            _kill(job, pid)
            _, status = os.waitpid(pid, 0)
            break
        if not eof:
            ready, _, _ = select.select([r], [], [], min(0.2, deadline - now))
            if ready:
                eof = _drain(r, data)
        else:
            time.sleep(0.01)
    _kill(job, pid)
    os.close(r)
    elapsed = time.monotonic() - started
    response: dict[str, Any] | None = None
    if data and not killed:
        try:
            response = json.loads(bytes(data))
        except ValueError:
            response = None
    if response is None:
        response = status_error(status, killed, timeout, limits, job.oom_killed())
    response["duration_ms"] = round(elapsed * 1000, 1)
    response["stdout"] = tail(req["stdout_path"], cap and min(cap, 8192))
    response["stderr"] = tail(req["stderr_path"], cap and min(cap, 8192))
    return response


def _kill(job: jail.Job, pid: int) -> None:
    job.kill()
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _drain(fd: int, data: bytearray) -> bool:
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


def status_error(
    status: int | None, killed: bool, timeout: float, limits: dict[str, Any], oom: bool
) -> dict[str, Any]:
    """The answer when the job ended without writing one."""
    if killed:
        return error(
            "TimeoutError",
            f"validation did not finish within the wall-clock limit of {timeout:g} s "
            f"(an endless loop?); the process was killed",
            "timeout",
        )
    if oom:
        return error(
            "MemoryError",
            f"memory limit exceeded ({limits['memory_mb']} MiB for the whole job, every "
            f"process it started included); the job was killed",
            "memory",
        )
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGXCPU:
            return error(
                "CpuTimeLimit",
                f"CPU time limit of {cpu_limit(limits)} s exceeded; the process was killed",
                "cpu",
            )
        if sig in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS):
            return error(
                "ProcessCrashed",
                f"the validation process crashed ({name}); a native library aborted, often "
                f"because the memory limit ({limits['memory_mb']} MiB) was exceeded",
                "crashed",
            )
        return error("ProcessKilled", f"the validation process was killed by {name}", "crashed")
    if status is not None and os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        return error(
            "ProcessExited",
            f"the model code ended the validation process (exit code {code}) before it "
            f"could report; do not call os._exit() or similar in model code",
            "exit",
        )
    return error("ProcessCrashed", "the validation process ended without a result", "crashed")


def warm_up(frameworks: list[str]) -> dict[str, str]:
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

        keras.Input(shape=(4,))  # symbolic only: no variables, no eager context
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


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mlcode_executor.zygote")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--frameworks", default="tensorflow,pytorch")
    args = parser.parse_args(argv)
    frameworks = [f for f in args.frameworks.split(",") if f]
    versions: dict[str, str] = {}
    errors: dict[str, str] = {}
    # PyTorch first: with the CUDA build, importing triton (torch.optim does) after TensorFlow
    # crashes the process (a native library clash); the other order is fine.
    for fw in sorted(frameworks, key=lambda f: f != "pytorch"):
        try:
            versions.update(warm_up([fw]))
        except Exception as exc:  # a missing framework must not take the other down
            errors[fw] = f"{type(exc).__name__}: {exc}"
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(args.socket)
    lsock.listen(64)
    ready = {"ready": True, "pid": os.getpid(), "versions": versions, "errors": errors}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nothing reads the pipe after the handshake
    os.close(devnull)
    _serve(lsock, sys.stdin.buffer.fileno())


def _serve(lsock: socket.socket, stdin: int) -> None:
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
        if stdin in ready and not os.read(stdin, 4096):
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
                    os.close(stdin)
                except OSError:
                    pass
                _monitor(conn)
            children.add(pid)
            conn.close()


if __name__ == "__main__":
    main()
