"""A same-uid process cannot read a non-dumpable worker's environment (where its credential is)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# The "worker": runs as an unprivileged uid (root reads any /proc file, so the check needs one),
# holds SECRET_TOKEN, then starts a same-uid "attacker" that reads the worker's environ.
WORKER = textwrap.dedent(
    """
    import ctypes, os, sys
    from worker_common.hardening import make_undumpable
    if os.geteuid() == 0:
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
    if sys.argv[1] == "undumpable":
        assert make_undumpable()
    else:
        ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # dumpable, as a process is by default
    worker = os.getpid()
    read, write = os.pipe()
    if os.fork() == 0:  # the attacker: same uid, no capability
        try:
            data = open(f"/proc/{worker}/environ", "rb").read()
            verdict = b"READ" if b"SECRET_TOKEN=s3cr3t" in data else b"EMPTY"
        except PermissionError:
            verdict = b"DENIED"
        os.write(write, verdict)
        os._exit(0)
    os.close(write)
    print(os.read(read, 16).decode())
    os.wait()
    """
)


def _attack(mode: str) -> str:
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(
        [sys.executable, "-c", WORKER, mode],
        capture_output=True,
        text=True,
        cwd="/",
        env={**os.environ, "SECRET_TOKEN": "s3cr3t", "PYTHONPATH": repo},
        timeout=60,
    )
    return done.stdout.strip() or done.stderr.strip()


@pytest.mark.skipif(sys.platform != "linux", reason="prctl and /proc are Linux")
def test_same_uid_process_reads_a_dumpable_workers_environ():
    assert _attack("dumpable") == "READ"


@pytest.mark.skipif(sys.platform != "linux", reason="prctl and /proc are Linux")
def test_same_uid_process_cannot_read_an_undumpable_workers_environ():
    assert _attack("undumpable") == "DENIED"
