"""A cgroup per job: the memory and process limits cover the whole job (every process it
forks), and killing "every process in the cgroup" ends it even when a process escaped its
session or namespace.

cgroup v1 (separate ``memory`` and ``pids`` hierarchies) and v2 (one unified hierarchy with
``memory`` in ``cgroup.controllers``) are both handled. Job cgroups live under the creating
process's own cgroup, in ``kafkaml-jobs/u<uid>``: named by the leased uid, so a cgroup left by a
crashed holder is found, emptied and replaced by the next lease of that uid.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
GROUP = "kafkaml-jobs"


def _own_path(controller: str | None) -> str | None:
    """This process's cgroup path in the hierarchy of ``controller`` (None: the v2 one)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller is None and controllers == "":
            return path
        if controller is not None and controller in controllers.split(","):
            return path
    return None


def is_v2() -> bool:
    try:
        return "memory" in (ROOT / "cgroup.controllers").read_text().split()
    except OSError:
        return False


def parents() -> dict[str, Path]:
    """Where job cgroups go: {"memory": dir, "pids": dir} (v1) or {"unified": dir} (v2)."""
    if is_v2():
        own = _own_path(None)
        return {} if own is None else {"unified": ROOT / own.lstrip("/") / GROUP}
    found = {}
    for controller in ("memory", "pids"):
        own = _own_path(controller)
        if own is not None and (ROOT / controller).is_dir():
            found[controller] = ROOT / controller / own.lstrip("/") / GROUP
    return found


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


class JobCgroup:
    """The cgroup dirs of one job (one per v1 hierarchy, or one v2 dir)."""

    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs

    @classmethod
    def create(cls, name: str, *, memory_bytes: int, processes: int) -> JobCgroup:
        """Create (or empty and reuse) the job's cgroup and set its limits; OSError when the
        machine does not let us."""
        found = parents()
        if not found:
            raise OSError("no writable memory cgroup")
        dirs = {}
        for controller, parent in found.items():
            if not parent.is_dir():
                parent.mkdir(exist_ok=True)
                if controller == "unified":
                    _write(parent.parent / "cgroup.subtree_control", "+memory +pids")
                    _write(parent / "cgroup.subtree_control", "+memory +pids")
            dirs[controller] = parent / name
        group = cls(dirs)
        group.remove()  # a stale cgroup of a crashed holder of this uid: emptied, recreated
        for d in dirs.values():
            d.mkdir(exist_ok=True)
        if "unified" in dirs:
            d = dirs["unified"]
            _write(d / "memory.max", str(memory_bytes))
            if (d / "memory.swap.max").exists():
                _write(d / "memory.swap.max", "0")
            _write(d / "pids.max", str(processes))
        else:
            d = dirs["memory"]
            _write(d / "memory.limit_in_bytes", str(memory_bytes))
            if (d / "memory.memsw.limit_in_bytes").exists():
                try:
                    _write(d / "memory.memsw.limit_in_bytes", str(memory_bytes))
                except OSError:
                    pass
            if "pids" in dirs:
                _write(dirs["pids"] / "pids.max", str(processes))
        return group

    def spec(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.dirs.items()}

    @classmethod
    def from_spec(cls, spec: dict[str, str]) -> JobCgroup:
        return cls({k: Path(v) for k, v in spec.items()})

    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (0: this process) into the job's cgroup(s)."""
        for d in self.dirs.values():
            _write(d / "cgroup.procs", str(pid or os.getpid()))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs.values():
            try:
                found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return found

    def kill(self, timeout: float = 5.0) -> None:
        """SIGKILL every process of the job until none is left (forks race the first pass)."""
        kill_file = self.dirs.get("unified", Path("/nonexistent")) / "cgroup.kill"
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids:
                return
            if kill_file.exists():
                try:
                    _write(kill_file, "1")
                except OSError:
                    pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the job for going over its memory limit."""
        try:
            if "unified" in self.dirs:
                text = (self.dirs["unified"] / "memory.events").read_text()
                return any(
                    line.split()[0] == "oom_kill" and int(line.split()[1]) > 0
                    for line in text.splitlines()
                )
            text = (self.dirs["memory"] / "memory.oom_control").read_text()
            for line in text.splitlines():
                if line.startswith("oom_kill ") and int(line.split()[1]) > 0:
                    return True
            return False
        except (OSError, ValueError, KeyError):
            return False

    def remove(self) -> None:
        self.kill()
        for d in self.dirs.values():
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # the last process is still exiting
                    time.sleep(0.02)
