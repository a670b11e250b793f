"""Start a real MLServer (its own environment, ``.ci/install-mlserver.sh``) on loopback
serving Kafka-ML artifacts with :mod:`model_inference.mlserver_onnx`: for the external-runtime
tests and the benchmark."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = REPO / ".ci" / "install-mlserver.sh"


class MLServerUnavailable(RuntimeError):
    pass


def mlserver_bin() -> Path:
    """The bin folder of MLServer's environment (installed by the script when missing)."""
    home = os.environ.get("KAFKAML_MLSERVER_BIN")
    if home:
        return Path(home)
    try:
        out = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)], check=True, capture_output=True, text=True, timeout=900
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise MLServerUnavailable(f"{INSTALL_SCRIPT} failed: {exc}") from exc
    return Path(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MLServer:
    """``MLServer(folder, {"name": artifact_dir, ...})``: a model repository in ``folder``,
    one model per artifact. ``start()`` / ``kill()`` (SIGKILL) / ``stop()``; the HTTP port is
    kept across restarts."""

    def __init__(self, folder: str | Path, models: dict[str, str | Path], workers: int = 0):
        self.folder = Path(folder)
        self.models = models
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.bin = mlserver_bin()
        self.folder.mkdir(parents=True, exist_ok=True)
        settings = {
            "host": "127.0.0.1",
            "http_port": self.port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "parallel_workers": workers,
            "debug": False,
        }
        (self.folder / "settings.json").write_text(json.dumps(settings))
        shutil.copy(REPO / "model_inference" / "mlserver_onnx.py", self.folder)
        for name, artifact in models.items():
            d = self.folder / name
            d.mkdir(exist_ok=True)
            (d / "model-settings.json").write_text(
                json.dumps(
                    {
                        "name": name,
                        "implementation": "mlserver_onnx.KafkaMLOnnx",
                        "parameters": {"uri": str(Path(artifact).resolve())},
                    }
                )
            )

    def start(self, timeout: float = 120.0) -> MLServer:
        env = {
            **os.environ,
            "PYTHONPATH": str(self.folder),
            "KAFKAML_ORT_THREADS": "1",
        }
        log = open(self.folder / "mlserver.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [str(self.bin / "mlserver"), "start", str(self.folder)],
            cwd=self.folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MLServerUnavailable(f"mlserver exited: {self.log_tail()}")
            if all(self.ready(name) for name in self.models):
                return self
            time.sleep(0.3)
        self.stop()
        raise MLServerUnavailable(f"mlserver not ready in {timeout}s: {self.log_tail()}")

    def ready(self, name: str) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v2/models/{name}/ready", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def log_tail(self) -> str:
        path = self.folder / "mlserver.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server and its children (no graceful shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> MLServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
