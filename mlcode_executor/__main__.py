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
        "--timeout",
        type=float,
        default=float(env("MLCODE_EXECUTOR_TIMEOUT", 60)),
        help="wall-clock limit per validation, seconds",
    )
    p.add_argument(
        "--memory-mb",
        type=int,
        default=int(env("MLCODE_EXECUTOR_MEMORY_MB", 2048)),
        help="memory a validation may allocate beyond the pre-imported frameworks",
    )
    p.add_argument(
        "--cpu",
        type=float,
        default=float(env("MLCODE_EXECUTOR_CPU_S", 0)) or None,
        help="CPU-time limit per validation, seconds (default: 2 x the timeout + 5)",
    )
    p.add_argument(
        "--sandbox-user",
        default=env("MLCODE_EXECUTOR_SANDBOX_USER", "nobody"),
        help="unprivileged user for the sandbox when running as root ('' = keep)",
    )
    p.add_argument("--frameworks", default=env("MLCODE_EXECUTOR_FRAMEWORKS", "tensorflow,pytorch"))
    args = p.parse_args(argv)
    config = SandboxConfig(
        timeout_s=args.timeout,
        memory_mb=args.memory_mb,
        cpu_s=args.cpu,
        workers=max(1, args.workers),
        sandbox_user=args.sandbox_user or None,
        frameworks=tuple(f.strip() for f in args.frameworks.split(",") if f.strip()),
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(args.host, args.port, config)


if __name__ == "__main__":
    main()
