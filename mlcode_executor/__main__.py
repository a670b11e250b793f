"""``python -m mlcode_executor``: start the validation service."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from mlcode_executor import DEFAULT_PORT
from mlcode_executor.sandbox import SandboxConfig
from mlcode_executor.server import serve


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog="python -m mlcode_executor", description="Kafka-ML model-code validation service"
    )
    p.add_argument("--host", default=env("MLCODE_EXECUTOR_HOST", "127.0.0.1"))
    p.add_argument(
        "--port",
        type=int,
        default=int(env("MLCODE_EXECUTOR_PORT", DEFAULT_PORT)),
        help="0 picks a free port (printed on stdout)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=int(env("MLCODE_EXECUTOR_WORKERS", 2)),
        help="validations run at the same time",
    )
    p.add_argument(
        "--per-user",
        type=int,
        default=int(env("MLCODE_EXECUTOR_PER_USER", 1)),
        help="validations one user may run at the same time",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=float(env("MLCODE_EXECUTOR_TIMEOUT", 60)),
        help="wall-clock limit per validation, seconds",
    )
    p.add_argument(
        "--memory-mb",
        type=int,
        default=int(env("MLCODE_EXECUTOR_MEMORY_MB", 2048)),
        help="memory a validation (all its processes) may use beyond the pre-imported frameworks",
    )
    p.add_argument(
        "--cpu",
        type=float,
        default=float(env("MLCODE_EXECUTOR_CPU_S", 0)) or None,
        help="CPU-time limit per validation, seconds (default: 2 x the timeout + 5)",
    )
    p.add_argument("--frameworks", default=env("MLCODE_EXECUTOR_FRAMEWORKS", "tensorflow,pytorch"))
    args = p.parse_args(argv)
    config = SandboxConfig(
        timeout_s=args.timeout,
        memory_mb=args.memory_mb,
        cpu_s=args.cpu,
        workers=max(1, args.workers),
        per_user=max(1, args.per_user),
        frameworks=tuple(f.strip() for f in args.frameworks.split(",") if f.strip()),
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # the shared secret comes from the environment only (never a flag: argv is public)
    serve(args.host, args.port, config, env("MLCODE_EXECUTOR_SECRET") or None)


if __name__ == "__main__":
    main()
