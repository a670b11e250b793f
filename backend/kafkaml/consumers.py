"""Websockets: live training results, live inference metrics, and predictions as they flow."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from kafkaml import realtime

log = logging.getLogger(__name__)
UNAUTHORIZED, NOT_FOUND, NOT_YOURS = 4401, 4404, 4409


class OwnedGroupConsumer(AsyncJsonWebsocketConsumer):
    """Joins one object's group if the user owns the object, then relays pushes."""

    group: str = ""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHORIZED)
            return
        pk = int(self.scope["url_route"]["kwargs"]["pk"])
        snapshot = await self.load(user, pk)
        if snapshot is None:
            await self.close(code=NOT_FOUND)
            return
        self.group = self.group_name(pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"event": "snapshot", "data": snapshot})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def push(self, message):
        await self.send_json({"event": message["event"], "data": message["data"]})


class ResultConsumer(OwnedGroupConsumer):
    group_name = staticmethod(realtime.result_group)

    @database_sync_to_async
    def load(self, user, pk):
        from kafkaml.training.models import TrainingResult
        from kafkaml.training.serializers import ResultOutput

        result = TrainingResult.objects.filter(pk=pk, owner=user).first()
        return ResultOutput(result).data if result else None


class InferenceConsumer(OwnedGroupConsumer):
    group_name = staticmethod(realtime.inference_group)

    @database_sync_to_async
    def load(self, user, pk):
        from kafkaml.inference.models import Inference
        from kafkaml.inference.serializers import InferenceOutput

        inference = Inference.objects.filter(pk=pk, owner=user).first()
        return InferenceOutput(inference).data if inference else None


TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
PREVIEW_BYTES = 64
PREVIEW_TEXT = 500


def record_view(value: bytes | None) -> dict:
    """What the page shows of one record: a prediction's ``values`` and ``model_version``, any
    other JSON as ``values``, else ``text`` (UTF-8) or ``bytes`` (length) and ``hex``."""
    if value is None:
        return {"values": None, "model_version": None}
    try:
        obj = json.loads(value)
    except (TypeError, ValueError):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return {
                "values": None,
                "model_version": None,
                "bytes": len(value),
                "hex": value[:PREVIEW_BYTES].hex(),
            }
        return {"values": None, "model_version": None, "text": text[:PREVIEW_TEXT]}
    if isinstance(obj, dict) and "values" in obj:
        return {"values": obj.get("values"), "model_version": obj.get("model_version")}
    return {"values": obj, "model_version": None}


class PredictionsConsumer(AsyncJsonWebsocketConsumer):
    """Tails a topic of the user's and sends each record: an inference's output topic, or any
    topic in the user's namespace (their input, upper, shadow topics, data streams...).

    ``/ws/predictions/?inference=<id>`` or ``?topic=<any topic of theirs>``. Reading starts at
    the end of the topic: the page shows what flows from now on. JSON records come as their
    ``values`` (a prediction's) or the JSON itself; other records as ``text`` (UTF-8) or a hex
    preview of their ``bytes``.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHORIZED)
            return
        from urllib.parse import parse_qs

        query = parse_qs(self.scope.get("query_string", b"").decode())
        topic = await self.allowed_topic(
            user, (query.get("inference") or [""])[0], (query.get("topic") or [""])[0]
        )
        if topic is None:
            await self.close(code=NOT_FOUND)
            return
        refusal = self.refusal(user, topic)
        if refusal:
            # Accepted only to say why: a close before the handshake reaches a browser as a
            # bare failure, without its code or reason.
            await self.accept()
            await self.send_json({"event": "error", "data": {"detail": refusal}})
            await self.close(code=NOT_YOURS, reason=refusal.encode()[:120].decode(errors="ignore"))
            return
        await self.accept()
        self.stop_event = threading.Event()
        loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self.thread = threading.Thread(
            target=self._tail, args=(topic, loop), daemon=True, name=f"tail-{topic}"
        )
        self.thread.start()
        self.sender = asyncio.create_task(self._send_loop())
        await self.send_json({"event": "subscribed", "data": {"topic": topic}})

    @database_sync_to_async
    def allowed_topic(self, user, inference_id: str, topic: str) -> str | None:
        """The topic to tail: the output topic of one of the user's inferences (by id), or the
        topic named (any valid topic name; whether it is theirs is :meth:`refusal`'s to say,
        by the ownership rule of ``kafkaml.topics.ownership``); else None (not found)."""
        from kafkaml.inference.models import Inference

        if inference_id:
            if not inference_id.isdigit():
                return None
            inference = Inference.objects.filter(owner=user, pk=int(inference_id)).first()
            return inference.output_topic if inference else None
        if topic and TOPIC_NAME.fullmatch(topic):
            return topic
        return None

    @staticmethod
    def refusal(user, topic: str) -> str:
        """Why the user may not read ``topic``: it is outside their namespace (a named topic,
        or the output of an inference made before topics were owned). Empty if they may."""
        from kafkaml.topics.ownership import not_owned_reason, owns_topic

        return "" if owns_topic(user, topic) else not_owned_reason(user, topic)

    def _tail(self, topic: str, loop) -> None:
        from confluent_kafka import OFFSET_END, Consumer, TopicPartition

        consumer = Consumer(
            {
                "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
                **settings.KAFKA_SECURITY,
                "group.id": f"kafkaml-ui-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                # The embedded broker holds an empty fetch for the whole wait: keep it short.
                "fetch.wait.max.ms": 50,
            }
        )
        try:
            # Subscribing to a topic that does not exist yet is not retried soon on the
            # embedded broker: make sure it exists (the inference would create it anyway).
            from kafkaml.broker import ensure_topics

            ensure_topics(settings.KAFKA_BOOTSTRAP_SERVERS, [topic], config=settings.KAFKA_SECURITY)
            partitions = self._partitions(consumer, topic)
            # Start near the end. On the embedded broker the high watermark can lag (it is the
            # base offset of the last batch), so start there and drop records older than the
            # subscription; an empty topic starts at 0 and misses nothing.
            since_ms = int(time.time() * 1000) - 2000
            assignment = []
            for partition in partitions:
                try:
                    _, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), timeout=5
                    )
                except Exception:  # noqa: BLE001
                    high = OFFSET_END
                assignment.append(TopicPartition(topic, partition, max(high, 0)))
            consumer.assign(assignment)
            while not self.stop_event.is_set():
                for message in consumer.consume(500, 0.2):
                    if message.error() or message.timestamp()[1] < since_ms:
                        continue
                    item = {
                        **record_view(message.value()),
                        "timestamp": message.timestamp()[1],
                        "partition": message.partition(),
                        "offset": message.offset(),
                    }
                    loop.call_soon_threadsafe(self._offer, item)
        except Exception:  # noqa: BLE001
            log.exception("tailing %s failed", topic)
        finally:
            consumer.close()

    def _partitions(self, consumer, topic: str, wait: float = 15.0):
        """The topic's partitions. Just after its creation a broker may still answer without
        them (leader not available): ask again for a while rather than assign nothing."""
        deadline = time.monotonic() + wait
        while not self.stop_event.is_set():
            info = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if info is not None and info.error is None and info.partitions:
                return info.partitions
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return {0: None}

    def _offer(self, item) -> None:
        if not self.queue.full():
            self.queue.put_nowait(item)

    async def _send_loop(self):
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty() and len(batch) < 200:
                batch.append(self.queue.get_nowait())
            await self.send_json({"event": "predictions", "data": batch})

    async def disconnect(self, code):
        if hasattr(self, "stop_event"):
            self.stop_event.set()
            self.sender.cancel()
