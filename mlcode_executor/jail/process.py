"""``spawn``: run a command as a job. The command is exec'd by a small relay (``python -I -S``,
stdlib only) that enters the job (:func:`mlcode_executor.jail.job.enter`) and stays behind as
its holder; the caller gets a ``Popen`` of the holder whose ``kill()``/``wait()`` cover the
whole job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from mlcode_executor.jail.job import JailLimits, Job, enter

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_RELAY = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from mlcode_executor.jail.process import relay_main; relay_main(int(sys.argv[2]))"
)


def clean_env(home: str) -> dict[str, str]:
    """Everything a job's environment holds: no credential, nothing from the parent."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERAS_BACKEND": "tensorflow",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


class JailedProcess(subprocess.Popen):
    """A ``Popen`` whose ``kill()``/``wait()`` cover the whole job. After the job ended:
    ``timed_out`` (the wall clock killed it), ``oom_killed`` (the memory limit did)."""

    def __init__(self, job: Job, args: list[str], **kwargs: Any) -> None:
        self.job = job
        self.timed_out = False
        self.oom_killed = False
        self._started = time.monotonic()
        self._closed = False
        super().__init__(args, **kwargs)

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        wall = self.job.limits.wall_s
        self.timed_out = bool(
            wall and self.returncode == -signal.SIGKILL and time.monotonic() - self._started >= wall
        )
        self.oom_killed = self.job.oom_killed()
        self.job.close()

    def wait(self, timeout: float | None = None) -> int:
        code = super().wait(timeout)
        self._finish()
        return code

    def poll(self) -> int | None:
        code = super().poll()
        if code is not None:
            self._finish()
        return code

    def kill(self) -> None:
        """Kill every process of the job at once."""
        if self.job.isolated:
            self.job.kill()
        if self.returncode is None:
            super().kill()


def spawn(
    argv: list[str],
    *,
    limits: JailLimits,
    workdir: Path,
    readable: list[Path] | tuple[Path, ...] = (),
    network: bool = False,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    pass_fds: tuple[int, ...] = (),
    env: dict[str, str] | None = None,
    hidden: list[Path] | tuple[Path, ...] = (),
) -> JailedProcess:
    """Start ``argv`` confined as one job (``argv[0]`` "python" means this interpreter).

    ``workdir`` becomes the job's own (its uid owns it, HOME and cwd); ``readable`` paths are
    bound read-only into its view; ``hidden`` trees are covered (the data dir and the jail root
    always are). ``env`` adds to :func:`clean_env` and must hold no credential.
    """
    job = Job.create(
        limits=limits, workdir=workdir, readable=readable, network=network, hidden=hidden
    )
    program = sys.executable if argv[0] in ("python", "python3") else argv[0]
    job_env = {**clean_env(job.workdir), "PYTHONPATH": PKG_ROOT, **(env or {})}
    spec = {"job": job.spec(), "argv": [program, *argv[1:]], "env": job_env}
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, json.dumps(spec).encode())
        os.close(write_end)
        return JailedProcess(
            job,
            [sys.executable, "-I", "-S", "-c", _RELAY, PKG_ROOT, str(read_end)],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pass_fds=(*pass_fds, read_end),
            env={"PATH": job_env["PATH"], "LANG": "C.UTF-8"},
            cwd="/",
        )
    except BaseException:
        job.close()
        raise
    finally:
        os.close(read_end)


def relay_main(spec_fd: int) -> None:
    """The holder side of ``spawn`` (runs as root in a fresh interpreter)."""
    with os.fdopen(spec_fd, "rb") as f:
        spec = json.loads(f.read())
    job = Job.from_spec(spec["job"])
    enter(job, init=True)
    try:
        os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
    except OSError as exc:
        sys.stderr.write(f"jail: cannot run {spec['argv'][0]}: {exc}\n")
    os._exit(127)
