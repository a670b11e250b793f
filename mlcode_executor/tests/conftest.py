import json
import os
import secrets
import subprocess
import sys
import time

import pytest

from mlcode_executor.client import ExecutorClient

try:  # before any TensorFlow import: the CUDA torch build's triton crashes after TensorFlow
    import torch._dynamo  # noqa: F401
except ImportError:  # pragma: no cover
    pass

SECRET = secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def executor():
    """One real service (HTTP + zygote with TensorFlow and PyTorch) for the whole session,
    authenticated with a fresh shared secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCODE_EXECUTOR_")}
    env["MLCODE_EXECUTOR_SECRET"] = SECRET
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlcode_executor", "--port", "0", "--timeout", "20"],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        line = json.loads(proc.stdout.readline())
        assert line["event"] == "listening", line
        client = ExecutorClient(line["url"], timeout=120, secret=SECRET)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if client.health()["status"] == "ok":
                    break
            except Exception:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the executor did not become ready")
        yield client
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
