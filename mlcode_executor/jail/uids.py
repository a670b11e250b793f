"""One unprivileged uid per live job, shared out by every process of the platform.

A uid is leased by holding an exclusive ``flock`` on ``<lease dir>/<uid>``: the executor and
several training workers allocate at the same time, and a lease dies with its holder (the kernel
drops the lock), so a crash never leaks a uid. The lease dir is root-owned and 0700, in the same
place for every platform on the machine (``KAFKAML_JAIL_LEASES``, default
``/run/kafkaml-jail/uids``).
"""

from __future__ import annotations

import fcntl
import os
import pwd
import random
from dataclasses import dataclass
from pathlib import Path

UID_BASE = int(os.environ.get("KAFKAML_JAIL_UID_BASE", "200000"))
UID_COUNT = int(os.environ.get("KAFKAML_JAIL_UID_COUNT", "10000"))


class NoFreeUid(RuntimeError):
    pass


def lease_dir() -> Path:
    configured = os.environ.get("KAFKAML_JAIL_LEASES")
    if configured:
        return Path(configured)
    return (
        Path("/run/kafkaml-jail/uids") if Path("/run").is_dir() else Path("/tmp/kafkaml-jail-uids")
    )


def ensure_private_dir(path: Path, mode: int = 0o700) -> Path:
    """Create ``path`` (and parents) owned by us with ``mode``; refuse one somebody else owns
    (a directory squatted in a world-writable place)."""
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    st = os.lstat(path)
    if st.st_uid != os.geteuid() or not os.path.isdir(path) or os.path.islink(path):
        raise PermissionError(f"{path} is not a directory owned by uid {os.geteuid()}")
    if st.st_mode & 0o777 != mode:
        os.chmod(path, mode)
    return path


@dataclass
class UidLease:
    uid: int
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the flock
            self.fd = -1


def _in_passwd(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def allocate(base: int = UID_BASE, count: int = UID_COUNT) -> UidLease:
    """Lease a uid in ``[base, base + count)`` that no live job holds and no account uses."""
    directory = ensure_private_dir(lease_dir())
    start = random.randrange(count)
    for i in range(count):
        uid = base + (start + i) % count
        fd = os.open(directory / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if _in_passwd(uid):
            os.close(fd)
            continue
        return UidLease(uid, fd)
    raise NoFreeUid(f"all {count} job uids from {base} are in use")
