"""Read exactly the announced offset ranges into arrays, decoded with the shared codecs.

Speed matters (the whole dataset goes through here before the first epoch): records are
consumed in large batches, decoded by one vectorised codec call per batch, and written into a
preallocated array. The seeded shuffle is applied while writing (record ``i`` lands at
``order[i]``), so the train/validation/test splits are contiguous slices: no copies, which
also keeps a memory-mapped cache (datasets above ``KAFKAML_TRAINING_MEMMAP_BYTES``) cheap.

Offsets come from the control message: the embedded broker's end-offset answers are
approximate, so we never ask it where a range ends.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from confluent_kafka import Consumer, KafkaError, TopicPartition

from datasources.control import ControlMessageError
from datasources.control import parse_ranges as parse_control_ranges
from model_training import settings
from model_training.errors import DataError
from worker_common.kafka import client_config

log = logging.getLogger(__name__)

CONSUME_BATCH = 10000


@dataclass(frozen=True)
class OffsetRange:
    topic: str
    partition: int
    start: int  # inclusive
    end: int  # exclusive

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.start}:{self.end}"


def parse_ranges(text: str) -> list[OffsetRange]:
    """``"topic:partition:start:end,..."`` (docs/protocol.md), by the one rule of
    ``datasources.control`` that the control logger and the sinks use too."""
    try:
        parsed = parse_control_ranges(text)
    except ControlMessageError as exc:
        raise DataError(f"bad offset ranges {text!r}: {exc}") from None
    return [OffsetRange(r.topic, r.partition, r.start, r.end) for r in parsed]


@dataclass
class Dataset:
    """``x[i]``, ``y[i]`` in shuffled order; ``path`` is the memory-mapped cache, if any."""

    x: np.ndarray
    y: np.ndarray
    path: str | None = None

    def __len__(self) -> int:
        return len(self.x)

    def bounds(self, validation_rate: float, test_rate: float) -> tuple[int, int, int]:
        """``(a, b, n)``: train is rows ``[0, a)``, validation ``[a, b)``, test ``[b, n)``."""
        n = len(self)
        n_test = int(round(n * test_rate))
        n_val = int(round(n * validation_rate))
        n_train = n - n_val - n_test
        if n_train <= 0:
            raise DataError(
                f"no training records left: {n} records, validation_rate={validation_rate}, "
                f"test_rate={test_rate}"
            )
        return n_train, n_train + n_val, n

    def split(self, validation_rate: float, test_rate: float) -> tuple[Split, Split, Split]:
        a, b, _ = self.bounds(validation_rate, test_rate)
        return (
            Split(self.x[:a], self.y[:a]),
            Split(self.x[a:b], self.y[a:b]),
            Split(self.x[b:], self.y[b:]),
        )

    def close(self) -> None:
        if self.path:
            self.x = self.y = np.empty(0)
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.path = None


@dataclass
class Split:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def consumer_for(bootstrap: str, **overrides) -> Consumer:
    config = {
        **client_config(bootstrap),  # + KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*
        "group.id": "kafkaml-training-reader",  # required by the client; assign() never joins
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": False,
        "auto.offset.reset": "earliest",
        "fetch.max.bytes": 64 << 20,
        "max.partition.fetch.bytes": 16 << 20,
        "fetch.wait.max.ms": 50,
        "queued.max.messages.kbytes": 256 << 10,
    }
    config.update(overrides)
    return Consumer(config)


class _Run:
    """Positions of a contiguous run of one range: index ``k`` is offset ``base + k``."""

    def __init__(self, i: int, base: int) -> None:
        self.i, self.base = i, base

    def __getitem__(self, k: int) -> tuple[int, int]:
        return self.i, self.base + k


def _contiguous_run(msgs, index, ranges, done) -> tuple[int, int] | None:
    """``(range index, first offset)`` when every message is a record of one announced range
    with consecutive offsets (checked cheaply: same partition and no error throughout)."""
    if not msgs:
        return None
    first, last = msgs[0], msgs[-1]
    if first.error() is not None or last.error() is not None:
        return None
    i = index.get((first.topic(), first.partition()))
    if (
        i is None
        or done[i]
        or (last.topic(), last.partition()) != (first.topic(), first.partition())
    ):
        return None
    r, start, end = ranges[i], first.offset(), last.offset()
    if start < r.start or end >= r.end or end - start != len(msgs) - 1:
        return None
    partition = first.partition()
    if any(m.error() is not None or m.partition() != partition for m in msgs):
        return None
    if len({r.topic for r in ranges}) > 1:
        topic = first.topic()
        if any(m.topic() != topic for m in msgs):
            return None
    return i, start


def _record_error(exc: Exception) -> tuple[int | None, str]:
    index = getattr(exc, "index", None)
    reason = getattr(exc, "reason", None)
    if index is None and len(getattr(exc, "args", ())) >= 2 and isinstance(exc.args[0], int):
        index, reason = exc.args[0], exc.args[1]
    return index, str(reason if reason is not None else exc)


def read_ranges(
    bootstrap: str,
    ranges: Sequence[OffsetRange],
    codec,
    *,
    seed: int | None = None,
    timeout: float | None = None,
    memmap_threshold: int | None = None,
    memmap_path: str | os.PathLike | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Dataset:
    """Read every record of ``ranges`` once; strict: a bad record fails naming its offset.

    With ``memmap_path`` the samples are written straight into that ``.npy`` file, whatever
    their size (the worker hands it to the sandboxed trainer without a copy).
    """
    timeout = settings.read_timeout() if timeout is None else timeout
    threshold = settings.memmap_threshold() if memmap_threshold is None else memmap_threshold
    ranges = [r for r in ranges if r.size]
    total = sum(r.size for r in ranges)
    if total == 0:
        raise DataError("the announced ranges hold no records")
    order = np.random.default_rng(seed).permutation(total) if seed is not None else None

    index = {(r.topic, r.partition): i for i, r in enumerate(ranges)}
    if len(index) != len(ranges):
        raise DataError("the same partition is announced twice")
    last_seen = [r.start - 1 for r in ranges]
    done = [False] * len(ranges)
    read = [0] * len(ranges)

    consumer = consumer_for(bootstrap)
    consumer.assign([TopicPartition(r.topic, r.partition, r.start) for r in ranges])
    x = y = None
    path = None
    filled = 0
    idle_since = time.monotonic()
    try:
        while not all(done):
            if should_stop():
                raise DataError("stopped while reading")
            # never ask for more than is left: consume() waits its full timeout for a batch
            wanted = sum(r.size - read[i] for i, r in enumerate(ranges) if not done[i])
            msgs = consumer.consume(max(1, min(CONSUME_BATCH, wanted)), 0.5)
            run = _contiguous_run(msgs, index, ranges, done)
            if run is not None:  # the common case: one partition, consecutive offsets
                i, base = run
                values = [m.value() for m in msgs]
                keys = [m.key() for m in msgs]
                where = _Run(i, base)
                last_seen[i] = base + len(msgs) - 1
                read[i] += len(msgs)
                if last_seen[i] >= ranges[i].end - 1:
                    done[i] = True
                    consumer.pause([TopicPartition(ranges[i].topic, ranges[i].partition)])
            else:
                values, keys, where = [], [], []
            for msg in msgs if run is None else ():
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    if err.fatal() or err.code() in (
                        KafkaError.UNKNOWN_TOPIC_OR_PART,
                        KafkaError.OFFSET_OUT_OF_RANGE,
                    ):
                        raise DataError(f"reading {msg.topic()}:{msg.partition()}: {err.str()}")
                    log.warning("reading: %s", err.str())
                    continue
                i = index.get((msg.topic(), msg.partition()))
                if i is None or done[i]:
                    continue
                r = ranges[i]
                offset = msg.offset()
                if offset < r.start or offset >= r.end:
                    continue
                values.append(msg.value())
                keys.append(msg.key())
                where.append((i, offset))
                last_seen[i] = offset
                read[i] += 1
                if offset >= r.end - 1:
                    done[i] = True
                    consumer.pause([TopicPartition(r.topic, r.partition)])
            if values:
                idle_since = time.monotonic()
                xs, ys = _decode(codec, values, keys, where, ranges)
                if x is None:
                    x, path = _allocate((total, *xs.shape[1:]), xs.dtype, threshold, memmap_path)
                    y = np.empty((total, *ys.shape[1:]), dtype=ys.dtype)
                elif xs.shape[1:] != x.shape[1:]:
                    i, offset = where[0]
                    raise DataError(
                        f"record at {ranges[i].topic}:{ranges[i].partition}:{offset} decodes to "
                        f"shape {xs.shape[1:]}, earlier records to {x.shape[1:]}"
                    )
                n = len(xs)
                if order is None:
                    x[filled : filled + n] = xs
                    y[filled : filled + n] = ys
                else:  # scatter through flat 2-D views: several times faster than N-D
                    pos = order[filled : filled + n]
                    x.reshape(total, -1)[pos] = xs.reshape(n, -1)
                    y.reshape(total, -1)[pos] = ys.reshape(n, -1)
                filled += n
                continue
            # nothing new: a range may end in offsets that hold no record (transaction markers)
            for i, r in enumerate(ranges):
                if not done[i]:
                    pos = consumer.position([TopicPartition(r.topic, r.partition)])[0].offset
                    if pos >= r.end:
                        done[i] = True
            if time.monotonic() - idle_since > timeout:
                missing = [
                    f"{r} (read {read[i]} of {r.size}, last offset {last_seen[i]})"
                    for i, r in enumerate(ranges)
                    if not done[i]
                ]
                raise DataError(
                    f"no new records for {timeout:.0f}s; incomplete ranges: " + "; ".join(missing)
                )
    except BaseException:
        if path:
            _unlink(path)
        raise
    finally:
        consumer.close()

    if filled < total:  # offsets without records: keep what was written, in shuffled order
        log.warning("announced %d records, read %d (offset gaps)", total, filled)
        mask = np.zeros(total, dtype=bool)
        mask[order[:filled] if order is not None else np.arange(filled)] = True
        x, y = np.asarray(x)[mask], y[mask]
        if path:
            _unlink(path)
            path = None
    log.info("read %d records from %s", filled, ", ".join(map(str, ranges)))
    return Dataset(x, y, path)


def _decode(codec, values, keys, where, ranges) -> tuple[np.ndarray, np.ndarray]:
    xs = _strict(codec.decode_batch, values, "value", where, ranges)
    ys = _strict(codec.decode_labels, keys, "key (label)", where, ranges)
    if len(xs) != len(values) or len(ys) != len(keys):
        raise DataError("codec returned a different number of samples than records")
    return xs, ys


def _strict(decode, items, what, where, ranges) -> np.ndarray:
    from datasources.codecs import RecordDecodeError

    try:
        return np.asarray(decode(items))
    except RecordDecodeError as exc:
        idx, reason = _record_error(exc)
        if idx is None or not 0 <= idx < len(items):
            raise DataError(f"undecodable record {what}: {reason}") from exc
        i, offset = where[idx]
        raise DataError(
            f"record at {ranges[i].topic}:{ranges[i].partition}:{offset} has an invalid "
            f"{what}: {reason}"
        ) from exc


def _allocate(
    shape: tuple, dtype, threshold: int, path: str | os.PathLike | None = None
) -> tuple[np.ndarray, str | None]:
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if path is not None:
        return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape), str(path)
    if nbytes <= threshold:
        return np.empty(shape, dtype=dtype), None
    fd, path = tempfile.mkstemp(prefix="kafkaml-train-", suffix=".cache", dir=settings.cache_dir())
    os.close(fd)
    log.info("dataset of %.1f MiB cached in memory-mapped %s", nbytes / 2**20, path)
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape), path


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
