"""The jail, attacked from inside real jobs (``spawn``): each test runs hostile code as a job and
checks from outside that it was harmless. They need the complete sandbox (root, namespaces,
cgroups: CI); elsewhere they are skipped, and ``capabilities()`` says why."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlcode_executor.jail import JailLimits, capabilities, new_job_dir, spawn

pytestmark = pytest.mark.skipif(
    not capabilities().complete, reason="; ".join(capabilities().missing) or "complete"
)


def run_job(code, limits=None, **kw):
    """Run ``code`` as a job; returns (process, stdout text)."""
    proc = spawn(
        [sys.executable, "-c", textwrap.dedent(code)],
        limits=limits or JailLimits(memory_mb=512, wall_s=60),
        workdir=new_job_dir(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kw,
    )
    out = proc.stdout.read().decode()
    proc.wait()
    shutil.rmtree(proc.job.workdir, ignore_errors=True)  # the caller's dir: the caller's to drop
    return proc, out


def processes_of(uid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found.append(int(entry))
            except FileNotFoundError:
                pass
    return found


def test_capabilities_are_complete_as_root():
    caps = capabilities()
    assert caps.complete and caps.missing == ()
    assert caps.details["root"] and caps.details["namespaces"] and caps.details["cgroup"]


def test_own_uid_clean_env_private_workdir(monkeypatch):
    monkeypatch.setenv("KAFKAML_API_TOKEN", "s3cr3t-token")
    code = """
        import os
        print(os.getuid(), os.getgid(), os.getgroups(), os.getcwd() == os.environ["HOME"])
        print(sorted(os.environ))
        print("s3cr3t" in open("/proc/self/environ").read(), "s3cr3t" in str(os.environ))
    """
    a = spawn(
        [sys.executable, "-c", textwrap.dedent(code) + "\nimport time; time.sleep(1)"],
        limits=JailLimits(),
        workdir=new_job_dir(),
        stdout=subprocess.PIPE,
    )
    b, out = run_job(code)
    a_out = a.stdout.read().decode()
    a.wait()
    shutil.rmtree(a.job.workdir)
    uid, gid, groups, home = out.splitlines()[0].split(" ", 3)
    assert int(uid) >= 200000 and uid == gid and groups == "[]" and home == "True"
    assert a_out.split()[0] != uid  # two live jobs never share a uid
    assert "KAFKAML_API_TOKEN" not in out and out.splitlines()[2] == "False False"
    assert b.returncode == 0 and a.returncode == 0


def test_no_network():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        _, out = run_job(f"""
            import socket
            for host in ("127.0.0.1", "8.8.8.8"):
                try:
                    socket.create_connection((host, {port}), timeout=2)
                    print("CONNECTED", host)
                except OSError as exc:
                    print("refused ", host, exc)
        """)
    finally:
        server.close()
    assert "CONNECTED" not in out and out.count("refused ") == 2, out


def test_no_unix_socket_of_the_host_is_reachable():
    path = f"/run/kafkaml-jail-test-{os.getpid()}.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    os.chmod(path, 0o777)  # as PostgreSQL's: anyone may connect who can reach the path
    server.listen()
    try:
        _, out = run_job(f"""
            import socket
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect("{path}")
                print("CONNECTED")
            except OSError as exc:
                print("blocked", exc)
        """)
    finally:
        server.close()
        os.unlink(path)
    assert "blocked" in out and "CONNECTED" not in out, out


def test_a_setsid_grandchild_does_not_survive_the_job():
    proc, out = run_job("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            os._exit(0)
        time.sleep(0.3)
        print("parent leaves")
    """)
    assert "parent leaves" in out
    time.sleep(0.2)
    assert processes_of(proc.job.uid) == []


def test_memory_is_capped_for_the_whole_job():
    # three processes of 200 MiB each: under any per-process cap, over the job's 400 MiB
    proc, out = run_job(
        """
        import os, time
        for _ in range(2):
            if os.fork() == 0:
                break
        block = b"x" * (200 * 1024 * 1024)
        time.sleep(3)
        print("survived", os.getpid())
        """,
        limits=JailLimits(memory_mb=400, wall_s=60),
    )
    assert proc.oom_killed, out
    assert out.count("survived") < 3


def test_tmp_and_shm_are_private_and_gone_afterwards():
    marker = f"kafkaml-jail-test-{os.getpid()}"
    _, out = run_job(f"""
        import os
        for d in ("/tmp", "/dev/shm", "/var/tmp"):
            open(os.path.join(d, "{marker}"), "w").write("x")
        print(sorted(os.listdir("/tmp")))
    """)
    assert marker in out
    for d in ("/tmp", "/dev/shm", "/var/tmp"):
        assert not os.path.exists(os.path.join(d, marker))
    _, out = run_job(f"import os; print(os.path.exists('/tmp/{marker}'))")
    assert out.strip() == "False"


def test_a_job_cannot_signal_another_job():
    victim = spawn(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        limits=JailLimits(),
        workdir=new_job_dir(),
    )
    try:
        deadline = time.monotonic() + 10
        while not (pids := processes_of(victim.job.uid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pids
        _, out = run_job(f"""
            import os, signal
            for pid in {pids} + [1]:
                try:
                    os.kill(pid, signal.SIGKILL)
                    print("sent", pid)
                except OSError as exc:
                    print("refused", pid, type(exc).__name__)
            print(sorted(p for p in os.listdir("/proc") if p.isdigit()))
        """)
        time.sleep(0.3)
        assert victim.poll() is None, out  # still running
        assert processes_of(victim.job.uid) == pids
    finally:
        victim.kill()
        victim.wait()
        shutil.rmtree(victim.job.workdir)
    assert victim.returncode == -signal.SIGKILL


def test_data_dir_and_other_jobs_dirs_are_out_of_reach(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "db.sqlite3").write_text("admin-token")
    os.chmod(data / "db.sqlite3", 0o644)  # even a world-readable file there stays hidden
    monkeypatch.setenv("KAFKAML_DATA_DIR", str(data))
    other = new_job_dir()
    (other / "code.py").write_text("bob's code")
    inputs = tmp_path / "inputs.bin"
    inputs.write_bytes(b"arrays")
    os.chmod(inputs, 0o600)
    _, out = run_job(
        f"""
        import os
        for path in ("{data}/db.sqlite3", "{other}/code.py", "{inputs}"):
            try:
                print(path, open(path).read())
            except OSError as exc:
                print(path, "DENIED", type(exc).__name__)
        try:
            open("{inputs}", "a").write("x")
        except OSError as exc:
            print("write DENIED")
    """,
        readable=[inputs],
    )
    shutil.rmtree(other)
    assert "admin-token" not in out and "bob's code" not in out, out
    assert f"{inputs} arrays" in out and "write DENIED" in out, out
    assert os.stat(inputs).st_uid == 0  # lent to the job's uid for its lifetime only


def test_wall_clock_and_kill_end_the_whole_job():
    start = time.monotonic()
    proc, _ = run_job("import time; time.sleep(30)", limits=JailLimits(memory_mb=256, wall_s=1))
    assert proc.timed_out and time.monotonic() - start < 10
    assert processes_of(proc.job.uid) == []
    assert not Path(proc.job.workdir).exists() or os.stat(proc.job.workdir).st_uid == 0


def test_without_root_jobs_still_run_and_capabilities_say_what_is_missing(monkeypatch, tmp_path):
    """The degraded single-user mode, as a non-root platform gets it (euid faked here)."""
    root = tmp_path / "jobs"
    root.mkdir(mode=0o700)
    os.chown(root, 1000, 1000)
    monkeypatch.setenv("KAFKAML_JAIL_ROOT", str(root))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    caps = capabilities.__wrapped__()
    assert not caps.complete
    assert any("not running as root" in m for m in caps.missing)
    monkeypatch.setenv("KAFKAML_API_TOKEN", "s3cr3t-token")
    proc, out = run_job("""
        import os
        print("token" in str(os.environ), os.getsid(0), os.getcwd())
    """)
    assert not proc.job.isolated and proc.returncode == 0
    assert out.split()[0] == "False" and int(out.split()[1]) != os.getsid(0), out
    proc, _ = run_job("import time; time.sleep(30)", limits=JailLimits(wall_s=1))
    assert proc.timed_out


def test_a_platform_umask_of_077_does_not_lock_the_job_out():
    old = os.umask(0o077)  # kafkaml up keeps the data dir private this way
    try:
        proc, out = run_job("import numpy, os; open('f', 'w'); print(oct(os.stat('f').st_mode))")
    finally:
        os.umask(old)
    assert proc.returncode == 0 and out.strip() == "0o100600", out
