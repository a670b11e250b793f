"""Read back what a sink wrote, with explicit partition assignment (no consumer group join)."""

from __future__ import annotations

import json
import time
import uuid

from confluent_kafka import Consumer, TopicPartition


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )


def parse_ranges(spec: str) -> list[tuple[str, int, int, int]]:
    out = []
    for part in spec.split(","):
        topic, partition, start, end = part.rsplit(":", 3)
        out.append((topic, int(partition), int(start), int(end)))
    return out


def read_ranges(bootstrap: str, spec: str, timeout: float = 20) -> list[tuple[bytes, bytes]]:
    """Every (key, value) in the announced ``topic:partition:start:end`` ranges, in order."""
    records: list[tuple[bytes, bytes]] = []
    consumer = _consumer(bootstrap)
    try:
        for topic, partition, start, end in parse_ranges(spec):
            if end <= start:
                continue
            consumer.assign([TopicPartition(topic, partition, start)])
            got: list[tuple[bytes, bytes]] = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for msg in consumer.consume(num_messages=5000, timeout=0.5):
                    if msg.error():
                        continue
                    if start <= msg.offset() < end:
                        got.append((msg.key(), msg.value()))
                if got and len(got) >= end - start:
                    break
            assert len(got) == end - start, f"{topic}:{partition} gave {len(got)} of {end - start}"
            records.extend(got)
    finally:
        consumer.close()
    return records


def read_control(bootstrap: str, control_topic: str, expected: int = 1, timeout: float = 20):
    """The (key, decoded JSON) control messages on ``control_topic``."""
    consumer = _consumer(bootstrap)
    found: list[tuple[bytes, dict]] = []
    try:
        meta = consumer.list_topics(control_topic, timeout=10)
        partitions = list(meta.topics[control_topic].partitions)
        consumer.assign([TopicPartition(control_topic, p, 0) for p in partitions])
        deadline = time.monotonic() + timeout
        while len(found) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=100, timeout=0.5):
                if not msg.error():
                    found.append((msg.key(), json.loads(msg.value())))
    finally:
        consumer.close()
    return found
