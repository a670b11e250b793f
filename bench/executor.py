"""Validation latency of the MNIST templates with a warm executor.

    python bench/executor.py [--runs 20] [--url http://127.0.0.1:8001]

Without --url it starts its own service (``python -m mlcode_executor --port 0``, with a fresh
``MLCODE_EXECUTOR_SECRET``; with --url the secret comes from the environment), waits until
the zygote is ready, warms up, then times ``--runs`` sequential validations per framework
(client-side wall time of POST /validate, each a fresh jailed job when running as root). Prints JSON:
``{"keras": {"p50", "p95", "mean", "runs"}, "pytorch": {...}, "unit": "s"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time

from mlcode_executor.client import ExecutorClient
from mlcode_executor.templates import get_template


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure(client: ExecutorClient, name: str, runs: int, warmup: int) -> dict[str, float]:
    tpl = get_template(name)
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        answer = client.validate(tpl["framework"], tpl["imports"], tpl["code"])
        elapsed = time.perf_counter() - t0
        if not answer["ok"]:
            raise SystemExit(f"{name} did not validate: {answer['error']}")
        if i >= warmup:
            times.append(elapsed)
    return {
        "p50": round(percentile(times, 0.5), 4),
        "p95": round(percentile(times, 0.95), 4),
        "mean": round(statistics.mean(times), 4),
        "runs": runs,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--url", default=None)
    args = p.parse_args()
    proc = None
    secret = os.environ.get("MLCODE_EXECUTOR_SECRET")
    if args.url is None:
        secret = secrets.token_urlsafe(24)
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlcode_executor", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MLCODE_EXECUTOR_SECRET": secret},
        )
        assert proc.stdout is not None
        args.url = json.loads(proc.stdout.readline())["url"]
    try:
        client = ExecutorClient(args.url, secret=secret)
        t0 = time.perf_counter()
        while True:
            try:
                if client.health()["status"] == "ok":
                    break
            except Exception:
                pass
            if time.perf_counter() - t0 > 300:
                raise SystemExit("the executor did not become ready")
            time.sleep(0.2)
        startup = time.perf_counter() - t0
        out = {
            "keras": measure(client, "keras-mnist", args.runs, args.warmup),
            "pytorch": measure(client, "pytorch-mnist", args.runs, args.warmup),
            "unit": "s",
            "startup_s": round(startup, 2) if proc is not None else None,
            "jail_complete": client.health()["sandbox"]["jail"]["complete"],
        }
        print(json.dumps(out))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
