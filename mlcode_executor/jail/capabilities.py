"""What this machine lets the jail establish, said honestly: ``complete`` only when every
guarantee of docs/security.md ("The sandbox") holds. Where it is incomplete the platform runs in
its explicit single-user mode."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from mlcode_executor.jail import cgroup, uids
from mlcode_executor.jail.job import jail_root

_PROBE = """
import os, sys
sys.path.insert(0, sys.argv[1])
from mlcode_executor.jail import linux
linux.unshare(linux.CLONE_NEWNS | linux.CLONE_NEWNET | linux.CLONE_NEWPID | linux.CLONE_NEWIPC)
linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
linux.mount("tmpfs", "/tmp", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=1m")
pid = os.fork()
if pid == 0:
    linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    os._exit(0 if os.getpid() == 1 else 3)
os._exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@dataclass(frozen=True)
class Capabilities:
    """What this machine lets the sandbox establish. ``complete`` only when every guarantee of
    docs/security.md holds; ``missing`` names each one that does not, in words."""

    complete: bool
    missing: tuple[str, ...] = field(default_factory=tuple)
    details: dict[str, Any] = field(default_factory=dict)


def _probe_namespaces() -> str | None:
    from mlcode_executor.jail.process import PKG_ROOT

    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _PROBE, PKG_ROOT],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit code {done.returncode}"
    return None


def _probe_cgroup() -> tuple[str | None, str | None]:
    """(version, error)."""
    version = "v2" if cgroup.is_v2() else "v1"
    found = cgroup.parents()
    needed = {"unified"} if version == "v2" else {"memory", "pids"}
    if not needed <= set(found):
        return version, f"no {' and '.join(sorted(needed - set(found)))} cgroup hierarchy"
    try:
        group = cgroup.JobCgroup.create(f"probe-{os.getpid()}", memory_bytes=64 << 20, processes=8)
        group.remove()
    except OSError as exc:
        return version, str(exc)
    return version, None


@functools.cache
def capabilities() -> Capabilities:
    missing: list[str] = []
    details: dict[str, Any] = {
        "root": os.geteuid() == 0,
        "uid_range": f"{uids.UID_BASE}-{uids.UID_BASE + uids.UID_COUNT - 1}",
    }
    try:
        details["jail_root"] = str(jail_root())
    except OSError as exc:
        missing.append(f"the jail root is unusable ({exc}): jobs' files would not be private")
    if os.geteuid() != 0:
        missing.append(
            "not running as root: jobs cannot get their own uid, network, mount and PID "
            "namespaces or cgroup limits; they run as the platform's own user"
        )
        return Capabilities(False, tuple(missing), details)
    error = _probe_namespaces()
    details["namespaces"] = error is None
    if error:
        missing.append(
            f"namespaces are not permitted here ({error}): jobs would share the network, /tmp "
            f"and the process table"
        )
    version, error = _probe_cgroup()
    details["cgroup"] = version if error is None else None
    if error:
        missing.append(
            f"cannot create cgroup {version} job groups ({error}): memory and process limits "
            f"would be per process, not per job"
        )
    try:
        lease = uids.allocate()
        lease.release()
        details["uid_leases"] = str(uids.lease_dir())
    except (OSError, uids.NoFreeUid) as exc:
        missing.append(f"cannot lease job uids ({exc})")
    return Capabilities(not missing, tuple(missing), details)
