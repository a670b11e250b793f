"""The job's view of the file system, built in its own mount namespace.

* ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are fresh tmpfs mounts: private to the job and gone
  with it (the namespace dies with the job's last process).
* Hidden trees (the platform's data dir, the jail root with every job's dir, ``/run`` with the
  daemons' Unix sockets) are covered by an empty tmpfs.
* Paths the job must reach are bound back at the same path: its workdir read-write, ``readable``
  paths (and the Python runtime) read-only. Where an ancestor of such a path is closed to the
  job's uid (``/root`` 0700 holding pyenv, a 0700 data dir) the ancestor is covered by a tmpfs
  skeleton holding only that path, so the job sees the path and none of its siblings.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from mlcode_executor.jail import linux

SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
# Unix sockets are reached by path, not through the network namespace: cover where daemons
# keep theirs (PostgreSQL, D-Bus, the container runtime, our zygote's is under /tmp).
SOCKET_DIRS = ("/run", "/var/run")
INODES = 65536  # files a job may create in one tmpfs (their pages count in its memory cgroup)


@dataclass(frozen=True)
class Keep:
    path: str
    writable: bool


def _others_can_enter(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & stat.S_IXOTH)
    except OSError:
        return False


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def covers(keep: list[Keep], hidden: list[str]) -> list[str]:
    """The tmpfs mounts to make: scratch dirs, hidden trees, and the topmost ancestor of each
    kept path that the job's uid could not enter (shallowest first, none inside another)."""
    roots = [p for p in SCRATCH if os.path.isdir(p)]
    roots += [os.path.realpath(p) for p in SOCKET_DIRS if os.path.isdir(p)]
    roots += [os.path.realpath(h) for h in hidden if os.path.isdir(h)]
    for k in keep:
        parts = Path(k.path).parts
        for i in range(2, len(parts)):
            ancestor = os.path.join(*parts[:i])
            if not _others_can_enter(ancestor):
                roots.append(ancestor)
                break
    roots = sorted(set(roots), key=lambda p: (p.count("/"), p))
    out: list[str] = []
    for r in roots:
        if not any(_under(r, o) for o in out) and r != "/":
            out.append(r)
    return out


def build(keep: list[Keep], hidden: list[str], tmp_bytes: int) -> None:
    """In a fresh mount namespace (as root): make the job's view. Keeps' paths must be real."""
    os.umask(0o022)  # the skeleton's dirs must be enterable by the job's uid, whatever the
    # platform's umask (pid 1 sets the job's own umask afterwards)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    keep = sorted({k.path: k for k in keep}.values(), key=lambda k: k.path.count("/"))
    keep = [
        k
        for k in keep
        if k.writable
        or not any(o.path != k.path and not o.writable and _under(k.path, o.path) for o in keep)
    ]
    fds = {
        k.path: os.open(k.path, os.O_PATH | os.O_CLOEXEC) for k in keep if os.path.exists(k.path)
    }
    roots = covers(keep, hidden)
    try:
        for root in roots:
            mode = "1777" if root in SCRATCH else "755"
            linux.mount(
                "tmpfs",
                root,
                "tmpfs",
                linux.MS_NOSUID | linux.MS_NODEV,
                f"mode={mode},size={max(tmp_bytes, 1 << 20)},nr_inodes={INODES}",
            )
        for k in keep:
            fd = fds.get(k.path)
            if fd is None:
                continue
            hidden_by = any(_under(k.path, r) for r in roots)
            if hidden_by:
                _make_mountpoint(k.path, os.path.isdir(f"/proc/self/fd/{fd}"))
            if hidden_by or not k.writable:
                linux.mount(f"/proc/self/fd/{fd}", k.path, None, linux.MS_BIND | linux.MS_REC)
            if not k.writable:
                linux.mount(
                    None,
                    k.path,
                    None,
                    linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID,
                )
    finally:
        for fd in fds.values():
            os.close(fd)


def private_dir(path: str, uid: int | None, tmp_bytes: int) -> None:
    """A fresh tmpfs at ``path`` owned by ``uid``, 0700: a working dir that never touches the
    disk and is gone with the job (the executor's validations use one)."""
    _make_mountpoint(path, True)
    owner = "" if uid is None else f",uid={uid},gid={uid}"
    linux.mount(
        "tmpfs",
        path,
        "tmpfs",
        linux.MS_NOSUID | linux.MS_NODEV,
        f"mode=700,size={max(tmp_bytes, 1 << 20)},nr_inodes={INODES}{owner}",
    )


def _make_mountpoint(path: str, is_dir: bool) -> None:
    parent = os.path.dirname(path)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    if is_dir:
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def mount_proc() -> None:
    """A /proc that shows the job's own PID namespace only (call as its pid 1)."""
    linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
