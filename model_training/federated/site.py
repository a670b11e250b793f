"""A federated site: trains the global model on its own data, sends back only its weights.

``python -m model_training.federated.site --bootstrap HOST:PORT --deployment ID --site NAME
--topic DATA_TOPIC --model-code FILE [...]`` (or :class:`Site` in a program). The site

1. reads its local data stream (a RAW/JSON/AVRO topic: ``input_format``/``input_config`` as the
   control message announces them) — the data never leaves the site;
2. announces itself on the updates topic: samples, sample shape, labels, framework (the
   coordinator's restrictions pick the sites that qualify);
3. follows the global topic: ``init`` addressed to it → answers the model's initial weights;
   ``round`` naming it → loads the global weights, evaluates them on its local test share,
   trains ``epochs`` (FedProx: with the proximal term), and sends its weights with its sample
   count and metrics; ``end`` → stops.

The model code runs only in the sandboxed trainer (``sandboxed_site``); this process moves
arrays. Rounds the site is not named in, and rounds overtaken by a newer one, are skipped.

An **online** site (an unbounded stream, ``OnlineFederatedRawSink``; ``Site.windows``) reads
its topic in windows, as incremental training does (``model_training.incremental``): it
announces itself once its first window holds data, trains round 1 on that window and each later
round on the records that arrived since the previous window (at most ``window_size``; the rest
wait for the next round). Its update's ``samples`` is what it trained on in that round. A round
with no new record is skipped: the update says ``samples`` 0 (``skipped``), carries no weights,
and the coordinator records it without aggregating it.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_training.errors import StopRequested, TrainingError
from model_training.federated import messages
from model_training.job import TrainingJob
from model_training.trainer_process import TrainerProcess

log = logging.getLogger("model_training.federated.site")


class SiteProcess(TrainerProcess):
    """The sandboxed trainer of a site, with weight commands."""

    module = "model_training.federated.sandboxed_site"

    def set_weights(self, weights: list[np.ndarray]) -> None:
        name = f"global-{secrets.token_hex(4)}.npz"
        path = self._readable(self._input_path(name))
        messages.save_weights(path, weights)
        os.chmod(path, 0o644)
        try:
            self.call("set_weights", file=name)
        finally:
            os.unlink(path)

    def get_weights(self) -> list[np.ndarray]:
        done = self.call("get_weights", name=f"w-{secrets.token_hex(4)}")
        from model_training import protocol

        path = self.job_dir / protocol.OUTPUT_DIR / os.path.basename(str(done["file"]))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            with os.fdopen(fd, "rb") as f:
                data = f.read(messages.MAX_MESSAGE_BYTES + 1)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        if len(data) > messages.MAX_MESSAGE_BYTES:
            raise TrainingError("the model's weights are over the message limit")
        import io

        return messages.load_weights(io.BytesIO(data))

    def fit_round(self, data: str, train, val, proximal_mu: float, epoch_offset: int):
        done = self.call(
            "fit",
            data=data,
            train=train,
            val=val,
            epoch_offset=epoch_offset,
            proximal_mu=proximal_mu,
        )
        return done.get("last") or [{}]


def read_stream(
    bootstrap: str,
    topic: str,
    input_format: str = "RAW",
    input_config: dict | None = None,
    *,
    max_records: int | None = None,
    idle_s: float = 3.0,
    timeout_s: float = 60.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The site's local data: every record of ``topic`` (partition order), decoded by the
    platform's codec; stops after ``max_records``, or ``idle_s`` without a new record."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    from datasources.codecs import get_codec
    from model_training.dataset import consumer_for

    codec = get_codec(input_format, input_config or {})
    consumer = consumer_for(bootstrap)  # assign() only: the default reader group
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        values: list[bytes] = []
        keys: list[bytes] = []
        started = last = time.monotonic()
        while time.monotonic() - last < idle_s and time.monotonic() - started < timeout_s:
            for msg in consumer.consume(500, 0.2):
                if msg.error():
                    continue
                values.append(msg.value())
                keys.append(msg.key())
                last = time.monotonic()
            if max_records is not None and len(values) >= max_records:
                values, keys = values[:max_records], keys[:max_records]
                break
    finally:
        consumer.close()
    if not values:
        return np.empty((0,)), np.empty((0,))
    return codec.decode_batch(values), codec.decode_labels(keys)


class StreamWindows:
    """An online site's data: its unbounded topic read from the beginning in windows. A window
    holds the records that arrived after the previous window, at most ``window_size`` (the rest
    stay for the next one); it closes once the reader is caught up (a poll of ``quiet_s``
    brings nothing). Decoded like an incremental window."""

    def __init__(
        self, bootstrap: str, topic: str, codec, window_size: int = 1000, quiet_s: float = 0.5
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.codec = codec
        self.window_size = max(1, int(window_size))
        self.quiet_s = quiet_s
        self.records = 0  # read so far, over all windows
        self._consumer = None
        self._assigned = False

    def _open(self) -> bool:
        """Assigned to the topic's partitions, once it exists (the sink makes it)."""
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        from model_training.dataset import consumer_for

        if self._consumer is None:
            self._consumer = consumer_for(self.bootstrap)  # assign() only, no group
        if not self._assigned:
            meta = self._consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
            if meta is not None and meta.error is None and meta.partitions:
                self._consumer.assign(
                    [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in meta.partitions]
                )
                self._assigned = True
        return self._assigned

    def next(self, wait_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The next window (empty arrays when no record came within ``wait_s``)."""
        deadline = time.monotonic() + wait_s
        values: list[bytes] = []
        keys: list[bytes] = []
        while len(values) < self.window_size:
            if not self._open():
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.2)
                continue
            batch = self._consumer.consume(min(500, self.window_size - len(values)), self.quiet_s)
            got = [m for m in batch if not m.error()]
            if not got and (values or time.monotonic() >= deadline):
                break  # caught up (or nothing came in time)
            values += [m.value() for m in got]
            keys += [m.key() for m in got]
        self.records += len(values)
        if not values:
            return np.empty((0,)), np.empty((0,))
        from model_training.incremental import decode_window

        return decode_window(self.codec, self.topic, values, keys)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


@dataclass
class Site:
    """One federated site (run :meth:`run`, in a thread or as a process)."""

    bootstrap: str
    deployment: str | int
    name: str
    job: TrainingJob
    x: np.ndarray
    y: np.ndarray
    prefix: str = ""
    test_rate: float = 0.2
    epochs: int = 1
    should_stop: Callable[[], bool] = field(default=lambda: False)
    #: called with the round number once the global weights are loaded, before training
    on_round: Callable[[int], None] = field(default=lambda k: None)
    idle_timeout_s: float = 600.0  # no coordinator message for this long: give up
    #: how the data is encoded on the site's topic; announced, so that the coordinator's
    #: export records it in the global model's metadata (inference decodes with it)
    input_format: str = "RAW"
    input_config: dict = field(default_factory=dict)
    rounds_done: list[int] = field(default_factory=list)
    #: an online site's stream (``x``/``y`` are then filled by its first window)
    windows: StreamWindows | None = None
    #: the samples each round trained on (round -> count; 0: skipped, no new record)
    trained: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.global_topic, self.updates_topic = messages.topics(self.deployment, self.prefix)
        self._producer = None
        self._pending = False  # an online site's first window, not trained on yet

    # -- transport ------------------------------------------------------------------------
    def _send(self, meta: dict, weights: list[np.ndarray] | None = None) -> None:
        from confluent_kafka import Producer

        from worker_common.kafka import producer_config

        if self._producer is None:
            self._producer = Producer(
                producer_config(self.bootstrap, **{"message.max.bytes": messages.MAX_MESSAGE_BYTES})
            )
        meta = {"site": self.name, **meta}
        self._producer.produce(  # partition 0 always: the coordinator reads it
            self.updates_topic,
            key=self.name.encode(),
            value=messages.encode(meta, weights),
            partition=0,
        )
        self._producer.flush(30)

    def announcement(self) -> dict[str, Any]:
        labels = sorted({int(v) for v in np.asarray(self.y).ravel().tolist()})
        return {
            "kind": "announce",
            "samples": int(len(self.x)),
            "data_shape": list(np.asarray(self.x).shape[1:]),
            "labels": labels,
            "framework": self.job.framework,
            "dtype": str(np.asarray(self.x).dtype),
            "input_format": self.input_format,
            "input_config": self.input_config,
        }

    # -- the loop -------------------------------------------------------------------------
    def _first_window(self, consumer) -> bool:
        """An online site waits for its first window; a stop, the coordinator's ``end`` or
        ``idle_timeout_s`` end the wait (False: no data came)."""
        assert self.windows is not None
        deadline = time.monotonic() + self.idle_timeout_s
        while not self.should_stop() and time.monotonic() < deadline:
            self.x, self.y = self.windows.next(wait_s=1.0)
            if len(self.x):
                log.info("site %s: first window, %d records", self.name, len(self.x))
                self._pending = True
                return True
            for msg in consumer.consume(50, 0):  # not announced yet: only an end matters
                if not msg.error() and messages.decode(msg.value())[0].get("kind") == "end":
                    log.info("site %s: the run ended before any data came", self.name)
                    return False
        log.warning("site %s: no data on %s, leaving", self.name, self.windows.topic)
        return False

    def _round_data(self, trainer: SiteProcess, k: int) -> tuple[str, int]:
        """The data set round ``k`` trains on, and its size: a bounded site's data every round;
        an online site's first window, then the records that arrived since the previous one."""
        if self.windows is None:
            return "local", len(self.x)
        if self._pending:
            x, y, self._pending = self.x, self.y, False
        else:
            x, y = self.windows.next()
        name = f"window-{k}"
        if len(x):
            trainer.put(name, x, y)
        return name, len(x)

    def run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        from model_training.dataset import consumer_for
        from worker_common.kafka import ensure_topics

        ensure_topics([self.global_topic, self.updates_topic], bootstrap=self.bootstrap)
        trainer = SiteProcess(self.job, on_epoch=lambda *a: None, should_stop=self.should_stop)
        consumer = consumer_for(  # assign() only: the default reader group
            self.bootstrap, **{"fetch.message.max.bytes": messages.MAX_MESSAGE_BYTES}
        )
        try:
            consumer.assign([TopicPartition(self.global_topic, 0, OFFSET_BEGINNING)])
            if self.windows is None:
                # announced at once (the coordinator's join need not wait for the framework's
                # import); the trainer starts meanwhile
                self._send(self.announcement())
                trainer.start()
                trainer.put("local", self.x, self.y)
            else:  # an online site announces its first window
                trainer.start()
                if not self._first_window(consumer):
                    return
                self._send(self.announcement())
            last_seen = time.monotonic()
            epoch = 0
            while not self.should_stop():
                if time.monotonic() - last_seen > self.idle_timeout_s:
                    log.warning("site %s: no word from the coordinator, leaving", self.name)
                    return
                batch = [m for m in consumer.consume(50, 0.2) if not m.error()]
                if not batch:
                    continue
                last_seen = time.monotonic()
                decoded = [messages.decode(m.value()) for m in batch]
                if any(meta.get("kind") == "end" for meta, _ in decoded):
                    log.info("site %s: the coordinator ended the run", self.name)
                    return
                for meta, _ in decoded:
                    if meta.get("kind") == "init" and meta.get("site") == self.name:
                        self._send({"kind": "init"}, trainer.get_weights())
                rounds = [(m, w) for m, w in decoded if m.get("kind") == "round"]
                if not rounds:
                    continue
                meta, weights = rounds[-1]  # a newer round overtakes the older ones
                if self.name not in meta.get("sites", []):
                    continue
                k = int(meta["round"])
                trainer.set_weights(weights)
                self.on_round(k)
                data, n = self._round_data(trainer, k)
                n_test = int(round(n * self.test_rate))
                n_train = n - n_test
                self.rounds_done.append(k)
                self.trained[k] = max(0, n_train)
                if n_train <= 0:
                    log.info("site %s: round %d: no new record, skipped", self.name, k)
                    self._send(
                        {
                            "kind": "update",
                            "round": k,
                            "samples": 0,
                            "skipped": "no new records",
                            "metrics": {},
                        }
                    )
                    continue
                metrics: dict[str, float] = {}
                if n_test:
                    evaluated = trainer.call(
                        "evaluate", data=data, test=(n_train, n), confusion_matrix=False
                    )
                    metrics.update(
                        {
                            f"global_{k2}": float(v)
                            for k2, v in (evaluated.get("metrics") or [{}])[0].items()
                        }
                    )
                last = trainer.fit_round(
                    data, (0, n_train), None, float(meta.get("proximal_mu") or 0.0), epoch
                )
                epoch += self.epochs
                metrics.update({k2: float(v) for k2, v in last[0].items()})
                self._send(
                    {"kind": "update", "round": k, "samples": n_train, "metrics": metrics},
                    trainer.get_weights(),
                )
                if self.windows is not None:
                    log.info("site %s: round %d trained on %d records", self.name, k, n_train)
                    trainer.drop(data)
        except StopRequested:
            log.warning("site %s: stopped", self.name)
        finally:
            consumer.close()
            if self.windows is not None:
                self.windows.close()
            trainer.close(kill=self.should_stop())
            if self._producer is not None:
                self._producer.flush(5)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"site-{self.name}", daemon=True)
        thread.start()
        return thread


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    from pathlib import Path

    from model_training.job import ModelSpec, TrainingSettings

    parser = argparse.ArgumentParser(
        prog="python -m model_training.federated.site",
        description="The platform runs it with --result-id and --datasource-id (the model and "
        "the site's registered data come from the backend: model_training.federated.platform); "
        "by hand, give --bootstrap, --deployment, --site, --topic and --model-code.",
    )
    parser.add_argument("--result-id", type=int, help="platform: the federated result")
    parser.add_argument("--datasource-id", type=int, help="platform: the site's datasource")
    parser.add_argument("--bootstrap")
    parser.add_argument("--deployment")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--site", help="this site's name")
    parser.add_argument("--topic", help="the site's own data topic")
    parser.add_argument("--input-format", default="RAW")
    parser.add_argument("--input-config", default="{}", help="JSON, as the control message")
    parser.add_argument("--max-records", type=int)
    parser.add_argument("--framework", default="tensorflow")
    parser.add_argument("--model-code", type=Path)
    parser.add_argument("--model-imports", type=Path)
    parser.add_argument("--epochs", type=int, default=1, help="local epochs per round")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--test-rate", type=float, default=0.1)
    args = parser.parse_args(argv)
    if args.result_id is not None:
        if args.datasource_id is None:
            parser.error("--result-id needs --datasource-id")
        from model_training.federated.platform import site_main

        return site_main(args.result_id, args.datasource_id)
    missing = [
        flag
        for flag in ("bootstrap", "deployment", "site", "topic", "model_code")
        if getattr(args, flag) is None
    ]
    if missing:
        parser.error(f"by hand, give {', '.join('--' + m.replace('_', '-') for m in missing)}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    input_config = json.loads(args.input_config)
    x, y = read_stream(
        args.bootstrap,
        args.topic,
        args.input_format,
        input_config,
        max_records=args.max_records,
    )
    if not len(x):
        log.error("no data on %s", args.topic)
        return 1
    job = TrainingJob(
        models=(
            ModelSpec(
                code=args.model_code.read_text(),
                imports=args.model_imports.read_text() if args.model_imports else "",
                framework=args.framework,
            ),
        ),
        settings=TrainingSettings(batch=args.batch, kwargs_fit={"epochs": args.epochs}),
    )
    Site(
        bootstrap=args.bootstrap,
        deployment=args.deployment,
        name=args.site,
        job=job,
        x=x,
        y=y,
        prefix=args.prefix,
        test_rate=args.test_rate,
        epochs=args.epochs,
        input_format=args.input_format,
        input_config=input_config,
    ).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
