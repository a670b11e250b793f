"""The one sandbox for all user code: validation in the executor, training in a workload.

    from mlcode_executor.jail import JailLimits, capabilities, new_job_dir, spawn

    job_dir = new_job_dir()
    proc = spawn(["python", "-m", "model_training.sandboxed", "--job-dir", str(job_dir)],
                 limits=JailLimits(memory_mb=4096), workdir=job_dir,
                 readable=[inputs], stdout=subprocess.PIPE)
    for line in proc.stdout: ...
    proc.wait()          # ends (and cleans) the whole job: every process it spawned is killed
    proc.kill()          # kills the whole job at once

A forked child becomes a job in-process with ``enter(Job.from_spec(spec))`` (the executor's
zygote). Each job: its own unprivileged uid (leased, never shared by two live jobs), a clean
environment, its own network (nothing reachable), mount, IPC and PID namespaces, a private
``/tmp``, ``/var/tmp`` and ``/dev/shm`` gone with it, the data dir and other jobs' dirs hidden,
a cgroup limiting the memory and processes of the whole job, rlimits (CPU, file size, open
files), a wall clock, and every process killed when it ends. ``capabilities()`` says which of
these this machine allows (all of them only as root). See docs/security.md.
"""

from mlcode_executor.jail.capabilities import Capabilities, capabilities
from mlcode_executor.jail.job import JailError, JailLimits, Job, enter, jail_root, new_job_dir
from mlcode_executor.jail.process import JailedProcess, clean_env, spawn

__all__ = [
    "Capabilities",
    "JailError",
    "JailLimits",
    "JailedProcess",
    "Job",
    "capabilities",
    "clean_env",
    "enter",
    "jail_root",
    "new_job_dir",
    "spawn",
]
