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

:class:`KafkaCluster` runs three such nodes (each broker + controller, one KRaft quorum) with
replication factor 3 and ``min.insync.replicas=2``, for the fault tests (``tests/faults``): it
can kill -9 a node or the leader of a partition, restart a node, and stop / start the whole
cluster on the same data folders and ports.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
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


def unavailable_reason() -> str | None:
    """Why Apache Kafka cannot run here (no Java, Maven could not resolve the jars), or None."""
    if not shutil.which("java"):
        return "Apache Kafka needs Java 17+ on PATH"
    try:
        kafka_libs()
    except (BrokerError, OSError, subprocess.TimeoutExpired) as exc:
        return f"Apache Kafka jars unavailable (needs Maven and .ci/install-kafka.sh): {exc}"
    return None


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
    # A cluster's nodes share the id, the quorum (``id@host:port,...``) and extra settings.
    node_id: int = 1
    cluster_id: str = field(default_factory=_cluster_id)
    quorum_voters: str = ""
    extra_properties: dict[str, str] = field(default_factory=dict)
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
        voters = self.quorum_voters or f"{self.node_id}@127.0.0.1:{self.controller_port}"
        lines = [
            "process.roles=broker,controller",
            f"node.id={self.node_id}",
            f"controller.quorum.voters={voters}",
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
        # later lines win in a .properties file: the cluster's settings replace the defaults
        lines += [f"{key}={value}" for key, value in self.extra_properties.items()]
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
        self.format()
        self.launch()
        self._wait_ready(timeout)
        return self

    def allocate_ports(self) -> None:
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()

    def format(self) -> None:
        """Write the settings and format the KRaft storage (once per data folder)."""
        libs = kafka_libs()
        if not shutil.which("java"):
            raise BrokerError("Apache Kafka needs Java 17+ on PATH")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.allocate_ports()
        config = self.work_dir / "server.properties"
        config.write_text(self._properties())
        (self.work_dir / "log4j2.properties").write_text(
            "rootLogger.level=WARN\nrootLogger.appenderRef.f.ref=F\n"
            "appender.f.type=File\nappender.f.name=F\n"
            f"appender.f.fileName={self.work_dir / 'kafka.log'}\n"
            "appender.f.layout.type=PatternLayout\n"
            "appender.f.layout.pattern=%d %p %c: %m%n\n"
        )
        fmt = ["format", "-t", self.cluster_id, "-c", str(config)]
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

    def launch(self) -> None:
        """Start the formatted node (again, after a stop or a kill: same data, same ports)."""
        config = self.work_dir / "server.properties"
        out = open(self.work_dir / "stdout.log", "ab")
        self.process = subprocess.Popen(
            self._java(kafka_libs(), "kafka.Kafka", str(config), heap_mb=self.heap_mb),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=terminate_with_parent,
        )
        out.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """kill -9 the node (no controlled shutdown, nothing flushed)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

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


#: created by the cluster at start (consumer groups' offsets, transactions' state)
INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")

# Broker settings of the three-node cluster: what docs/kubernetes.md recommends for production
# (replication 3, min ISR 2, no unclean election), with quick failure detection for the tests.
CLUSTER_PROPERTIES = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "unclean.leader.election.enable": "false",
    "offsets.topic.replication.factor": "3",
    "offsets.topic.num.partitions": "6",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "transaction.state.log.num.partitions": "6",
    # a killed broker is fenced (and its partitions led elsewhere) after this many ms
    "broker.session.timeout.ms": "4000",
    "broker.heartbeat.interval.ms": "500",
    "controller.quorum.election.timeout.ms": "1000",
    "controller.quorum.fetch.timeout.ms": "2000",
    "num.partitions": "3",
}


@dataclass
class KafkaCluster:
    """Three KRaft nodes on loopback, each broker + controller of one quorum; a context manager.

    Topics get 3 replicas and need 2 in sync to take an ``acks=all`` write, so one node may die
    (kill -9) with nothing acknowledged lost. Nodes are numbered 1..size.
    """

    work_dir: Path
    size: int = 3
    heap_mb: int = 320
    nodes: list[ApacheKafka] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        cluster_id = _cluster_id()
        self.nodes = [
            ApacheKafka(
                self.work_dir / f"node{i}",
                heap_mb=self.heap_mb,
                node_id=i,
                cluster_id=cluster_id,
                extra_properties=dict(CLUSTER_PROPERTIES),
            )
            for i in range(1, self.size + 1)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def client_config(self) -> dict:
        return {"bootstrap.servers": self.bootstrap_servers}

    def node(self, node_id: int) -> ApacheKafka:
        return self.nodes[node_id - 1]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> KafkaCluster:
        for node in self.nodes:
            node.allocate_ports()
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        for node in self.nodes:
            node.quorum_voters = voters
            node.format()
        try:
            self.start_all(timeout)
            self._create_internal_topics()
        except BaseException:
            self.stop_all()
            raise
        return self

    def start_all(self, timeout: float = 120.0) -> None:
        """Start every node that is not running (same data folders, same ports) and wait until
        all of them are in the cluster and every partition has its replicas back in sync."""
        for node in self.nodes:
            if not node.running:
                node.launch()
        self.wait_healthy(timeout)

    def stop_all(self) -> None:
        """Stop every node (SIGTERM: a controlled shutdown; kill -9 after 30 s)."""
        for node in self.nodes:  # signal all first, so no node waits for the others to move
            if node.running:
                node.process.terminate()
        for node in self.nodes:
            node.stop()

    def kill(self, node_id: int) -> None:
        """kill -9 one node."""
        self.node(node_id).kill()

    def restart(self, node_id: int, timeout: float = 90.0) -> None:
        """Start a stopped or killed node again and wait until the cluster is whole."""
        node = self.node(node_id)
        if not node.running:
            node.launch()
        self.wait_healthy(timeout)

    def leader(self, topic: str, partition: int = 0, timeout: float = 30.0) -> int:
        """The node id leading ``topic``'s partition (waits for one to be elected)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                meta = self._admin().list_topics(topic, timeout=5).topics.get(topic)
                if meta is not None and meta.error is None and partition in meta.partitions:
                    leader = meta.partitions[partition].leader
                    if leader > 0:
                        return leader
            except Exception:  # noqa: BLE001 - a node may be restarting; ask again
                pass
            if time.monotonic() > deadline:
                raise BrokerError(f"no leader for {topic}[{partition}] within {timeout:.0f}s")
            time.sleep(0.3)

    def kill_leader(self, topic: str, partition: int = 0, *also_in_sync: str) -> int:
        """kill -9 the node that leads ``topic``'s partition, once every replica of ``topic``
        (and of the topics ``also_in_sync``) is in sync; returns the node's id.

        Waiting for the replicas keeps the fault a single one: on a loaded machine a follower
        can fall out of the ISR, and killing a leader that is alone in it leaves the partition
        offline (no unclean election) until that node is back. The internal topics too: a
        group's or a transactional producer's coordinator alone in its ISR on the killed node
        stalls every commit until it is back."""
        self.wait_in_sync(topic, *also_in_sync, *INTERNAL_TOPICS)
        node_id = self.leader(topic, partition)
        self.kill(node_id)
        return node_id

    def wait_in_sync(self, *topics: str, timeout: float = 60.0) -> None:
        """Wait until every partition of ``topics`` has a leader and all its replicas in sync."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.describe(*topics)
            if not state["lagging"]:
                return
            if time.monotonic() > deadline:
                raise BrokerError(f"replicas not in sync within {timeout:.0f}s: {state}")
            time.sleep(0.3)

    def describe(self, *topics: str) -> dict:
        """Leader, replicas and ISR of each partition of ``topics`` (all topics when none is
        given), the nodes running, and the partitions not fully in sync: for test messages."""
        partitions: dict[str, dict] = {}
        lagging: list[str] = []
        try:
            meta = self._admin().list_topics(timeout=5)
        except Exception as exc:  # noqa: BLE001 - reported as the state
            return {"error": str(exc), "running": self.running_ids(), "lagging": ["?"]}
        for topic in topics or tuple(meta.topics):
            tm = meta.topics.get(topic)
            if tm is None or tm.error is not None:
                lagging.append(f"{topic} (no metadata)")
                continue
            for p, pm in sorted(tm.partitions.items()):
                name = f"{topic}[{p}]"
                partitions[name] = {"leader": pm.leader, "replicas": pm.replicas, "isr": pm.isrs}
                if pm.leader < 0 or len(pm.isrs) < len(pm.replicas):
                    lagging.append(name)
        return {
            "running": self.running_ids(),
            "brokers": sorted(meta.brokers),
            "partitions": partitions,
            "lagging": lagging,
        }

    def running_ids(self) -> list[int]:
        return [node.node_id for node in self.nodes if node.running]

    # -- health ------------------------------------------------------------------------------

    def _admin(self):
        from confluent_kafka.admin import AdminClient

        running = [n.bootstrap_servers for n in self.nodes if n.running]
        servers = ",".join(running) or self.bootstrap_servers
        # quiet: while nodes start, every refused connection would be logged to stderr
        return AdminClient({"bootstrap.servers": servers, "log_level": 0})

    def wait_healthy(self, timeout: float = 90.0) -> None:
        """Every node registered and every partition's replicas all in sync."""
        deadline = time.monotonic() + timeout
        problem = "no answer"
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise BrokerError(
                        f"Kafka node {node.node_id} exited; see {node.work_dir / 'kafka.log'}"
                    )
            state = self.describe()
            if "error" in state:
                problem = state["error"]
            elif len(state["brokers"]) < self.size:
                problem = f"{len(state['brokers'])} of {self.size} brokers registered"
            elif state["lagging"]:
                problem = f"replicas out of sync: {', '.join(state['lagging'][:5])}"
            else:
                return
            time.sleep(0.5)
        raise BrokerError(f"Kafka cluster not healthy within {timeout:.0f}s: {problem}")

    def _create_internal_topics(self) -> None:
        """Create ``__consumer_offsets`` and ``__transaction_state`` now, while all three nodes
        run: Kafka refuses to create them with 3 replicas once a node is down."""
        from confluent_kafka import Consumer, Producer, TopicPartition

        config = self.client_config()
        probe = f"__kafkaml-cluster-probe-{uuid.uuid4().hex[:6]}"
        producer = Producer({**config, "transactional.id": probe, "acks": "all"})
        producer.init_transactions(60)
        producer.begin_transaction()
        producer.produce(probe, b"x")
        producer.commit_transaction(60)
        consumer = Consumer({**config, "group.id": probe, "enable.auto.commit": False})
        try:
            consumer.commit(offsets=[TopicPartition(probe, 0, 1)], asynchronous=False)
        finally:
            consumer.close()
        self.wait_healthy(60)

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop_all()
