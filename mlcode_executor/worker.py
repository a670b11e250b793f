"""The sandboxed side: what runs as the job's pid 1, inside the jail, with the user's code.

Forked from the zygote's per-request monitor (so TensorFlow and PyTorch are already imported),
it enters the job (:func:`mlcode_executor.jail.enter`: own uid, namespaces, cgroup, rlimits),
validates, writes one JSON result to a pipe and exits; the job's namespace dies with it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from mlcode_executor import jail
from mlcode_executor.protocol import cpu_limit, error

# What the frameworks need on top of the jail's clean environment (single-threaded runtimes).
FRAMEWORK_ENV = {
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}


class _Raise:
    def __init__(self, exc_type: type[BaseException], message: str) -> None:
        self.exc_type, self.message = exc_type, message

    def __call__(self, signum: int, frame: Any) -> None:
        raise self.exc_type(self.message)


def job_limits(limits: dict[str, Any]) -> jail.JailLimits:
    """The jail limits of one validation: the request's timeout, the service's caps."""
    return jail.JailLimits(
        memory_mb=int(limits["memory_mb"]),
        cpu_s=cpu_limit(limits),
        wall_s=float(limits["timeout_s"]) + 10,  # the monitor kills first; this is a backstop
        processes=512,
        output_bytes=int(limits["output_bytes"]),
        open_files=256,
        address_space_mb=int(limits["memory_mb"]),
    )


def run(req: dict[str, Any], wfd: int) -> None:
    """In a child forked by the monitor: never returns."""
    result: dict[str, Any]
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(req["stdout_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(req["stderr_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        keep = sorted({0, 1, 2, wfd})
        for lo, hi in zip(keep, [*keep[1:], 65536], strict=True):
            os.closerange(lo + 1, hi)
        job = jail.Job.from_spec(req["job"])
        jail.enter(job)  # from here on: the job's pid 1, as the job's uid
        os.environ.clear()
        os.environ.update({**jail.clean_env(job.workdir), **FRAMEWORK_ENV})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        from mlcode_executor import usercode

        limits = req["limits"]
        timeout = float(limits["timeout_s"])
        signal.signal(
            signal.SIGALRM,
            _Raise(usercode.WallClockLimit, f"wall-clock limit of {timeout:g} s exceeded"),
        )
        signal.signal(
            signal.SIGXCPU,
            _Raise(usercode.CpuTimeLimit, f"CPU time limit of {cpu_limit(limits)} s exceeded"),
        )
        signal.setitimer(signal.ITIMER_REAL, timeout)
        result = _run_job(req, usercode, int(limits["memory_mb"]))
        signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:  # noqa: BLE001 - anything here is reported, not raised
        result = error("InternalError", f"{type(exc).__name__}: {exc}", "internal")
    try:
        data = json.dumps(result).encode()
    except Exception as exc:
        data = json.dumps(error("InternalError", f"unserialisable result: {exc}", "internal"))
        data = data.encode()
    try:
        view = memoryview(data)
        while view:
            n = os.write(wfd, view)
            view = view[n:]
    except OSError:
        pass
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(0)


def _limit_message(err: dict[str, Any], memory_mb: int) -> None:
    kind = err.get("kind")
    if kind == "memory":
        detail = "" if err["message"] == err["type"] else f": {err['message']}"
        err["message"] = f"memory limit exceeded ({memory_mb} MiB){detail}"
    elif err.get("type") in ("PermissionError", "ProcessLookupError"):
        err["message"] += (
            " (model code runs in a sandbox: it cannot signal other processes or "
            "write outside its empty working directory)"
        )
    elif kind == "timeout":
        err["message"] = (
            f"{err['message']}: the model code did not finish in time (an endless loop?)"
        )
    elif kind == "cpu":
        err["message"] = f"{err['message']}: the model code used too much CPU time"


def _run_job(req: dict[str, Any], usercode: Any, memory_mb: int) -> dict[str, Any]:
    framework = req["framework"]

    def one(imports: str, code: str, input_shape: Any) -> dict[str, Any]:
        try:
            return {"ok": True, "result": usercode.validate(framework, imports, code, input_shape)}
        except usercode.UserCodeError as exc:
            err = exc.to_dict()
            _limit_message(err, memory_mb)
            return {"ok": False, "error": err}

    if req["op"] == "validate":
        return one(req.get("imports", ""), req.get("code", ""), req.get("input_shape"))
    if req["op"] == "validate-chain":
        return _run_chain(req, usercode, one)
    return error("InternalError", f"unknown op {req['op']!r}", "internal")


def _run_chain(req: dict[str, Any], usercode: Any, one: Any) -> dict[str, Any]:
    models = []
    for m in req["models"]:
        r = one(m.get("imports", ""), m.get("code", ""), m.get("input_shape"))
        models.append({"name": m["name"], **r})
        if not r["ok"] and r["error"].get("kind") in ("timeout", "cpu", "memory"):
            break
    links = usercode.check_chain([{"name": m["name"], "result": m.get("result")} for m in models])
    ok = (
        all(m["ok"] for m in models)
        and all(link["ok"] for link in links)
        and len(models) == len(req["models"])
    )
    out: dict[str, Any] = {"ok": ok, "models": models, "links": links}
    if not ok:
        bad_model = next((m for m in models if not m["ok"]), None)
        bad_link = next(
            (link for link in links if not link["ok"] and not link.get("skipped")), None
        )
        if bad_model is not None:
            out["error"] = {**bad_model["error"], "model": bad_model["name"]}
        elif bad_link is not None:
            out["error"] = error(
                "ChainMismatch", bad_link["message"], "chain", link=bad_link["name"]
            )["error"]
    return out
