"""Models as data: the model-updates topic of an inference (docs/inference.md, "Models as data").

The backend publishes one *version descriptor* per swap to ``<owner prefix>models.inference-<id>``
(key: the inference id; value: UTF-8 JSON)::

    {"inference": 7, "result_id": 12, "version": 3,
     "location": "/api/v1/worker/results/12/artifacts/?version=3",
     "sha256": "<hex digest of the archive>", "format": "tar.gz",
     "published_at": "2026-12-07T03:40:00+00:00"}

Every replica reads the whole topic with its own group-less consumer (``assign()`` from the
beginning): the last descriptor is the version to serve, so a restarted replica resumes with
it. A descriptor is applied in full or not at all: the archive is downloaded, its sha256
checked, unpacked and the model loaded (and warmed up) in a background thread while the old one
serves; the main loop switches between batches. A descriptor that fails leaves the old version
serving and is reported.

``location`` is a path on the backend's worker API (the workload's credential downloads it), or,
standalone, a local file path / ``file://`` URL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .sources import extract_archive, find_artifact_root

log = logging.getLogger(__name__)

TOPIC_SUFFIX = "models.inference-"
FORMATS = ("tar.gz",)


class DescriptorError(ValueError):
    """A record of the updates topic is not a valid version descriptor."""


class UpdateError(RuntimeError):
    """A descriptor could not be applied (download, checksum, archive or model)."""


def updates_topic(prefix: str, inference_id: int) -> str:
    """``alice.`` + 7 -> ``alice.models.inference-7``."""
    return f"{prefix}{TOPIC_SUFFIX}{inference_id}"


@dataclass(frozen=True)
class Descriptor:
    result_id: int | None
    version: Any
    location: str
    sha256: str
    format: str = "tar.gz"
    published_at: str = ""
    inference: int | None = None

    @property
    def ident(self) -> tuple:
        return (self.result_id, self.version, self.sha256)

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    def label(self) -> str:
        return f"result {self.result_id} v{self.version}"


def descriptor(
    *, result_id, version, location, sha256, fmt="tar.gz", inference=None, published_at=None
) -> Descriptor:
    return Descriptor(
        result_id=result_id,
        version=version,
        location=location,
        sha256=sha256.lower(),
        format=fmt,
        published_at=published_at or datetime.now(UTC).isoformat(),
        inference=inference,
    )


def parse_descriptor(value: bytes | None) -> Descriptor:
    try:
        body = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DescriptorError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise DescriptorError("not a JSON object")
    for name in ("location", "sha256"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise DescriptorError(f"{name} missing")
    sha = body["sha256"].lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise DescriptorError("sha256 is not a hex sha256 digest")
    fmt = body.get("format") or "tar.gz"
    if fmt not in FORMATS:
        raise DescriptorError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    return Descriptor(
        result_id=body.get("result_id"),
        version=body.get("version"),
        location=body["location"],
        sha256=sha,
        format=fmt,
        published_at=str(body.get("published_at") or ""),
        inference=body.get("inference"),
    )


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_local(location: str, dest: str) -> None:
    """Standalone: the archive is a local file (path or ``file://`` URL)."""
    path = urlparse(location).path if location.startswith("file://") else location
    shutil.copyfile(path, dest)


def backend_fetcher(client):
    """Downloads a backend worker-API path with the workload's credential."""

    def fetch(location: str, dest: str) -> None:
        if location.startswith("file://") or not location.startswith("/"):
            raise UpdateError(f"{location!r} is not a worker API path")
        response = client.request("GET", location, stream=True)
        with open(dest, "wb") as out:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)

    return fetch


class ModelUpdates:
    """Reads an inference's updates topic and turns descriptors into verified artifact
    directories."""

    CHECK_S = 2.0  # while the topic does not exist (no swap yet): look for it this often

    def __init__(self, bootstrap: str, topic: str, fetch=None, cache_dir: str | None = None,
                 consumer_overrides: dict | None = None) -> None:  # fmt: skip
        self.bootstrap = bootstrap
        self.topic = topic
        self.fetch = fetch or fetch_local
        self.cache = Path(cache_dir or tempfile.mkdtemp(prefix="kafkaml-model-updates-"))
        self._own_cache = cache_dir is None
        self.consumer_overrides = consumer_overrides or {}
        self.consumer = None
        self._assigned = False
        self._checked = 0.0

    def _consumer(self):
        """The consumer, assigned to every partition of the topic from the beginning; None
        while the topic does not exist (no swap yet: looked for every ``CHECK_S``)."""
        import time

        if self.consumer is None:
            from confluent_kafka import Consumer

            from worker_common.kafka import client_config

            self.consumer = Consumer(
                {
                    **client_config(self.bootstrap),
                    # group.id is required by librdkafka; assign() never joins it, nothing is
                    # committed: every replica reads the whole topic
                    "group.id": f"kafkaml-model-updates-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "auto.offset.reset": "earliest",
                    "fetch.wait.max.ms": 100,
                    "isolation.level": "read_committed",
                    **self.consumer_overrides,
                }
            )
        if not self._assigned and time.monotonic() - self._checked >= self.CHECK_S:
            from confluent_kafka import OFFSET_BEGINNING, TopicPartition

            self._checked = time.monotonic()
            meta = self.consumer.list_topics(self.topic, timeout=10)
            info = meta.topics.get(self.topic)
            if info is not None and info.error is None and info.partitions:
                self.consumer.assign(
                    [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in info.partitions]
                )
                self._assigned = True
        return self.consumer if self._assigned else None

    def _decode(self, messages) -> list[Descriptor]:
        out = []
        for m in messages:
            if m.error() is not None:
                if m.error().code() != -191:  # _PARTITION_EOF
                    log.warning("model updates: %s", m.error())
                continue
            try:
                out.append(parse_descriptor(m.value()))
            except DescriptorError as exc:
                log.error("model updates %s@%s: ignored: %s", m.partition(), m.offset(), exc)
        return out

    def read_all(self, timeout: float = 10.0) -> list[Descriptor]:
        """Every descriptor published so far (up to the high watermark at the call)."""
        import time

        from confluent_kafka import TopicPartition

        consumer = self._consumer()
        if consumer is None:
            return []
        ends = {}
        for tp in consumer.assignment():
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=timeout
            )
            if high > 0:
                ends[tp.partition] = high
        found: list[Descriptor] = []
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            messages = consumer.consume(500, 0.2)
            found += self._decode(messages)
            for m in messages:
                if m.error() is None and m.offset() + 1 >= ends.get(m.partition(), 0):
                    ends.pop(m.partition(), None)
        return found

    def poll(self, timeout: float = 1.0) -> Descriptor | None:
        """The newest descriptor that arrived (None: nothing new)."""
        consumer = self._consumer()
        if consumer is None:
            import time

            time.sleep(timeout)
            return None
        found = self._decode(consumer.consume(100, timeout))
        return found[-1] if found else None

    def materialize(self, desc: Descriptor) -> str:
        """Download, verify the checksum, unpack: the artifact directory (cached by digest)."""
        dest = self.cache / desc.sha256
        if (dest / "metadata.json").exists():
            return str(dest)
        tmp = Path(tempfile.mkdtemp(dir=self.cache))
        try:
            archive = tmp / "model.tar.gz"
            try:
                self.fetch(desc.location, str(archive))
            except Exception as exc:  # noqa: BLE001
                raise UpdateError(f"download of {desc.location} failed: {exc}") from exc
            digest = sha256_file(archive)
            if digest != desc.sha256:
                raise UpdateError(f"checksum mismatch: sha256 {digest}, descriptor {desc.sha256}")
            unpacked = tmp / "unpacked"
            try:
                extract_archive(archive, unpacked)
                root = find_artifact_root(unpacked)
            except Exception as exc:  # noqa: BLE001
                raise UpdateError(f"bad archive: {exc}") from exc
            if dest.exists():
                shutil.rmtree(dest)
            root.rename(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return str(dest)

    def close(self) -> None:
        if self.consumer is not None:
            try:
                self.consumer.close()
            except Exception:  # noqa: BLE001
                pass
            self.consumer = None
        if self._own_cache:
            shutil.rmtree(self.cache, ignore_errors=True)


def publish(producer, topic: str, desc: Descriptor, key: int | str | None = None) -> None:
    """Produce one descriptor and wait for the broker's acknowledgement."""
    errors = []
    key = str(key if key is not None else desc.inference or "").encode()
    producer.produce(topic, desc.encode(), key, on_delivery=lambda err, _m: errors.append(err))
    remaining = producer.flush(15)
    if remaining or (errors and errors[0] is not None):
        raise UpdateError(f"could not publish to {topic}: {errors[0] if errors else 'timeout'}")
