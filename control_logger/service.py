"""Consume the control topic and register datasources with the backend.

At-least-once and idempotent: an offset is committed only after the backend accepted (or
deliberately refused) the message, and the backend treats a (topic, partition, offset) it has
seen as already registered. While the backend is down the logger waits and retries.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import time

from confluent_kafka import Consumer, KafkaError

from datasources.control import ControlMessageError, parse_key
from datasources.control import parse as parse_control_message
from worker_common.backend import BackendClient, BackendError
from worker_common.kafka import consumer_config, control_topic

log = logging.getLogger("control_logger")
HEARTBEAT_SECONDS = 10
_DETAIL = re.compile(r'"detail":\s*("(?:[^"\\]|\\.)*")')


def _deployment_of(key: bytes | None) -> int | None:
    """The deployment a message names, if its key can be read (its value may not)."""
    try:
        return parse_key(key)
    except ControlMessageError:
        return None


def _refusal(exc: BackendError) -> str:
    """The backend's reason for refusing a registration (its ``detail``), else the error."""
    match = _DETAIL.search(str(exc))
    if match:
        try:
            return json.loads(match.group(1))
        except ValueError:
            pass
    return str(exc)


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
            self._record_error(where, str(exc), message.value(), _deployment_of(message.key()))
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
                    self._record_error(where, _refusal(exc), message.value(), body["deployment_id"])
                    return
                log.warning("backend unavailable (%s); retrying in %.0fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 30)

    def _record_error(
        self, where: dict, error: str, raw: bytes | None, deployment_id: int | None
    ) -> None:
        """Keep the refusal; with the deployment the message named, whose owner sees it."""
        self.errors += 1
        log.error("control message %s rejected: %s", where, error)
        text = (raw or b"")[:10000].decode("utf-8", errors="replace")
        report = {**where, "error": error, "raw": text, "deployment_id": deployment_id}
        delay = 1.0
        while self.running:
            try:
                self.client.record_control_error(report)
                return
            except BackendError as exc:
                if exc.status_code is not None and 400 <= exc.status_code < 500:
                    if report.pop("deployment_id", None) is not None:
                        continue  # kept without the link rather than not at all
                    log.error("the backend refused the error report: %s", exc)
                    return
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
