"""Streams for the inference fault tests on the three-node cluster: topics, a rate-limited
idempotent feeder, inference worker processes, and a read_committed reader that counts lost and
duplicated outputs per input key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHAPE = (8, 8)  # small uint8 records: the tests measure delivery, not the model
INPUT_CONFIG = {"data_type": "uint8", "data_reshape": "8 8"}


def create_topics(bootstrap: str, partitions: dict[str, int]) -> None:
    """Topics with the cluster's default replication (3) and ``min.insync.replicas`` (2)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, n) for t, n in partitions.items()])
    for future in futures.values():
        future.result(30)


def mlp_artifact(path: Path) -> Path:
    from model_inference.testing import MLP, write_mlp_artifact

    return write_mlp_artifact(path, MLP.random(input_shape=SHAPE, hidden=16, seed=3), version=1)


@dataclass
class Feeder:
    """Sends ``n`` records (key ``str(i)``) at ``rate`` a second from a thread with an
    idempotent ``acks=all`` producer, so a broker failover never duplicates an input.
    ``acked``: the keys the cluster acknowledged (every one must get an output)."""

    bootstrap: str
    topic: str
    n: int
    rate: float
    message_timeout_ms: int = 120_000
    acked: set[int] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)
    sent: int = 0

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.values = np.random.default_rng(7).integers(0, 256, (self.n, *SHAPE), np.uint8)

    def start(self) -> Feeder:
        self.thread.start()
        return self

    def _run(self) -> None:
        from confluent_kafka import Producer

        producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": self.message_timeout_ms,
                "log_level": 0,
            }
        )

        def on_delivery(err, msg):
            if err is None:
                self.acked.add(int(msg.key()))
            else:
                self.failed.append(str(err))

        start = time.monotonic()
        for i in range(self.n):
            ahead = start + i / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            while True:
                try:
                    producer.produce(
                        self.topic, self.values[i].tobytes(), str(i).encode(), -1, on_delivery
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
            self.sent = i + 1
            producer.poll(0)
        producer.flush(self.message_timeout_ms / 1000 + 30)

    def join(self, timeout: float = 300) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the feeder did not finish"


def read_committed(bootstrap: str, topic: str, expected: set[int], timeout: float, settle: float):
    """Every committed output of ``topic`` (``isolation.level=read_committed``, all partitions
    from the start) until every expected key is there, then ``settle`` seconds more for late
    duplicates. Returns the output keys in arrival order."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "log_level": 0,
        }
    )
    meta = consumer.list_topics(topic, timeout=30).topics[topic]
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
    keys: list[int] = []
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    complete_at = None
    try:
        while time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                if m.error() is None:
                    key = int(m.key())
                    keys.append(key)
                    seen.add(key)
            if complete_at is None and expected <= seen:
                complete_at = time.monotonic()
            if complete_at is not None and time.monotonic() - complete_at >= settle:
                break
    finally:
        consumer.close()
    return keys


def count(expected: set[int], keys: list[int]) -> tuple[int, int]:
    """(lost, duplicated): expected keys without an output, outputs beyond one a key."""
    lost = len(expected - set(keys))
    duplicated = len(keys) - len(set(keys))
    return lost, duplicated


class Replica:
    """One ``python -m model_inference`` process (standalone flags, or ``--inference-id``)."""

    def __init__(self, work: Path, name: str, args: list[str], env: dict | None = None):
        self.name = name
        self.log = work / f"{name}.log"
        self.ready = work / f"{name}.ready"
        self.metrics = work / f"{name}.json"
        command = [
            sys.executable,
            "-m",
            "model_inference",
            *args,
            "--replica",
            name,
            "--ready-file",
            str(self.ready),
            "--metrics-file",
            str(self.metrics),
            "--metrics-interval",
            "0.5",
            "--session-timeout-ms",
            "6000",
        ]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                env={**os.environ, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def partitions(self) -> list[int]:
        try:
            return json.loads(self.ready.read_text())["partitions"]
        except (OSError, ValueError, KeyError):
            return []

    def totals(self) -> dict:
        try:
            return json.loads(self.metrics.read_text())
        except (OSError, ValueError):
            return {}

    def tail(self, chars: int = 3000) -> str:
        try:
            return f"--- {self.name} ---\n" + self.log.read_text()[-chars:]
        except OSError:
            return ""

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 60) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                return None
        return self.process.returncode


def wait_for(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
