"""Consume the control topic and register datasources with the backend.

At-least-once and idempotent: an offset is committed only after the backend accepted (or
deliberately refused) the message, and the backend treats a (topic, partition, offset) it has
seen as already registered. While the backend is down the logger waits and retries.
"""

from __future__ import annotations

import logging
import signal
import time

from confluent_kafka import Consumer, KafkaError

from datasources.control import ControlMessageError
from datasources.control import parse as parse_control_message
from worker_common.backend import BackendClient, BackendError
from worker_common.kafka import consumer_config, control_topic

log = logging.getLogger("control_logger")
HEARTBEAT_SECONDS = 10


class ControlLogger:
    def __init__(
        self, client: BackendClient, topic: str | None = None, group_id: str | None = None
    ):
        self.client = client
        self.topic = topic or control_topic()
        self.consumer = Consumer(consumer_config(group_id or "kafkaml-control-logger"))
        self.running = True
        self.last_heartbeat = 0.0
        self.registered = 0
        self.errors = 0

    def handle(self, message) -> None:
        """Register one message; returns when it may be committed."""
        where = {
            "control_topic": message.topic(),
            "control_partition": message.partition(),
            "control_offset": message.offset(),
        }
        try:
            parsed = parse_control_message(message.key(), message.value())
        except ControlMessageError as exc:
            self._record_error(where, str(exc), message.value())
            return
        body = {"deployment_id": parsed.deployment_id, **parsed.as_dict()}
        delay = 1.0
        while self.running:
            try:
                self.client.register_datasource({**body, **where})
                self.registered += 1
                log.info("registered datasource for deployment %s", body["deployment_id"])
                return
            except BackendError as exc:
                if exc.status_code is not None and 400 <= exc.status_code < 500:
                    self._record_error(where, str(exc), message.value())
                    return
                log.warning("backend unavailable (%s); retrying in %.0fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 30)

    def _record_error(self, where: dict, error: str, raw: bytes | None) -> None:
        self.errors += 1
        log.error("control message %s rejected: %s", where, error)
        text = (raw or b"")[:10000].decode("utf-8", errors="replace")
        delay = 1.0
        while self.running:
            try:
                self.client.record_control_error({**where, "error": error, "raw": text})
                return
            except BackendError as exc:
                log.warning("could not record the error (%s); retrying", exc)
                time.sleep(delay)
                delay = min(delay * 2, 30)

    def heartbeat(self) -> None:
        now = time.monotonic()
        if now - self.last_heartbeat < HEARTBEAT_SECONDS:
            return
        self.last_heartbeat = now
        try:
            self.client.post_json(
                "/api/v1/worker/heartbeats/",
                {
                    "component": "control_logger",
                    "detail": {"registered": self.registered, "errors": self.errors},
                },
            )
        except BackendError as exc:
            log.warning("heartbeat failed: %s", exc)

    def run(self) -> None:
        self.consumer.subscribe([self.topic])
        log.info("control logger reading %s", self.topic)
        try:
            while self.running:
                self.heartbeat()
                message = self.consumer.poll(1.0)
                if message is None:
                    continue
                if message.error():
                    if message.error().code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer error: %s", message.error())
                    continue
                self.handle(message)
                if self.running:
                    self.consumer.commit(message=message, asynchronous=False)
        finally:
            self.consumer.close()

    def stop(self, *_) -> None:
        self.running = False


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m control_logger", description=__doc__)
    parser.add_argument("--topic", help="control topic (default: KAFKAML_CONTROL_TOPIC)")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    service = ControlLogger(BackendClient(max_retries=2), topic=args.topic)
    signal.signal(signal.SIGTERM, service.stop)
    signal.signal(signal.SIGINT, service.stop)
    service.run()
