"""One training run from start to final status, independent of where the job came from.

``TrainingWorker(job, reporters, bootstrap=...).run()`` marks the result ``deployed``, starts
the sandboxed trainer (which builds the model(s) from the user's code at once, so broken code
fails before any data is awaited), waits for the datasource the backend registered for the
deployment (or uses the data source the user picked), reads and splits it, has the trainer fit,
evaluate and export, uploads the artifacts, and ends in ``finished``, ``failed`` (error text + log tail) or ``stopped``.

This is the privileged side: it holds the workload's credential (through its reporters) and
talks to Kafka and the backend, and it never imports or runs user code; the trainer
(``model_training.trainer_process``) does, in the jail.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from confluent_kafka import TopicPartition

from datasources.codecs import get_codec
from model_training import settings as worker_settings
from model_training.errors import StopRequested, TrainingError
from model_training.job import DatasourceSpec, TrainingJob
from model_training.reporting import LogTail, Reporter
from model_training.trainer_process import TrainerFailed, TrainerProcess

if TYPE_CHECKING:
    from worker_common.backend import BackendClient

log = logging.getLogger(__name__)

SAMPLE_ROWS = 8  # rows used to trace the models for export and to check the ONNX files
REPRESENTATIVE_ROWS = 300  # training rows that calibrate the int8 TensorFlow Lite model
DATA = "data"  # name of the bounded run's data set in the trainer's input dir


def split_metrics(metrics: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    train = {k: v for k, v in metrics.items() if not k.startswith("val_")}
    val = {k[4:]: v for k, v in metrics.items() if k.startswith("val_")}
    return train, val


class TrainingWorker:
    def __init__(
        self,
        job: TrainingJob,
        reporters: Sequence[Reporter],
        *,
        bootstrap: str,
        backend: BackendClient | None = None,
        work_dir: Path | None = None,
        stop_event: threading.Event | None = None,
        log_tail: LogTail | None = None,
        limits: Any = None,
    ) -> None:
        if len(reporters) != len(job.models):
            raise ValueError(f"{len(job.models)} model(s) need one reporter each")
        self.job = job
        self.reporters = list(reporters)
        self.bootstrap = bootstrap
        self.backend = backend  # where the deployment's registered datasource is asked for
        self.work_dir = Path(work_dir) if work_dir else None
        self.stop_event = stop_event or threading.Event()
        self.log_tail = log_tail or LogTail()
        self.limits = limits  # the trainer's JailLimits; None: from the environment
        self.seed: int | None = None
        self.last_epoch = 0
        self.trainer: TrainerProcess | None = None
        self.timings: dict[str, float] = {}  # trainer_start, read, fit (seconds)

    # -- status ---------------------------------------------------------------------------
    def _distinct_reporters(self) -> list[Reporter]:
        seen, out = set(), []
        for reporter in self.reporters:
            if id(reporter) not in seen:
                seen.add(id(reporter))
                out.append(reporter)
        return out

    def set_status(self, status: str, *, error: str = "", log_tail: str = "") -> None:
        for reporter in self._distinct_reporters():
            try:
                reporter.set_status(status, error=error, log_tail=log_tail)
            except Exception as exc:  # the final status must reach every result we can
                log.error("could not set status %s: %s", status, exc)

    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    def on_epoch(self, epoch: int, per_model: list[dict[str, float]]) -> None:
        self.last_epoch = epoch
        for reporter, metrics in zip(self.reporters, per_model, strict=True):
            reporter.epoch(epoch, metrics)

    # -- the run --------------------------------------------------------------------------
    def run(self) -> str:
        root = logging.getLogger()
        root.addHandler(self.log_tail)
        try:
            self.set_status("deployed")
            self._run()
        except StopRequested:
            log.info("stopped")
            self.set_status("stopped")
            return "stopped"
        except Exception as exc:
            if self.should_stop():  # "stopped while reading" and the like
                log.info("stopped (%s)", exc)
                self.set_status("stopped")
                return "stopped"
            log.error("training failed: %s", exc)
            tail = self.log_tail.text()
            if not isinstance(exc, TrainerFailed):  # the trainer's own traceback is in the log
                log.debug("%s", traceback.format_exc())
                tail += "\n" + traceback.format_exc()
            self.set_status("failed", error=str(exc) or type(exc).__name__, log_tail=tail[-20000:])
            return "failed"
        finally:
            root.removeHandler(self.log_tail)
        if self.should_stop():
            self.set_status("stopped")
            return "stopped"
        self.set_status("finished")
        return "finished"

    def _check_stop(self) -> None:
        if self.should_stop():
            raise StopRequested()

    def datasource(self, trainer: TrainerProcess) -> DatasourceSpec:
        """The data source the user picked, or the one the backend registered for the
        deployment (never a control message read here: the backend checks who owns the
        announced topics first)."""
        if self.job.datasource is not None:
            return self.job.datasource
        if self.job.deployment_id is None:
            raise TrainingError("no data source given and no deployment id to wait for")
        if self.backend is None:
            raise TrainingError(
                "no data source given and no backend to ask for the deployment's registered one"
            )
        from model_training.registered import wait_for_registered_datasource

        try:
            spec = wait_for_registered_datasource(
                self.backend,
                int(self.job.deployment_id),
                timeout=worker_settings.control_timeout(),
                # the trainer builds the models meanwhile: broken code ends the wait at once
                should_stop=lambda: self.should_stop() or not trainer.healthy(),
            )
        except TrainingError:
            trainer.raise_failure()
            raise
        self._check_stop()
        return spec

    def new_trainer(self, kind: type[TrainerProcess] = TrainerProcess) -> TrainerProcess:
        """The run's sandboxed trainer (``kind``: the federated site's adds weight commands)."""
        self.trainer = kind(
            self.job,
            on_epoch=self.on_epoch,
            should_stop=self.should_stop,
            limits=self.limits,
            staging_dir=self.work_dir,
        )
        return self.trainer

    def _run(self) -> None:
        job = self.job
        trainer = self.new_trainer()
        with trainer:
            trainer.start()
            source = self.datasource(trainer)
            try:
                codec = get_codec(source.input_format, source.input_config)
            except ValueError as exc:
                raise TrainingError(f"data source: {exc}") from exc
            if source.incremental or job.settings.incremental:
                from model_training.incremental import IncrementalRun

                IncrementalRun(self, trainer, source, codec).run()
            else:
                self._train_bounded(trainer, source, codec)
            self.timings["trainer_start"] = trainer.start_time or 0.0

    def _train_bounded(self, trainer: TrainerProcess, source: DatasourceSpec, codec) -> None:
        from model_training.dataset import parse_ranges, read_ranges

        settings = self.job.settings
        self.seed = settings.seed if settings.seed is not None else secrets.randbits(31)
        started = time.monotonic()
        data = read_ranges(
            self.bootstrap,
            parse_ranges(source.topic),
            codec,
            seed=self.seed,
            should_stop=self.should_stop,
            memmap_path=trainer.data_path(DATA),  # written in place for the trainer
        )
        try:
            read_time = time.monotonic() - started
            log.info("read %d records in %.2fs (seed %d)", len(data), read_time, self.seed)
            a, b, n = data.bounds(source.validation_rate, source.test_rate)
            trainer.put(DATA, data.x, data.y)
            self._check_stop()
            last, training_time = trainer.fit(DATA, (0, a), (a, b) if b > a else None)
            self._check_stop()
            extra = None
            if settings.unsupervised_rounds > 0 and source.unsupervised_topic:
                pseudo_last, rounds, pseudo_time = self._pseudo_label(
                    trainer, source, codec, (0, a), (a, b) if b > a else None
                )
                last = pseudo_last or last
                training_time += pseudo_time
                extra = {"pseudo_labelling": rounds}
                self._check_stop()
            test_metrics, matrices = trainer.evaluate(DATA, (b, n), settings.confusion_matrix)
            self.timings.update(read=read_time, fit=training_time)
            self.publish(
                trainer,
                source,
                data=DATA,
                sample=(0, min(SAMPLE_ROWS, a)),
                representative=(0, min(REPRESENTATIVE_ROWS, a)),
                test=(b, n) if n > b else None,
                version=1,
                last=last,
                test_metrics=test_metrics,
                matrices=matrices,
                timings={"training_time": training_time, "read_time": read_time},
                **({"extra": extra} if extra else {}),
            )
        finally:
            data.close()

    def _pseudo_label(self, trainer, source, codec, train, val):
        """Semi-supervised rounds: the unsupervised topic (read whole, from its beginning until
        it stays quiet: the sink flushed it before its control message) goes to the trainer,
        which pseudo-labels and retrains (user code runs only there)."""
        from confluent_kafka import OFFSET_BEGINNING

        from model_training.dataset import consumer_for

        topic = source.unsupervised_topic
        consumer = consumer_for(self.bootstrap)
        values: list[bytes] = []
        try:
            meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
            partitions = sorted(meta.partitions) if meta is not None and not meta.error else []
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
            quiet, deadline = 0, time.monotonic() + worker_settings.read_timeout()
            while partitions and quiet < 4 and time.monotonic() < deadline:
                self._check_stop()
                batch = consumer.consume(10000, 0.5)
                quiet = 0 if batch else quiet + 1
                values.extend(m.value() for m in batch if m.error() is None)
        finally:
            consumer.close()
        if not values:
            log.warning("unsupervised topic %s holds no records: no pseudo-labelling", topic)
            return [], [], 0.0
        try:
            x = np.asarray(codec.decode_batch(values))
        except Exception as exc:
            raise TrainingError(f"unsupervised topic {topic}: {exc}") from exc
        trainer.put(UNLABELLED, x, np.zeros(0, dtype=np.uint8))
        log.info("pseudo-labelling with %d unlabelled samples from %s", len(x), topic)
        settings = self.job.settings
        try:
            return trainer.pseudo_label(
                DATA,
                train,
                val,
                UNLABELLED,
                rounds=settings.unsupervised_rounds,
                threshold=settings.confidence_threshold,
                epoch_offset=self.last_epoch,
            )
        finally:
            trainer.drop(UNLABELLED)

    def publish(
        self,
        trainer: TrainerProcess,
        source: DatasourceSpec,
        *,
        data: str,
        sample: tuple[int, int],
        version: int,
        last: list[dict[str, float]],
        test_metrics: list[dict[str, float]],
        matrices: list[Any],
        timings: dict[str, float],
        extra: dict | None = None,
        representative: tuple[int, int] | None = None,
        test: tuple[int, int] | None = None,
    ) -> None:
        """Have the trainer export every sub-model; upload each one's artifacts and summary
        to its result."""
        chain = len(self.job.models)
        extras = [
            {
                "model_name": spec.name,
                "model_id": spec.id,
                "chain_index": i,
                "chain_length": chain,
                "seed": self.seed,
                **(extra or {}),
            }
            for i, spec in enumerate(self.job.models)
        ]
        base, directories = trainer.export(
            data,
            sample,
            version=version,
            input_format=source.input_format,
            input_config=source.input_config,
            extras=extras,
            representative=representative,
            test=test,
        )
        try:
            for i, (directory, reporter) in enumerate(
                zip(directories, self.reporters, strict=True)
            ):
                train_metrics, val_metrics = split_metrics(last[i] if i < len(last) else {})
                summary = {
                    "train_metrics": train_metrics,
                    "val_metrics": val_metrics,
                    "test_metrics": test_metrics[i],
                    "confusion_matrix": matrices[i],
                    "training_time": timings.get("training_time"),
                    "seed": self.seed,
                    "version": version,
                    **({"read_time": timings["read_time"]} if "read_time" in timings else {}),
                    **(extra or {}),
                }
                reporter.upload_artifacts(directory, summary)
                log.info("uploaded version %d of sub-model %d: %s", version, i, test_metrics[i])
        finally:
            shutil.rmtree(base, ignore_errors=True)


UNLABELLED = "unlabelled"
