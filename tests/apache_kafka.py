"""Apache Kafka brokers for the test suite, started from the Maven-resolved jars.

``.ci/install-kafka.sh`` resolves Apache Kafka 4.x (``org.apache.kafka:kafka_2.13``) with Maven
into a cache folder; :class:`ApacheKafka` formats KRaft storage with ``kafka.tools.StorageTool``
and runs ``kafka.Kafka`` (combined broker + controller) on free loopback ports, with a small heap
so it fits a 2-core machine beside the rest of the suite.

Two flavours:

* plain (``PLAINTEXT``, no authorizer): the same tests as on the embedded broker;
* ``sasl=True``: the client listener is ``SASL_PLAINTEXT`` with SCRAM-SHA-512, the
  ``StandardAuthorizer`` is on and denies what no ACL allows; ``admin`` (a super user, its SCRAM
  credential made at format time) is what the platform would use to provision principals
  through the Admin API.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kafkaml.broker import BrokerError, free_port, port_is_open, terminate_with_parent

REPO = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = REPO / ".ci" / "install-kafka.sh"
ADMIN_USER = "admin"
SCRAM = "SCRAM-SHA-512"


def kafka_libs() -> Path:
    """The folder of Apache Kafka's jars, resolved by ``.ci/install-kafka.sh`` (run here when
    the cache is missing: Maven and Java are on the machines)."""
    done = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise BrokerError(f"could not resolve Apache Kafka with Maven:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def _cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass
class ApacheKafka:
    """One KRaft node (broker + controller) on loopback; a context manager."""

    work_dir: Path
    sasl: bool = False
    admin_password: str = field(default_factory=lambda: uuid.uuid4().hex)
    heap_mb: int = 384
    port: int = 0
    controller_port: int = 0
    process: subprocess.Popen | None = field(default=None, init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client_config(self, username: str | None = None, password: str | None = None) -> dict:
        """librdkafka settings for a client of this broker (``admin`` by default on SASL)."""
        config = {"bootstrap.servers": self.bootstrap_servers}
        if self.sasl:
            config.update(
                {
                    "security.protocol": "SASL_PLAINTEXT",
                    "sasl.mechanism": SCRAM,
                    "sasl.username": username or ADMIN_USER,
                    "sasl.password": password or self.admin_password,
                }
            )
        return config

    def _properties(self) -> str:
        client = "SASL_PLAINTEXT" if self.sasl else "PLAINTEXT"
        lines = [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=CLIENT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=CLIENT://127.0.0.1:{self.port}",
            "inter.broker.listener.name=CLIENT",
            "controller.listener.names=CONTROLLER",
            f"listener.security.protocol.map=CLIENT:{client},CONTROLLER:PLAINTEXT",
            f"log.dirs={self.work_dir / 'data'}",
            "num.partitions=4",  # as the embedded broker auto-creates them
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "log.retention.check.interval.ms=3600000",
        ]
        if self.sasl:
            lines += [
                f"sasl.enabled.mechanisms={SCRAM}",
                f"sasl.mechanism.inter.broker.protocol={SCRAM}",
                f"listener.name.client.{SCRAM.lower()}.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{ADMIN_USER}" password="{self.admin_password}";',
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                f"super.users=User:{ADMIN_USER};User:ANONYMOUS",
                "allow.everyone.if.no.acl.found=false",
            ]
        return "\n".join(lines) + "\n"

    def _java(self, libs: Path, main: str, *args: str, heap_mb: int = 128) -> list[str]:
        log4j = self.work_dir / "log4j2.properties"
        return [
            "java",
            f"-Xmx{heap_mb}m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{libs}/*",
            main,
            *args,
        ]

    def start(self, timeout: float = 90.0) -> ApacheKafka:
        libs = kafka_libs()
        if not shutil.which("java"):
            raise BrokerError("Apache Kafka needs Java 17+ on PATH")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        config = self.work_dir / "server.properties"
        config.write_text(self._properties())
        (self.work_dir / "log4j2.properties").write_text(
            "rootLogger.level=WARN\nrootLogger.appenderRef.f.ref=F\n"
            "appender.f.type=File\nappender.f.name=F\n"
            f"appender.f.fileName={self.work_dir / 'kafka.log'}\n"
            "appender.f.layout.type=PatternLayout\n"
            "appender.f.layout.pattern=%d %p %c: %m%n\n"
        )
        fmt = ["format", "-t", _cluster_id(), "-c", str(config)]
        if self.sasl:
            fmt += [
                "--add-scram",
                f"{SCRAM}=[name={ADMIN_USER},password={self.admin_password}]",
            ]
        done = subprocess.run(
            self._java(libs, "kafka.tools.StorageTool", *fmt),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise BrokerError(f"kafka-storage format failed:\n{done.stdout}\n{done.stderr}")
        out = open(self.work_dir / "stdout.log", "ab")
        self.process = subprocess.Popen(
            self._java(libs, "kafka.Kafka", str(config), heap_mb=self.heap_mb),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=terminate_with_parent,
        )
        out.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise BrokerError(f"Apache Kafka exited; see {self.work_dir / 'kafka.log'}")
            if port_is_open("127.0.0.1", self.port):
                try:
                    metadata = AdminClient(self.client_config()).list_topics(timeout=3)
                    if metadata.brokers:
                        return
                except Exception:
                    pass
            time.sleep(0.5)
        self.stop()
        raise BrokerError(f"Apache Kafka did not answer on {self.port} in {timeout:.0f}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(10)
        self.process = None

    def __enter__(self) -> ApacheKafka:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
