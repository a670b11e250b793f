"""``python -m model_inference``: the inference worker.

Either from the backend (``--inference-id``, with ``KAFKAML_BACKEND_URL`` and
``KAFKAML_API_TOKEN``), or standalone from flags (``--artifact-dir`` ...). See docs/inference.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading

from .worker import (
    AT_LEAST_ONCE,
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_WAIT_MS,
    DELIVERY_MODES,
    InferenceWorker,
    WorkerConfig,
    WorkerError,
)

log = logging.getLogger("model_inference")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m model_inference",
        description="Kafka-ML inference worker: consume -> decode -> predict -> produce.",
    )
    src = p.add_argument_group("where the model and settings come from")
    src.add_argument("--inference-id", type=int, help="read everything from the backend")
    src.add_argument(
        "--artifact-dir",
        help="standalone: an artifact directory (may be a symlink), or a directory with a "
        "'current' file naming the version sub-directory; re-pointing either swaps the model",
    )
    p.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    p.add_argument("--input-topic")
    p.add_argument("--output-topic")
    p.add_argument("--input-format", help="RAW | AVRO | JSON")
    p.add_argument("--input-config", help="the format's parameters, JSON")
    p.add_argument("--upper-topic", help="early exit: where low-confidence records go on")
    p.add_argument("--limit", type=float, help="early exit: forward when max(output) < limit")
    p.add_argument("--group-id")
    p.add_argument(
        "--batch-size", type=int, help=f"max records a batch (default {DEFAULT_BATCH_SIZE})"
    )
    p.add_argument(
        "--max-wait-ms",
        type=float,
        help=f"max wait to fill a batch (default {DEFAULT_MAX_WAIT_MS})",
    )
    p.add_argument(
        "--runtime",
        help="onnx | keras | pytorch (default: ONNX when the artifact has it); "
        "'echo' forwards records unchanged (benchmark baseline)",
    )
    p.add_argument("--threads", type=int, help="intra-op threads of the runtime (default 1)")
    p.add_argument(
        "--external",
        help="runtime 'external': the model server, JSON (url, protocol v2|tfserving, "
        "model_name, model_version, timeout_ms, retries, concurrency, max_batch)",
    )
    p.add_argument(
        "--candidate",
        help="standalone shadow/canary, JSON: {mode: shadow|canary, artifact_dir, share, "
        "shadow_topic} (backend mode follows the inference's candidate)",
    )
    p.add_argument(
        "--replica", default=None, help="replica name (default $KAFKAML_REPLICA or host-pid)"
    )
    p.add_argument(
        "--model-version", help="standalone: version written in outputs (default: metadata)"
    )
    p.add_argument(
        "--delivery",
        choices=DELIVERY_MODES,
        help=f"{AT_LEAST_ONCE} (default) or exactly_once (Kafka transactions; readers of the "
        "output must use isolation.level=read_committed)",
    )
    p.add_argument(
        "--commit-interval-ms",
        type=float,
        default=200,
        help="how often offsets are committed (exactly_once: one transaction per interval)",
    )
    p.add_argument("--transactional-id", help="exactly_once: default <group id>.<replica name>")
    p.add_argument(
        "--cluster-timeout",
        type=float,
        default=5.0,
        help="seconds without any reachable broker before the inference is reported degraded",
    )
    p.add_argument("--metrics-interval", type=float, default=5.0, help="seconds between reports")
    p.add_argument("--swap-poll", type=float, default=None, help="seconds between model checks")
    p.add_argument(
        "--updates-topic",
        help="models as data: the model-updates topic whose version descriptors swap the model "
        "(default with --inference-id: the inference's; standalone, locations are local files)",
    )
    p.add_argument(
        "--session-timeout-ms",
        type=int,
        default=int(os.environ.get("KAFKAML_SESSION_TIMEOUT_MS", "6000")),
    )
    for side in ("input", "output", "upper"):
        p.add_argument(
            f"--{side}-bootstrap-servers",
            help=f"the Kafka cluster of the {side} topic when it is not the platform's "
            "(edge/fog/cloud on different clusters; the platform's security settings apply)",
        )
    p.add_argument("--no-create-topics", action="store_true")
    p.add_argument(
        "--input-partitions",
        type=int,
        default=4,
        help="partitions of the input topic if it has to be created",
    )
    p.add_argument(
        "--exit-when-idle", type=float, help="stop after N s without input (bench/tests)"
    )
    p.add_argument("--metrics-file", help="write whole-run figures here (JSON)")
    p.add_argument("--ready-file", help="write the partition assignment here (JSON)")
    p.add_argument("--gate-file", help="stay paused after joining until this file exists")
    p.add_argument("--consumer-config", help="extra librdkafka consumer settings, JSON object")
    p.add_argument("--producer-config", help="extra librdkafka producer settings, JSON object")
    p.add_argument("--log-level", default=os.environ.get("KAFKAML_LOG_LEVEL", "INFO"))
    return p


def _backend_settings(args, client) -> dict:
    info = client.inference(args.inference_id)
    return {
        "input_topic": info["input_topic"],
        "output_topic": info["output_topic"],
        "input_format": info.get("input_format") or "RAW",
        "input_config": info.get("input_config") or {},
        "upper_topic": info.get("upper_topic") or None,
        "limit": info.get("limit"),
        "batch_size": info.get("batch_size"),
        "max_wait_ms": info.get("max_wait_ms"),
        "group_id": f"kafkaml-inference-{args.inference_id}",
        "runtime": info.get("runtime") or None,
        "delivery": info.get("delivery") or None,
        "external": info.get("external") or {},
        "updates_topic": info.get("models_topic") or None,
        "input_bootstrap_servers": info.get("input_bootstrap_servers") or None,
        "output_bootstrap_servers": info.get("output_bootstrap_servers") or None,
        "upper_bootstrap_servers": info.get("upper_bootstrap_servers") or None,
    }


def _metrics_poster(client, inference_id):
    """Post reports from a thread so a slow backend never stalls the loop (drop if busy)."""
    busy = threading.Lock()

    def post(payload):
        if not busy.acquire(blocking=False):
            return

        def run():
            try:
                client.report_inference_metrics(inference_id, payload)
            except Exception as exc:  # noqa: BLE001
                log.warning("could not post metrics: %s", exc)
            finally:
                busy.release()

        threading.Thread(target=run, daemon=True).start()

    return post


def make_worker(argv: list[str] | None = None) -> InferenceWorker:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    settings: dict = {}
    source = None
    reporter = None
    if args.inference_id is not None:
        from worker_common.backend import BackendClient

        from .sources import BackendSource

        client = BackendClient()
        settings = _backend_settings(args, client)
        source = BackendSource(client, args.inference_id)
        reporter = _metrics_poster(client, args.inference_id)
    elif (args.runtime or "").lower() != "echo":
        if not args.artifact_dir:
            raise SystemExit("give --inference-id, or --artifact-dir (standalone)")
        from .sources import DirectorySource

        version = args.model_version
        if version is not None and version.isdigit():
            version = int(version)
        source = DirectorySource(args.artifact_dir, version=version)

    def pick(name, default=None):
        value = getattr(args, name)
        if value is not None:
            return value
        value = settings.get(name)
        return default if value is None else value

    input_config = args.input_config
    if isinstance(input_config, str):
        input_config = json.loads(input_config) if input_config.strip() else {}
    if input_config is None:
        input_config = settings.get("input_config") or {}
    missing = [n for n in ("bootstrap_servers", "input_topic", "output_topic") if not pick(n)]
    if missing:
        raise SystemExit("missing: " + ", ".join("--" + m.replace("_", "-") for m in missing))
    input_format = pick("input_format")
    if not input_format and args.inference_id is None and source is not None:
        # standalone without --input-format: what the model was trained on (metadata.json)
        from .runtimes import read_metadata

        metadata = read_metadata(source.target())
        input_format = metadata.get("input_format")
        if not input_config:
            input_config = metadata.get("input_config") or {}
    config = WorkerConfig(
        bootstrap_servers=pick("bootstrap_servers"),
        input_topic=pick("input_topic"),
        output_topic=pick("output_topic"),
        group_id=pick("group_id") or f"kafkaml-inference-{pick('input_topic')}",
        input_format=input_format or "RAW",
        input_config=input_config,
        upper_topic=pick("upper_topic"),
        limit=pick("limit"),
        batch_size=int(pick("batch_size", DEFAULT_BATCH_SIZE)),
        max_wait_ms=float(pick("max_wait_ms", DEFAULT_MAX_WAIT_MS)),
        runtime=pick("runtime"),
        intra_op_threads=args.threads,
        commit_interval_ms=args.commit_interval_ms,
        metrics_interval_s=args.metrics_interval,
        swap_poll_s=args.swap_poll or (2.0 if args.inference_id is not None else 0.5),
        replica=args.replica or "",
        create_topics=not args.no_create_topics,
        input_partitions=args.input_partitions,
        session_timeout_ms=args.session_timeout_ms,
        exit_when_idle_s=args.exit_when_idle,
        metrics_file=args.metrics_file,
        ready_file=args.ready_file,
        gate_file=args.gate_file,
        consumer_overrides=json.loads(args.consumer_config or "{}"),
        producer_overrides=json.loads(args.producer_config or "{}"),
        delivery=pick("delivery", AT_LEAST_ONCE),
        transactional_id=args.transactional_id,
        cluster_timeout_s=args.cluster_timeout,
        external=json.loads(args.external) if args.external else settings.get("external") or {},
        candidate=json.loads(args.candidate) if args.candidate else {},
        input_bootstrap_servers=pick("input_bootstrap_servers"),
        output_bootstrap_servers=pick("output_bootstrap_servers"),
        upper_bootstrap_servers=pick("upper_bootstrap_servers"),
    )
    updates = None
    updates_topic = pick("updates_topic")
    if updates_topic and (config.runtime or "").lower() != "echo":
        from .updates import ModelUpdates, backend_fetcher

        fetch = backend_fetcher(client) if args.inference_id is not None else None
        updates = ModelUpdates(config.bootstrap_servers, updates_topic, fetch=fetch)
        config.updates_topic = updates_topic
    worker = InferenceWorker(config, source=source, reporter=reporter, updates=updates)
    if args.inference_id is not None:
        worker.metrics.inference = str(args.inference_id)
    # Prometheus /metrics when KAFKAML_METRICS_PORT is set (docs/inference.md)
    from worker_common.prometheus import start_metrics_server

    start_metrics_server()
    return worker


def main(argv: list[str] | None = None) -> int:
    from .worker import install_signal_handlers

    worker = make_worker(argv)
    install_signal_handlers(worker)
    try:
        totals = worker.run()
    except WorkerError as exc:
        log.error("stopped: %s", exc)
        return 1
    log.info("done: %s", json.dumps(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
