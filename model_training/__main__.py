"""``python -m model_training``: the training worker.

Backend mode (what the Launcher runs)::

    python -m model_training --result-id 42
        # KAFKAML_BACKEND_URL, KAFKAML_API_TOKEN, KAFKA_BOOTSTRAP_SERVERS

It trains on the data source the user picked, or waits for the one the backend registered for
the deployment (the control logger's registration, accepted only for the owner's own topics).

Standalone mode (examples, tests; no backend, so the data source is given)::

    python -m model_training --model-file model.py --framework tensorflow \\
        --datasource '{"topic": "alice.digits:0:0:1797", ...}' --kwargs "epochs=5" \\
        --output-dir out/

This process is the privileged side of the workload: it never runs user code. It starts the
sandboxed trainer (``python -m model_training.sandboxed``) in the jail and drives it; see
``model_training.trainer_process`` and docs/training.md.

SIGTERM (the launcher's stop) kills the trainer's whole job and ends the run with status
``stopped``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from model_training import settings as worker_settings

log = logging.getLogger("model_training")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model_training", description=__doc__.split("\n")[0])
    p.add_argument("--result-id", type=int, help="backend mode: the training result to run")
    p.add_argument(
        "--model-file",
        action="append",
        default=[],
        help="standalone: Python file defining `model` (repeat for a chain, edge first)",
    )
    p.add_argument("--imports-file", help="standalone: Python imports run before the model code")
    p.add_argument("--framework", default="tensorflow", help="tensorflow | pytorch")
    p.add_argument("--datasource", help="standalone: the data source, a control message (JSON)")
    p.add_argument("--kwargs", default="", help='fit arguments, e.g. "epochs=5, shuffle=True"')
    p.add_argument("--kwargs-val", default="", help="evaluate arguments")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int)
    p.add_argument("--confusion-matrix", action="store_true")
    p.add_argument("--output-dir", default="training-output", help="standalone: where artifacts go")
    p.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", ""))
    args = p.parse_args(argv)
    if args.result_id is None and not args.model_file:
        p.error("give --result-id (backend mode) or --model-file (standalone mode)")
    if args.result_id is None and not args.datasource:
        p.error("standalone mode trains on --datasource (only the backend registers data sources)")
    if not args.bootstrap_servers:
        p.error("set KAFKA_BOOTSTRAP_SERVERS or --bootstrap-servers")
    return args


def install_signal_handlers(stop: threading.Event) -> None:
    from model_training.errors import StopRequested

    def handler(signum, frame):
        first = not stop.is_set()
        stop.set()
        if first:
            log.info("signal %s: stopping", signum)
            raise StopRequested()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def backend_mode(args, stop: threading.Event, worker_class=None) -> str:
    """Run the result's workload: ``worker_class`` (default ``TrainingWorker``; the federated
    coordinator's is ``model_training.federated.platform.FederatedWorker``)."""
    from model_training.job import TrainingJob
    from model_training.metrics import instrumented
    from model_training.reporting import BackendReporter
    from model_training.worker import TrainingWorker
    from worker_common.backend import BackendClient

    client = BackendClient()
    try:
        job = TrainingJob.from_backend(client.result(args.result_id))
    except Exception as exc:
        log.exception("could not load result %s", args.result_id)
        try:
            client.set_result_status(args.result_id, "failed", error=f"cannot start: {exc}")
        except Exception:
            pass
        return "failed"
    by_id: dict[int, BackendReporter] = {}
    reporters = []
    for spec in job.models:
        rid = spec.result_id or args.result_id
        reporters.append(by_id.setdefault(rid, BackendReporter(client, rid)))
    reporters = instrumented(reporters, [r.result_id for r in reporters])
    worker = (worker_class or TrainingWorker)(
        job,
        reporters,
        bootstrap=args.bootstrap_servers,
        backend=client,
        stop_event=stop,
    )
    return worker.run()


def standalone_mode(args, stop: threading.Event) -> str:
    from model_training.job import DatasourceSpec, ModelSpec, TrainingJob, TrainingSettings
    from model_training.metrics import instrumented
    from model_training.reporting import MemoryReporter
    from model_training.worker import TrainingWorker

    imports = Path(args.imports_file).read_text() if args.imports_file else ""
    models = tuple(
        ModelSpec(
            code=Path(f).read_text(), framework=args.framework, imports=imports, name=Path(f).stem
        )
        for f in args.model_file
    )
    datasource = DatasourceSpec.from_message(json.loads(args.datasource))
    settings = TrainingSettings.from_deployment(
        {
            "batch": args.batch,
            "kwargs_fit": args.kwargs,
            "kwargs_val": args.kwargs_val,
            "seed": args.seed,
            "conf_mat_settings": args.confusion_matrix,
        },
        models[0].framework,
    )
    job = TrainingJob(models=models, settings=settings, datasource=datasource)
    out = Path(args.output_dir)
    reporters = [MemoryReporter(keep_dir=out / f"model-{i}") for i in range(len(models))]
    for reporter in reporters:
        reporter.epoch = _printing_epoch(reporter.epoch)
    reporters = instrumented(reporters, [str(i) for i in range(len(reporters))])
    worker = TrainingWorker(
        job,
        reporters,
        bootstrap=args.bootstrap_servers,
        stop_event=stop,
    )
    status = worker.run()
    report = [
        {
            "statuses": r.statuses,
            "epochs": r.epochs,
            "artifacts": [{"directory": str(d), "summary": s} for d, s in r.artifacts],
        }
        for r in reporters
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps({"status": status, "error": reporters[0].error, "output_dir": str(out)}))
    return status


def _printing_epoch(record):
    def epoch(n, metrics):
        record(n, metrics)
        print(json.dumps({"epoch": n, "metrics": metrics}), flush=True)

    return epoch


def prepare_process() -> threading.Event:
    """What every privileged worker process of a training workload does first (this one, the
    federated coordinator and sites): hardening, threads, logging, metrics, signals. Returns
    the stop event SIGTERM sets."""
    from worker_common.hardening import make_undumpable

    # the credential in this process's environment stays out of a same-uid trainer's reach
    # (/proc/<pid>/environ, ptrace) where the sandbox cannot give the trainer its own uid
    make_undumpable()
    worker_settings.configure_threads()
    logging.basicConfig(
        level=os.environ.get("KAFKAML_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Prometheus /metrics when KAFKAML_METRICS_PORT is set (docs/training.md)
    from worker_common.prometheus import start_metrics_server

    start_metrics_server()
    stop = threading.Event()
    install_signal_handlers(stop)
    return stop


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = prepare_process()
    try:
        mode = backend_mode if args.result_id is not None else standalone_mode
        status = mode(args, stop)
    except BaseException as exc:  # a stop that came outside the worker's own handling
        from model_training.errors import StopRequested

        if isinstance(exc, StopRequested):
            return 0
        raise
    return {"finished": 0, "stopped": 0}.get(status, 1)


if __name__ == "__main__":
    sys.exit(main())
