"""Run a real platform (``kafkaml up``) for end-to-end journeys, with either launcher.

:class:`Platform` is what a journey gets: the web URL, an authenticated REST session, the broker
address, and :meth:`Platform.workload` to look at one workload through the configured launcher
(the only place where the launchers differ: a local supervisor process, or a Job/Deployment in
the fake Kubernetes API of ``fake_kube.py``, which runs the pods as local processes).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from kafkaml.broker import free_port
from kafkaml.workloads.launchers.base import Launcher, WorkloadStatus

KAFKAML = str(Path(sys.executable).with_name("kafkaml"))
FAKE_KUBE = Path(__file__).with_name("fake_kube.py")
NAMESPACE = "kafkaml-e2e"
STRIPPED_ENV = ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "DJANGO_SETTINGS_MODULE")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the integrations: ``kafkaml up`` runs on embedded defaults."""
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
    env = {k: v for k, v in env.items() if not k.startswith(("KAFKAML_", "MLCODE_"))}
    return {**env, **extra}


def up_command(
    data_dir: Path, port: int, executor_port: int = 0, broker_port: int = 0
) -> list[str]:
    """``kafkaml up`` on the given ports (free ones where 0)."""
    return [
        KAFKAML,
        "up",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--executor-port",
        str(executor_port or free_port()),
        "--broker-port",
        str(broker_port or free_port()),
    ]


class Output:
    """Collects a process's output lines in a thread."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process):
        for line in process.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, process: subprocess.Popen, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text)
            if match:
                return match
            if process.poll() is not None:
                time.sleep(0.2)  # let the reader drain the last lines
                raise AssertionError(f"exited with {process.returncode}:\n{self.text}")
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} after {timeout:.0f}s:\n{self.text}")


def _stop(process: subprocess.Popen, timeout: float = 60) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass
class Platform:
    url: str
    bootstrap_servers: str
    http: requests.Session
    data_dir: Path
    launcher_name: str
    launcher: Launcher
    logs: Callable[[], str] = field(repr=False, default=lambda: "")

    def api(self, method: str, path: str, expect: int | tuple[int, ...] = (200, 201), **kwargs):
        """Call ``/api/v1/<path>`` and return the JSON (or bytes) of an expected answer."""
        response = self.http.request(method, f"{self.url}/api/v1/{path}", timeout=120, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, (
            f"{method} {path} -> {response.status_code}: {response.text[:2000]}"
        )
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return response.json()
        return response.content

    def deploy(self, name: str, framework: str, imports: str, code: str, **settings) -> dict:
        """One model, a configuration of it and its deployment (``settings``): the deployment."""
        body = {"name": name, "framework": framework, "imports": imports, "code": code}
        model = self.api("POST", "models/", json=body)
        configuration = self.api(
            "POST", "configurations/", json={"name": name, "models": [model["id"]]}
        )
        return self.api(
            "POST", "deployments/", json={"configuration": configuration["id"], **settings}
        )

    def workload(self, name: str) -> WorkloadStatus:
        """The workload as the configured launcher reports it."""
        return self.launcher.status(name)

    def wait_workload(
        self, name: str, accept: Callable[[WorkloadStatus], bool], timeout: float = 60
    ) -> WorkloadStatus:
        deadline = time.monotonic() + timeout
        status = self.workload(name)
        while not accept(status):
            if time.monotonic() > deadline:
                raise AssertionError(f"workload {name} still {status} after {timeout:.0f}s")
            time.sleep(0.5)
            status = self.workload(name)
        return status


@contextmanager
def run_platform(tmp_path: Path, launcher_name: str, launcher: Launcher, **env: str):
    """``kafkaml up`` in ``tmp_path`` on free ports; yields a logged-in :class:`Platform`."""
    data_dir, port = tmp_path / "data", free_port()
    process = subprocess.Popen(
        up_command(data_dir, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=clean_env(**env),
        text=True,
    )
    output = Output(process)
    try:
        output.wait_for(r"Kafka-ML is up", process, timeout=150)
        password = re.search(r"password:\s*(\S+)", output.text).group(1)
        bootstrap = re.search(r"embedded Tansu on (\S+)", output.text).group(1)
        url = f"http://127.0.0.1:{port}"
        response = requests.post(
            f"{url}/api/v1/auth/token/",
            json={"username": "admin", "password": password},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        http = requests.Session()
        http.headers["Authorization"] = f"Token {response.json()['token']}"

        def logs() -> str:
            parts = [f"--- kafkaml up ---\n{output.text}"]
            for log in sorted((data_dir / "logs").glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-40:]
                parts.append(f"--- {log.name} ---\n" + "\n".join(tail))
            return "\n".join(parts)

        yield Platform(url, bootstrap, http, data_dir, launcher_name, launcher, logs)
    finally:
        _stop(process)
        output.thread.join(10)


@dataclass
class FakeCluster:
    url: str
    token_file: Path
    state_dir: Path
    output: Output

    def api_client(self):
        from kubernetes import client as k8s

        configuration = k8s.Configuration()
        configuration.host = self.url
        configuration.api_key = {"authorization": self.token_file.read_text().strip()}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        return k8s.ApiClient(configuration)

    def create_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        from kubernetes import client as k8s

        body = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=name), string_data=data)
        k8s.CoreV1Api(self.api_client()).create_namespaced_secret(namespace, body)

    def pod_logs(self) -> str:
        parts = []
        for log in sorted(self.state_dir.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-40:]
            parts.append(f"--- pod {log.stem} ---\n" + "\n".join(tail))
        return "\n".join(parts)


@contextmanager
def run_fake_cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    """The fake Kubernetes API (``fake_kube.py``) as a process, running pods with this Python."""
    token_file = tmp_path / "cluster-token"
    token_file.write_text(secrets.token_hex(16))
    state_dir = tmp_path / "pods"
    process = subprocess.Popen(
        [
            sys.executable,
            str(FAKE_KUBE),
            "--token-file",
            str(token_file),
            "--state-dir",
            str(state_dir),
            "--python",
            sys.executable,
            "--grace",
            "15",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=clean_env(),
        text=True,
    )
    output = Output(process)
    try:
        url = output.wait_for(r"listening on (\S+)", process, timeout=30).group(1)
        yield FakeCluster(url, token_file, state_dir, output)
    finally:
        _stop(process)
        output.thread.join(10)


@contextmanager
def local_platform(tmp_path: Path) -> Iterator[Platform]:
    from kafkaml.workloads.launchers.local import LocalLauncher

    launcher = LocalLauncher(root=tmp_path / "data" / "workloads")
    with run_platform(tmp_path, "local", launcher) as platform:
        yield platform


@contextmanager
def kubernetes_platform(tmp_path: Path) -> Iterator[Platform]:
    """The platform with ``KAFKAML_LAUNCHER=kubernetes`` against the fake API server.

    As on a real cluster, each workload's credential travels in its own Secret, which the
    launcher creates with the Job/Deployment and the pods read through ``secretKeyRef``.
    """
    from kafkaml.workloads.launchers.kubernetes import KubernetesLauncher, KubernetesSettings

    with run_fake_cluster(tmp_path) as cluster:
        launcher = KubernetesLauncher(
            settings=KubernetesSettings(namespace=NAMESPACE),
            api_client=cluster.api_client(),
        )
        env = {
            "KAFKAML_LAUNCHER": "kubernetes",
            "KAFKAML_K8S_API_HOST": cluster.url,
            "KAFKAML_K8S_API_TOKEN_FILE": str(cluster.token_file),
            "KAFKAML_K8S_VERIFY_SSL": "false",
            "KAFKAML_K8S_NAMESPACE": NAMESPACE,
        }
        with run_platform(tmp_path, "kubernetes", launcher, **env) as platform:
            base_logs = platform.logs
            platform.logs = lambda: f"{base_logs()}\n{cluster.pod_logs()}"
            yield platform
