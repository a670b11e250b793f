"""Find the control message (docs/protocol.md) that announces a deployment's data.

The control topic is read from the beginning with ``assign()`` (no consumer group, so many
training workers read it side by side without rebalancing) until a message whose key, a
big-endian integer of any length, is the deployment id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from datasources.control import ControlMessageError, parse, parse_key
from model_training.errors import TrainingError
from model_training.job import DatasourceSpec
from worker_common.kafka import client_config

log = logging.getLogger(__name__)


def deployment_of(key: bytes | None) -> int | None:
    """The deployment id of a control message key (``datasources.control``), or None."""
    try:
        return parse_key(key)
    except ControlMessageError:
        return None


def wait_for_control_message(
    bootstrap: str,
    control_topic: str,
    deployment_id: int,
    *,
    timeout: float = 0.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> DatasourceSpec:
    """Block until the deployment's control message arrives (``timeout`` 0 = forever)."""
    consumer = Consumer(
        {
            **client_config(bootstrap),  # + KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*
            "group.id": f"kafkaml-training-control-{deployment_id}",  # required, never joined
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "auto.offset.reset": "earliest",
        }
    )
    deadline = time.monotonic() + timeout if timeout else None
    assigned: set[int] = set()
    next_refresh = 0.0
    log.info("waiting for the control message of deployment %s on %s", deployment_id, control_topic)
    try:
        while True:
            if should_stop():
                raise TrainingError("stopped while waiting for the control message")
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise TrainingError(
                    f"no control message for deployment {deployment_id} on topic "
                    f"{control_topic!r} within {timeout:.0f}s"
                )
            if now >= next_refresh:  # the topic may not exist yet, or gain partitions
                next_refresh = now + 2.0
                partitions = _partitions(consumer, control_topic)
                if partitions - assigned:
                    assigned |= partitions
                    consumer.assign(
                        [
                            TopicPartition(control_topic, p, OFFSET_BEGINNING)
                            for p in sorted(assigned)
                        ]
                    )
            if not assigned:
                time.sleep(0.5)
                continue
            for msg in consumer.consume(500, 0.5):
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        log.warning("control topic: %s", msg.error())
                    continue
                if deployment_of(msg.key()) != deployment_id:
                    continue
                where = f"{msg.topic()}:{msg.partition()}:{msg.offset()}"
                try:  # the one rule of datasources.control, as the control logger's
                    spec = DatasourceSpec.from_message(parse(msg.key(), msg.value()).as_dict())
                except ControlMessageError as exc:
                    log.warning("ignoring invalid control message at %s: %s", where, exc)
                    continue
                log.info("control message at %s: %s", where, spec)
                return spec
    finally:
        consumer.close()


def _partitions(consumer: Consumer, topic: str) -> set[int]:
    try:
        metadata = consumer.list_topics(topic, timeout=5)
    except Exception as exc:  # broker restarting: try again later
        log.warning("control topic metadata: %s", exc)
        return set()
    info = metadata.topics.get(topic)
    if info is None or info.error is not None:
        return set()
    return set(info.partitions)
