"""One sandboxed job: what the platform sets up for it (uid, cgroup, dirs) and what a process
does to become it (:func:`enter`). Both ways of running user code use this: ``spawn`` (exec a
command, e.g. the sandboxed trainer) and the executor's zygote (fork, run in-process).

Process layout of a job once entered::

    holder (root)     in the job's cgroup, mount and network namespaces; outside its PID
      │               namespace: waits for pid 1, enforces the wall clock, mirrors its status
      └─ pid 1 (job uid)   the job proper; when it exits the kernel kills every process
                           left in its PID namespace (a double-forked setsid child included)
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlcode_executor.jail import linux, mounts, uids
from mlcode_executor.jail.cgroup import JobCgroup

JAIL_ROOT = Path(os.environ.get("KAFKAML_JAIL_ROOT", "/tmp/kafkaml-jobs"))


@dataclass(frozen=True)
class JailLimits:
    memory_mb: int = 2048  # the whole job (cgroup), not per process
    cpu_s: int | None = None  # CPU seconds per process (RLIMIT_CPU); None: no limit
    wall_s: float | None = None  # wall clock for the whole job; None: no limit
    processes: int = 512  # processes + threads the job may have at once (TF starts many)
    output_bytes: int = 64 * 1024 * 1024  # largest file the job may write
    open_files: int = 1024
    # per-process address space on top of the caller's (RLIMIT_AS); gives a MemoryError at
    # the allocating line instead of the cgroup's SIGKILL. None: no limit.
    address_space_mb: int | None = None


class JailError(RuntimeError):
    """The job could not be set up as asked."""


def jail_root() -> Path:
    """The root-owned, 0711 directory holding every job's 0700 dir (``$KAFKAML_JAIL_ROOT``)."""
    default = str(JAIL_ROOT) if os.geteuid() == 0 else f"{JAIL_ROOT}-{os.geteuid()}"
    root = Path(os.environ.get("KAFKAML_JAIL_ROOT", default))
    return uids.ensure_private_dir(root, 0o711 if os.geteuid() == 0 else 0o700)


def new_job_dir(prefix: str = "job-") -> Path:
    """A fresh, empty 0700 dir for one job under the jail root (chowned to the job's uid when
    it is given to ``spawn``/``Job.create`` as ``workdir``)."""
    path = jail_root() / f"{prefix}{secrets.token_hex(8)}"
    path.mkdir(mode=0o700)
    return path


def _runtime_paths() -> list[str]:
    """What a job needs to read to run Python at all: the interpreter and the platform code."""
    pkg_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, pkg_root)}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(paths)


def _hidden_default() -> list[str]:
    pkg_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    hidden = [str(JAIL_ROOT), os.environ.get("KAFKAML_JAIL_ROOT", "")]
    # the platform's data dir (kafkaml up exports it; .kafkaml in the checkout by default)
    hidden += [os.environ.get("KAFKAML_DATA_DIR", ""), os.path.join(pkg_root, ".kafkaml")]
    return [os.path.realpath(h) for h in hidden if h]


@dataclass
class Job:
    """A job's resources. ``Job.create`` (in the platform, as root) leases a uid, makes the
    cgroup and hands the workdir to the uid; ``close`` undoes all of it. ``spec()`` carries
    what the job's own processes need across a fork or exec (``Job.from_spec``)."""

    workdir: str
    limits: JailLimits
    uid: int | None = None
    network: bool = False
    readable: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    cgroup: dict[str, str] = field(default_factory=dict)
    isolated: bool = False  # namespaces + own uid (root); False: degraded single-user mode
    # the job sees a fresh tmpfs at ``workdir`` instead of the dir (nothing it writes reaches
    # the disk or outlives it); only when isolated
    private_workdir: bool = False
    owns_workdir: bool = False
    _lease: uids.UidLease | None = field(default=None, repr=False)
    _chowned: list[tuple[str, int, int]] = field(default_factory=list, repr=False)

    @classmethod
    def create(
        cls,
        *,
        limits: JailLimits,
        workdir: Path | str | None = None,
        readable: list[Path] | tuple[Path, ...] = (),
        network: bool = False,
        hidden: list[Path] | tuple[Path, ...] = (),
        private_workdir: bool = False,
    ) -> Job:
        owns = workdir is None
        work = os.path.realpath(workdir if workdir is not None else new_job_dir())
        asked = [os.path.realpath(p) for p in readable]
        job = cls(
            workdir=work,
            limits=limits,
            network=network,
            readable=asked + _runtime_paths(),
            hidden=[os.path.realpath(p) for p in hidden] + _hidden_default(),
            owns_workdir=owns,
            private_workdir=private_workdir,
        )
        if os.geteuid() != 0:
            return job
        try:
            job._lease = uids.allocate()
            job.uid = job._lease.uid
            group = JobCgroup.create(
                f"u{job.uid}",
                memory_bytes=limits.memory_mb * 1024 * 1024,
                processes=limits.processes,
            )
            job.cgroup = group.spec()
            job._give(work)
            for path in asked:  # the runtime paths are world-readable already
                job._grant_read(path)
            job.isolated = True
        except BaseException:
            job.close()
            raise
        return job

    # -- platform side ------------------------------------------------------------------------

    def _give(self, path: str) -> None:
        """Hand the workdir tree to the job's uid (0700 at the top)."""
        assert self.uid is not None
        os.chown(path, self.uid, self.uid)
        os.chmod(path, 0o700)
        for top, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(top, name), self.uid, self.uid)

    def _grant_read(self, path: str) -> None:
        """Make ``path`` readable to the job: it is bound read-only into the job's view; one the
        uid could not read by its mode is lent to the uid (owner) until ``close``."""
        if not os.path.exists(path) or mounts._under(path, self.workdir):
            return
        assert self.uid is not None
        entries = [path]
        if os.path.isdir(path):
            for top, dirs, files in os.walk(path):
                entries += [os.path.join(top, n) for n in dirs + files]
        for entry in entries:
            st = os.lstat(entry)
            need = stat_need(st.st_mode)
            if need is None or st.st_mode & need == need:
                continue
            self._chowned.append((entry, st.st_uid, st.st_gid))
            os.lchown(entry, self.uid, st.st_gid)

    def spec(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        data["limits"] = asdict(self.limits)
        return data

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Job:
        spec = dict(spec)
        spec["limits"] = JailLimits(**spec["limits"])
        return cls(**spec)

    def kill(self) -> None:
        """SIGKILL every process of the job."""
        if self.cgroup:
            JobCgroup.from_spec(self.cgroup).kill()

    def oom_killed(self) -> bool:
        return bool(self.cgroup) and JobCgroup.from_spec(self.cgroup).oom_killed()

    def close(self) -> None:
        """End the job: kill what is left, drop the cgroup, give lent files back, take the
        workdir back from the uid (or remove it when the job made it), release the uid."""
        if self.cgroup:
            JobCgroup.from_spec(self.cgroup).remove()
            self.cgroup = {}
        for path, uid, gid in reversed(self._chowned):
            try:
                os.lchown(path, uid, gid)
            except OSError:
                pass
        self._chowned.clear()
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        elif self.uid is not None and os.path.isdir(self.workdir):
            me, group = os.geteuid(), os.getegid()
            for top, dirs, files in os.walk(self.workdir):
                for name in dirs + files:
                    try:
                        os.lchown(os.path.join(top, name), me, group)
                    except OSError:
                        pass
            os.chown(self.workdir, me, group)
        if self._lease is not None:
            self._lease.release()
            self._lease = None


def stat_need(mode: int) -> int | None:
    import stat

    if stat.S_ISDIR(mode):
        return stat.S_IROTH | stat.S_IXOTH
    if stat.S_ISREG(mode):
        return stat.S_IROTH
    return None


# -- job side -----------------------------------------------------------------------------------


def enter(job: Job, *, init: bool = False) -> None:
    """Become the job (call in a freshly forked child, single-threaded).

    Returns in the job's pid 1, confined: own uid, namespaces, limits, cwd = workdir. With
    ``init`` it returns in pid 1's child instead, and pid 1 stays a minimal init (reaps
    orphans, forwards SIGTERM/SIGINT/SIGHUP): use it before ``exec`` of a program that does not
    expect to be pid 1. The calling process stays behind as the holder and never returns from
    here: it exits with the job's status (a signal death is mirrored as the same signal) once
    pid 1 has ended, and by SIGKILL when the wall clock runs out.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    parent = os.getppid()
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(70)
    if job.isolated:
        JobCgroup.from_spec(job.cgroup).join()
        _write("/proc/self/oom_score_adj", "-1000")  # the OOM killer picks the job, not us
        flags = linux.CLONE_NEWNS | linux.CLONE_NEWPID | linux.CLONE_NEWIPC | linux.CLONE_NEWUTS
        if not job.network:
            flags |= linux.CLONE_NEWNET
        linux.unshare(flags)
        tmp_bytes = job.limits.memory_mb * 1024 * 1024
        keep = [] if job.private_workdir else [mounts.Keep(job.workdir, True)]
        keep += [mounts.Keep(p, False) for p in job.readable if not mounts._under(p, job.workdir)]
        mounts.build(keep, job.hidden, tmp_bytes)
        if job.private_workdir:
            mounts.private_dir(job.workdir, job.uid, tmp_bytes)
        if not job.network:
            try:
                linux.loopback_up()
            except OSError:
                pass
    else:
        os.setsid()
    sys.stdout.flush()
    sys.stderr.flush()
    status_r, status_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(status_r)
        _become_pid1(job)
        if init:
            _init(status_w)
        os.close(status_w)
        return
    os.close(status_w)
    _hold(job, pid, status_r)


def _init(status_w: int) -> None:
    """Fork the job's program; stay behind as its init. Returns in the child."""
    child = os.fork()
    if child == 0:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        return

    def forward(signum: int, frame: Any) -> None:
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(70)
        if pid == child:
            os.write(status_w, status.to_bytes(4, "little"))
            os._exit(0)  # the kernel now kills whatever the program left behind


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError:
        pass


def _hold(job: Job, pid: int, status_r: int) -> None:
    """The holder: forward stop requests to pid 1, enforce the wall clock, mirror the end."""
    state = {"timed_out": False}

    def forward(signum: int, frame: Any) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    def wall_clock(signum: int, frame: Any) -> None:
        state["timed_out"] = True
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if job.limits.wall_s:
        signal.signal(signal.SIGALRM, wall_clock)
        signal.setitimer(signal.ITIMER_REAL, float(job.limits.wall_s))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(70)
    reported = os.read(status_r, 4) if not state["timed_out"] else b""
    if len(reported) == 4:
        status = int.from_bytes(reported, "little")
    if not job.isolated:  # no PID namespace: the process group is what we can end
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        for s in (sig, signal.SIGKILL):
            try:
                signal.signal(s, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [s])
            os.kill(os.getpid(), s)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 70)


def _become_pid1(job: Job) -> None:
    """Pid 1 of the job: fresh /proc, limits, the job's uid, no way back to privileges."""
    parent = os.getppid()
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(70)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)
    limits = job.limits
    if job.isolated:
        try:
            mounts.mount_proc()
        except OSError:
            pass  # the host's /proc still works; it shows other processes but not their files
        _write("/proc/self/oom_score_adj", "0")
    else:
        os.setsid()
    rlimits = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, limits.output_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
    ]
    if limits.cpu_s:
        rlimits.append((resource.RLIMIT_CPU, int(limits.cpu_s)))
    if limits.address_space_mb:
        rlimits.append((resource.RLIMIT_AS, _vm_size() + limits.address_space_mb * 1024 * 1024))
    if job.uid is not None:
        rlimits.append((resource.RLIMIT_NPROC, limits.processes))
    for which, value in rlimits:
        soft_hard = (value, value + 2) if which == resource.RLIMIT_CPU else (value, value)
        resource.setrlimit(which, soft_hard)
    if job.uid is not None:
        os.setgroups([])
        os.setresgid(job.uid, job.uid, job.uid)
        os.setresuid(job.uid, job.uid, job.uid)
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # the uid change cleared it
        if os.getppid() != parent:
            os._exit(70)
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    os.umask(0o077)  # what the job writes is its own
    os.chdir(job.workdir)


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0
