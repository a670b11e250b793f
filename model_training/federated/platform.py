"""A federated deployment run by the platform (the launcher starts these, docs/training.md).

- ``python -m model_training.federated.coordinator --result-id R``: the coordinator workload of
  a federated deployment's result. :class:`FederatedWorker` is the training worker's run
  (statuses, stop, failure with the log tail, the upload) with the coordinator in place of
  reading and fitting: it reports each round to the result as an epoch, and at the end loads
  the global weights into the sandboxed trainer (the only process that runs the model code),
  exports them (native + ONNX, like any result) and uploads them; the result is ``finished``.
  No site qualifying within ``join_timeout_s`` fails the result with that reason.
- ``python -m model_training.federated.site --result-id R --datasource-id D``: a site worker,
  launched by the backend when a site's data stream for the deployment is registered (the
  control message of ``FederatedRawSink``). It reads exactly the announced ranges of that
  site's topic and sends only weights. For an online stream (``OnlineFederatedRawSink``: the
  bare topic, ``incremental``) it reads the topic in windows of at most the deployment's
  ``window_size``: one window per round (``model_training.federated.site``).

Both hold the result's workload credential (``KAFKAML_API_TOKEN``), as the training worker
does; neither runs user code.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time

import numpy as np

from model_training.errors import TrainingError
from model_training.federated.coordinator import Coordinator
from model_training.federated.site import Site, SiteProcess, StreamWindows
from model_training.federated.strategies import get_strategy
from model_training.job import DatasourceSpec
from model_training.worker import SAMPLE_ROWS, TrainingWorker

log = logging.getLogger("model_training.federated.platform")

SAMPLE = "sample"  # the export's tracing rows (zeros of the sites' sample shape)


def _settings(job) -> dict:
    if not job.federated:
        raise TrainingError("the deployment has no federated settings")
    if len(job.models) != 1:
        raise TrainingError("federated training takes one model, not a chain")
    return dict(job.federated)


def coordinator_for(job, bootstrap: str, reporter=None) -> Coordinator:
    fed = _settings(job)
    return Coordinator(
        bootstrap=bootstrap,
        deployment=job.deployment_id,
        prefix=fed.get("prefix") or "",
        rounds=int(fed.get("rounds") or 1),
        strategy=get_strategy(
            fed.get("strategy") or "fedavg", **(fed.get("strategy_params") or {})
        ),
        min_data=int(fed.get("min_data") or 0),
        restrictions=dict(fed.get("restrictions") or {}),
        expected_sites=fed.get("expected_sites"),
        join_timeout_s=float(fed.get("join_timeout_s") or 600),
        round_timeout_s=float(fed.get("round_timeout_s") or 120),
        reporter=reporter,
    )


def federation_summary(coordinator: Coordinator) -> dict:
    """Which sites took part and which did not, and why (kept with the result's artifact)."""
    return {
        "strategy": getattr(coordinator.strategy, "name", str(coordinator.strategy)),
        "rounds": len(coordinator.history),
        "sites": list(coordinator.sites),
        "refused": dict(coordinator.refused),
        "late": list(coordinator.late),
        "dropped": dict(coordinator.dropped),
        "samples": {
            name: int(meta.get("samples") or 0) for name, meta in coordinator.announced.items()
        },
        # what each site trained on in each round (an online site: its windows)
        "round_samples": [dict(r.site_samples) for r in coordinator.history],
    }


class FederatedWorker(TrainingWorker):
    """The training worker of a federated result: coordinate, then export the global model."""

    federation: dict | None = None

    def _run(self) -> None:
        coordinator = coordinator_for(self.job, self.bootstrap, reporter=self.reporters[0])
        started = time.monotonic()
        try:
            weights = coordinator.run()
        finally:
            self.federation = federation_summary(coordinator)
        training_time = time.monotonic() - started
        self._check_stop()
        last = coordinator.history[-1]
        announcement = coordinator.announced[last.answered[0]]
        source = DatasourceSpec(
            topic=",".join(last.answered),
            input_format=str(announcement.get("input_format") or "RAW"),
            input_config=dict(announcement.get("input_config") or {}),
        )
        shape = [int(d) for d in announcement.get("data_shape") or []]
        dtype = np.dtype(str(announcement.get("dtype") or "float32"))
        # the sites' metrics of the last round: local training (last epoch), and global_*: the
        # global model at the round's start on the sites' test shares
        train = {k: v for k, v in last.metrics.items() if not k.startswith("global_")}
        test = {k[7:]: v for k, v in last.metrics.items() if k.startswith("global_")}
        trainer = self.new_trainer(SiteProcess)
        with trainer:
            trainer.start()
            trainer.set_weights(weights)
            trainer.put(
                SAMPLE, np.zeros((SAMPLE_ROWS, *shape), dtype), np.zeros(SAMPLE_ROWS, np.int64)
            )
            self.publish(
                trainer,
                source,
                data=SAMPLE,
                sample=(0, SAMPLE_ROWS),
                version=1,
                last=[train],
                test_metrics=[test],
                matrices=[None],
                timings={"training_time": training_time},
                extra={"federated": self.federation},
            )


def site_worker(job, datasource: dict, name: str, bootstrap: str, should_stop) -> Site:
    """A site of the platform: its registered data (exactly the announced ranges) and the
    deployment's model; local epochs per round are the deployment's training epochs."""
    from datasources.codecs import get_codec
    from model_training.dataset import parse_ranges, read_ranges

    fed = _settings(job)
    source = DatasourceSpec.from_message(datasource)
    codec = get_codec(source.input_format, source.input_config)
    windows = None
    if source.incremental:  # OnlineFederatedRawSink: the bare topic, read in windows
        windows = StreamWindows(
            bootstrap, source.topic.split(":", 1)[0], codec, job.settings.window_size
        )
        x = y = np.empty((0,))
        log.info("site %s: online, windows of at most %d records", name, windows.window_size)
    else:
        data = read_ranges(bootstrap, parse_ranges(source.topic), codec, should_stop=should_stop)
        x, y = np.asarray(data.x), np.asarray(data.y)
        log.info("site %s: %d records from %s", name, len(data), source.topic)
    return Site(
        bootstrap=bootstrap,
        deployment=job.deployment_id,
        name=name,
        job=job,
        x=x,
        y=y,
        windows=windows,
        prefix=fed.get("prefix") or "",
        test_rate=source.test_rate,
        epochs=int(job.settings.kwargs_fit.get("epochs", 1) or 1),
        should_stop=should_stop,
        idle_timeout_s=float(fed.get("join_timeout_s") or 600)
        + float(fed.get("round_timeout_s") or 120),
        input_format=source.input_format,
        input_config=dict(source.input_config),
    )


def site_name(datasource_id: int) -> str:
    return f"datasource-{datasource_id}"


def _bootstrap() -> str:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not bootstrap:
        raise SystemExit("set KAFKA_BOOTSTRAP_SERVERS")
    return bootstrap


def coordinator_main(result_id: int) -> int:
    from model_training.__main__ import backend_mode, prepare_process
    from model_training.errors import StopRequested

    stop = prepare_process()
    args = argparse.Namespace(result_id=result_id, bootstrap_servers=_bootstrap())
    try:
        status = backend_mode(args, stop, worker_class=FederatedWorker)
    except StopRequested:  # a stop that came outside the worker's own handling
        return 0
    return {"finished": 0, "stopped": 0}.get(status, 1)


def site_main(result_id: int, datasource_id: int) -> int:
    from model_training.__main__ import prepare_process
    from model_training.errors import StopRequested
    from model_training.job import TrainingJob
    from worker_common.backend import BackendClient

    stop: threading.Event = prepare_process()
    client = BackendClient()
    try:
        job = TrainingJob.from_backend(client.result(result_id))
        found = [
            d
            for d in client.deployment_datasources(int(job.deployment_id))
            if int(d.get("id") or 0) == datasource_id
        ]
        if not found:
            raise TrainingError(f"datasource {datasource_id} is not the deployment's")
        site = site_worker(job, found[0], site_name(datasource_id), _bootstrap(), stop.is_set)
        site.run()
    except StopRequested:
        return 0
    except Exception:
        log.exception("site %s of result %s failed", site_name(datasource_id), result_id)
        return 1
    return 0
