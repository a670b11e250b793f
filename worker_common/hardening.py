"""Process hardening for the privileged side of a workload.

Where the sandbox cannot give the user-code process its own uid (a pod that runs non-root),
the sandboxed trainer runs as the same uid as the worker that holds the workload's credential.
A same-uid process may read another's ``/proc/<pid>/environ`` and attach a debugger to it
unless the target is *non-dumpable*: then the kernel makes its ``/proc`` files root's and
refuses ``ptrace`` from anything without ``CAP_SYS_PTRACE``. The worker marks itself so before
it starts user code."""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def make_undumpable() -> bool:
    """Mark this process non-dumpable (Linux); True when it took effect."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
        return libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError) as exc:
        log.warning("could not make the worker non-dumpable: %s", exc)
        return False
