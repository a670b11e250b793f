"""Incremental (online) training on an unbounded topic.

Records are gathered in windows: a window closes when it holds ``window_size`` records or
``stream_timeout`` seconds after its first record, whichever comes first. Each window is
shuffled (seeded), split by the announced rates, and the model keeps training on it. When the
monitored metric (default ``val_loss``) improves on the best published value by at least
``improvement``, a new model version is exported and uploaded. An ``indefinite`` run goes on
until stopped; a ``time_limited`` one ends when no record arrived for ``stream_timeout``
seconds, and its result finishes with the versions it published.

The topic is read with ``assign()`` from its beginning; the position reached is committed under
the group ``kafkaml-training-<result>`` after each window so a restarted worker resumes there.
Records that do not decode are skipped and logged (an unbounded stream must not die of one bad
record).

One sandboxed trainer serves the whole run: it keeps the model's weights (and its warm
framework) from window to window, and each window reaches it as a data set of its own in the
trainer's input dir, removed once trained on.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from model_training.dataset import Dataset, consumer_for
from model_training.errors import DataError, StopRequested
from model_training.worker import REPRESENTATIVE_ROWS, SAMPLE_ROWS

log = logging.getLogger(__name__)


def _direction(metric: str, change: str) -> int:
    change = (change or "auto").lower()
    if change in ("up", "max", "increase", "higher"):
        return 1
    if change in ("down", "min", "decrease", "lower"):
        return -1
    return -1 if "loss" in metric or "error" in metric else 1


def settings_mode(settings) -> str:
    """``indefinite`` (until stopped) or ``time_limited`` (ends after ``stream_timeout``
    seconds without data; the result then finishes)."""
    mode = str(getattr(settings, "incremental_mode", "") or "indefinite").lower()
    return "time_limited" if mode.replace("-", "_") in ("time_limited", "timelimited") else mode


def decode_window(codec, topic: str, values, keys) -> tuple[np.ndarray, np.ndarray]:
    """A window's records as arrays: undecodable records are skipped (and logged), labels that
    do not decode fail the window (``DataError``). Also an online federated site's windows."""
    batch = codec.decode_batch_partial(values)
    good_keys = [keys[i] for i in batch.indices]
    for index, reason in list(batch.errors.items())[:5]:
        log.warning("skipping undecodable record %d of the window: %s", index, reason)
    try:
        y = codec.decode_labels(good_keys)
    except Exception as exc:
        raise DataError(f"labels of a window on {topic}: {exc}") from exc
    return np.asarray(batch.array), np.asarray(y)


class IncrementalRun:
    def __init__(self, worker, trainer, source, codec) -> None:
        self.worker = worker
        self.trainer = trainer
        self.source = source
        self.codec = codec
        self.settings = worker.job.settings
        self.topic = source.topic.split(":", 1)[0]
        owner = worker.job.result_id or worker.job.deployment_id or "local"
        self.group = f"kafkaml-training-{owner}"
        self.best: float | None = None
        self.version = 0
        self.epochs = 0
        self.windows = 0
        self.records = 0
        self.time_limited = (settings_mode(self.settings)) == "time_limited"
        self.last_data = time.monotonic()

    def _idle(self) -> float:
        return time.monotonic() - self.last_data

    def run(self) -> None:
        settings = self.settings
        worker = self.worker
        worker.seed = settings.seed if settings.seed is not None else int(time.time()) & 0x7FFFFFFF
        consumer = consumer_for(worker.bootstrap, **{"group.id": self.group})
        assigned: set[int] = set()
        try:
            while not worker.should_stop():
                assigned = self._assign(consumer, assigned)
                values, keys = self._window(consumer, assigned)
                if not values:
                    if self.time_limited and self._idle() >= self.settings.stream_timeout:
                        log.info(
                            "no data for %.0f s (stream_timeout): the time-limited run ends",
                            self._idle(),
                        )
                        break
                    continue
                self._train_window(values, keys)
                self.last_data = time.monotonic()  # silence counts from the last window's end
                try:
                    consumer.commit(asynchronous=False)
                except Exception as exc:  # no position yet, or the broker restarting
                    log.debug("commit: %s", exc)
        finally:
            consumer.close()
        log.info(
            "incremental training stopped after %d windows, %d records, %d versions",
            self.windows,
            self.records,
            self.version,
        )

    def _assign(self, consumer, assigned: set[int]) -> set[int]:
        try:
            info = consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
        except Exception as exc:
            log.warning("metadata for %s: %s", self.topic, exc)
            return assigned
        partitions = set(info.partitions) if info is not None and info.error is None else set()
        new = partitions - assigned
        if new:
            wanted = [TopicPartition(self.topic, p) for p in sorted(new)]
            committed = {tp.partition: tp.offset for tp in consumer.committed(wanted, timeout=10)}
            consumer.incremental_assign(
                [
                    TopicPartition(self.topic, p, o if o >= 0 else OFFSET_BEGINNING)
                    for p, o in committed.items()
                ]
            )
            assigned = assigned | new
        if not assigned:
            time.sleep(0.5)
        return assigned

    def _window(self, consumer, assigned: set[int]) -> tuple[list[bytes], list[bytes]]:
        size = max(1, self.settings.window_size)
        timeout = max(0.1, self.settings.stream_timeout)
        values: list[bytes] = []
        keys: list[bytes] = []
        first_at: float | None = None
        while len(values) < size and not self.worker.should_stop():
            if first_at is not None and time.monotonic() - first_at >= timeout:
                break
            if first_at is None and self.time_limited and self._idle() >= timeout:
                break  # the time-limited run's stream went quiet
            if not assigned:
                break
            for msg in consumer.consume(min(10000, size - len(values)), 0.5):
                err = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        log.warning("reading %s: %s", self.topic, err.str())
                    continue
                values.append(msg.value())
                keys.append(msg.key())
                if first_at is None:
                    first_at = time.monotonic()
        return values, keys

    def _decode(self, values, keys) -> tuple[np.ndarray, np.ndarray]:
        return decode_window(self.codec, self.topic, values, keys)

    def _train_window(self, values, keys) -> None:
        worker = self.worker
        x, y = self._decode(values, keys)
        self.windows += 1
        self.records += len(x)
        if len(x) < 2:
            return
        order = np.random.default_rng(worker.seed + self.windows).permutation(len(x))
        data = Dataset(x[order], y[order])
        try:
            a, b, n = data.bounds(self.source.validation_rate, self.source.test_rate)
        except DataError as exc:
            log.warning("window %d skipped: %s", self.windows, exc)
            return
        name = f"window-{self.windows}"
        self.trainer.put(name, data.x, data.y)
        try:
            self._fit_window(name, (a, b, n), len(x))
        finally:
            self.trainer.drop(name)

    def _fit_window(self, name: str, bounds: tuple[int, int, int], records: int) -> None:
        worker = self.worker
        a, b, n = bounds
        last, training_time = self.trainer.fit(name, (0, a), (a, b) if b > a else None, self.epochs)
        self.epochs = max(self.epochs, worker.last_epoch)  # epochs count on across windows
        if worker.should_stop():
            raise StopRequested()
        value = self._monitored(last[-1] if last else {})
        log.info(
            "window %d: %d records, %s = %s",
            self.windows,
            records,
            self.settings.monitoring_metric,
            value,
        )
        if value is None or not self._improved(value):
            return
        self.best = value
        self.version += 1
        test_metrics, _ = self.trainer.evaluate(name, (b, n), False)
        worker.publish(
            self.trainer,
            self.source,
            data=name,
            sample=(0, min(SAMPLE_ROWS, a)),
            representative=(0, min(REPRESENTATIVE_ROWS, a)),
            test=(b, n) if n > b else None,
            version=self.version,
            last=last,
            test_metrics=test_metrics,
            matrices=[None] * len(worker.job.models),
            timings={"training_time": training_time},
            extra={"window": self.windows, "monitored": {self.settings.monitoring_metric: value}},
        )

    def _monitored(self, metrics: dict[str, float]) -> float | None:
        name = self.settings.monitoring_metric
        if name in metrics:
            return metrics[name]
        bare = name[4:] if name.startswith("val_") else name
        if bare in metrics:
            log.warning("metric %s not reported (no validation split?): using %s", name, bare)
            return metrics[bare]
        log.warning("monitored metric %s not among %s", name, sorted(metrics))
        return None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        sign = _direction(self.settings.monitoring_metric, self.settings.change)
        gain = (value - self.best) * sign
        return gain > 0 and gain >= self.settings.improvement
