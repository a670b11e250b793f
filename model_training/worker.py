"""One training run from start to final status, independent of where the job came from.

``TrainingWorker(job, reporters, bootstrap=...).run()`` marks the result ``deployed``, builds
the model(s) from the user's code, waits for the deployment's data (or uses the data source
the user picked), reads and splits it, trains, evaluates, exports and uploads, and ends in
``finished``, ``failed`` (error text + log tail) or ``stopped``.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datasources.codecs import get_codec
from model_training import settings as worker_settings
from model_training.artifacts import confusion_matrix, write_metadata
from model_training.errors import StopRequested, TrainingError
from model_training.job import DatasourceSpec, TrainingJob
from model_training.reporting import LogTail, Reporter

log = logging.getLogger(__name__)

SAMPLE_ROWS = 8  # rows used to trace the models for export and to check the ONNX files


def build_models(job: TrainingJob) -> list[Any]:
    """Turn the user code into model objects with the platform's one implementation."""
    from mlcode_executor.usercode import build_model

    models = []
    for spec in job.models:
        try:
            models.append(build_model(job.framework, spec.imports, spec.code))
        except Exception as exc:
            raise TrainingError(f"model {spec.name!r} could not be built: {exc}") from exc
    return models


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
        control_topic: str | None = None,
        work_dir: Path | None = None,
        stop_event: threading.Event | None = None,
        log_tail: LogTail | None = None,
    ) -> None:
        if len(reporters) != len(job.models):
            raise ValueError(f"{len(job.models)} model(s) need one reporter each")
        self.job = job
        self.reporters = list(reporters)
        self.bootstrap = bootstrap
        from worker_common.kafka import DEFAULT_CONTROL_TOPIC

        self.control_topic = control_topic or DEFAULT_CONTROL_TOPIC
        self.work_dir = Path(work_dir) if work_dir else None
        self.stop_event = stop_event or threading.Event()
        self.log_tail = log_tail or LogTail()
        self.seed: int | None = None

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
            log.error("training failed: %s", exc)
            log.debug("%s", traceback.format_exc())
            tail = self.log_tail.text() + "\n" + traceback.format_exc()
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

    def datasource(self) -> DatasourceSpec:
        if self.job.datasource is not None:
            return self.job.datasource
        if self.job.deployment_id is None:
            raise TrainingError("no data source given and no deployment id to wait for")
        from model_training.control import wait_for_control_message

        spec = wait_for_control_message(
            self.bootstrap,
            self.control_topic,
            int(self.job.deployment_id),
            timeout=worker_settings.control_timeout(),
            should_stop=self.should_stop,
        )
        self._check_stop()
        return spec

    def _run(self) -> None:
        from model_training.trainers import get_trainer

        job = self.job
        trainer_cls = get_trainer(job.framework)
        models = build_models(job)  # fail on bad code before waiting for data
        source = self.datasource()
        try:
            codec = get_codec(source.input_format, source.input_config)
        except ValueError as exc:
            raise TrainingError(f"data source: {exc}") from exc
        if source.incremental or job.settings.incremental:
            from model_training.incremental import IncrementalRun

            IncrementalRun(self, trainer_cls(models, job.settings), source, codec).run()
            return
        self._train_bounded(trainer_cls(models, job.settings), source, codec)

    def _train_bounded(self, trainer, source: DatasourceSpec, codec) -> None:
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
        )
        try:
            read_time = time.monotonic() - started
            log.info("read %d records in %.2fs (seed %d)", len(data), read_time, self.seed)
            train, val, test = data.split(source.validation_rate, source.test_rate)
            self._check_stop()
            fit_started = time.monotonic()
            last = trainer.fit(train, val, dict(settings.kwargs_fit), self.on_epoch)
            training_time = time.monotonic() - fit_started
            self._check_stop()
            test_metrics = (
                trainer.evaluate(test, dict(settings.kwargs_val))
                if len(test)
                else [{} for _ in trainer.models]
            )
            matrices: list[Any] = [None] * len(trainer.models)
            if settings.confusion_matrix and len(test):
                matrices = [confusion_matrix(test.y, s) for s in trainer.predict(test.x)]
            self.publish(
                trainer,
                source,
                sample=train.x[:SAMPLE_ROWS],
                version=1,
                last=last,
                test_metrics=test_metrics,
                matrices=matrices,
                timings={"training_time": training_time, "read_time": read_time},
            )
        finally:
            data.close()

    def publish(
        self,
        trainer,
        source: DatasourceSpec,
        *,
        sample: np.ndarray,
        version: int,
        last: list[dict[str, float]],
        test_metrics: list[dict[str, float]],
        matrices: list[Any],
        timings: dict[str, float],
        extra: dict | None = None,
    ) -> None:
        """Export every sub-model and upload its artifacts and summary to its result."""
        base = Path(tempfile.mkdtemp(prefix="kafkaml-export-", dir=self.work_dir))
        try:
            exported = trainer.export(base, sample)
            chain = len(exported)
            for i, (item, reporter) in enumerate(zip(exported, self.reporters, strict=True)):
                spec = self.job.models[i]
                write_metadata(
                    item,
                    framework=trainer.framework,
                    framework_version=trainer.framework_version(),
                    version=version,
                    input_format=source.input_format,
                    input_config=source.input_config,
                    extra={
                        "model_name": spec.name,
                        "model_id": spec.id,
                        "chain_index": i,
                        "chain_length": chain,
                        "seed": self.seed,
                        **(extra or {}),
                    },
                )
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
                reporter.upload_artifacts(item.directory, summary)
                log.info("uploaded version %d of sub-model %d: %s", version, i, test_metrics[i])
        finally:
            shutil.rmtree(base, ignore_errors=True)
