"""The inference worker's Kafka adapter: consume a micro-batch, hand it to the core
(:func:`model_inference.core.process_batch`), produce the outputs, commit what was delivered.

Guarantees (at-least-once):

* auto-commit is off; an input offset is committed only after every record produced for the
  inputs up to it (output, upper-topic or dead-letter record) was acknowledged by the broker.
  Batches are tracked in order and only a completed prefix is committed, per partition;
* librdkafka retries a delivery for ``message.timeout.ms``; a delivery that still fails stops
  the replica with an error, its batch uncommitted (the supervisor restarts it, the group
  reads those records again);
* on a rebalance the revoked partitions are flushed and committed synchronously; a replica that
  dies loses nothing, its uncommitted records are consumed again by the group;
* SIGTERM / SIGINT: finish the batch, flush, commit, leave the group, exit 0.

Exactly-once (``delivery="exactly_once"``): one transactional producer per replica
(``transactional.id`` = ``<group>.<replica>``, stable across restarts so a restarted replica
aborts what its predecessor left open). Outputs, upper-topic and dead-letter records of the
batches of one commit interval and the consumed input offsets
(``send_offsets_to_transaction`` with the consumer's group metadata: a replica that lost its
partitions in a rebalance is fenced by the group generation, KIP-447) are committed in one
transaction. On any failure the transaction is aborted and the consumer rewound to the
committed offsets; nothing of it is visible to ``read_committed`` readers. Input is read with
``isolation.level=read_committed``; downstream readers must read the output that way too.

Cluster reachability: librdkafka's "all brokers down" error marks the cluster unreachable; a
background probe (a metadata request) marks it reachable again. After ``cluster_timeout_s``
unreachable, the metrics report carries ``cluster_unreachable_since`` (the backend shows the
inference degraded).

Delivery reports are served by a small thread that polls the producer, so a batch is seen as
acknowledged (and its latency measured) as soon as the broker answers.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from worker_common.kafka import client_config, ensure_topics, producer_config

from .core import CANARY, Candidate, ModelSpec, dlq_headers, dlq_topic, process_batch
from .metrics import Metrics
from .runtimes import RuntimeUnavailable, load_runtime

log = logging.getLogger("model_inference")

DEFAULT_BATCH_SIZE = 512
DEFAULT_MAX_WAIT_MS = 5
# exactly-once: while full batches come (a backlog), a transaction spans up to this many commit
# intervals: fewer commits (each blocks the loop for a broker round trip or two) while catching
# up; once caught up, one every interval again (latency)
BACKLOG_TRANSACTION_INTERVALS = 4
BACKLOG_MIN_BATCH = 64  # smaller batch sizes are always full: no backlog detection
# exactly-once: when the input is idle (a consume returned nothing) the open transaction is
# committed once it is this old, not at the end of the interval: outputs are visible sooner and
# nothing is gained by waiting
IDLE_TRANSACTION_MS = 20
# Once asked to stop, how long transaction calls may still be retried (a coordinator that is
# away would otherwise hold the replica for a minute a call): what is not committed by then is
# aborted by the coordinator or fenced by the next replica, and its inputs are read again.
STOP_GRACE_S = 15.0
AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE = "exactly_once"
DELIVERY_MODES = (AT_LEAST_ONCE, EXACTLY_ONCE)
PIPELINE_MIN_BATCH = 16  # smaller batches are predicted inline


@dataclass
class WorkerConfig:
    bootstrap_servers: str
    input_topic: str
    output_topic: str
    group_id: str
    input_format: str = "RAW"
    input_config: dict = field(default_factory=dict)
    upper_topic: str | None = None
    limit: float | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    max_wait_ms: float = DEFAULT_MAX_WAIT_MS
    runtime: str | None = None  # onnx | keras | pytorch | echo; None: ONNX when present
    intra_op_threads: int | None = None
    commit_interval_ms: float = 200
    metrics_interval_s: float = 5.0
    swap_poll_s: float = 1.0
    # models as data: the inference's model-updates topic (model_inference.updates); when set,
    # the model changes only by its descriptors (no polling of the source)
    updates_topic: str | None = None
    replica: str = ""
    create_topics: bool = True
    input_partitions: int = 4  # when the input topic must be created
    session_timeout_ms: int = 6000
    exit_when_idle_s: float | None = None  # bench/tests: stop after this long without input
    metrics_file: str | None = None
    ready_file: str | None = None  # written with the assignment whenever it changes
    gate_file: str | None = None  # bench: stay paused until this file exists
    consumer_overrides: dict = field(default_factory=dict)
    producer_overrides: dict = field(default_factory=dict)
    delivery: str = AT_LEAST_ONCE  # or exactly_once (transactions)
    transactional_id: str | None = None  # exactly_once; default "<group>.<replica>"
    transaction_timeout_ms: int = 10000  # the coordinator aborts a dead replica's transaction
    cluster_timeout_s: float = 5.0  # unreachable this long: reported (inference degraded)
    # runtime "external": the model server (url, protocol, model_name, timeout_ms, retries,
    # concurrency...), see model_inference/runtimes/external.py
    external: dict = field(default_factory=dict)
    # shadow / canary (standalone): {"mode": "shadow"|"canary", "share", "shadow_topic",
    # "artifact_dir"}; in backend mode the inference's "candidate" is followed instead
    candidate: dict = field(default_factory=dict)
    # edge / fog / cloud on different clusters: where the input is read, where the outputs (and
    # dead letters, shadow outputs) are written, and where the upper topic is; None: the
    # platform's cluster (bootstrap_servers). Security settings are the platform's for all.
    input_bootstrap_servers: str | None = None
    output_bootstrap_servers: str | None = None
    upper_bootstrap_servers: str | None = None

    def __post_init__(self) -> None:
        if self.delivery not in DELIVERY_MODES:
            raise ValueError(f"delivery must be one of {', '.join(DELIVERY_MODES)}")
        if self.exactly_once and len({self.input_servers, self.output_servers}) > 1:
            raise ValueError(
                "exactly_once needs the input and output on one Kafka cluster (a transaction "
                "cannot span clusters)"
            )
        if self.exactly_once and self.upper_topic and self.upper_servers != self.output_servers:
            raise ValueError(
                "exactly_once needs the upper topic on the output's Kafka cluster (a "
                "transaction cannot span clusters)"
            )
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")
        if self.max_wait_ms < 0:
            raise ValueError("max wait must not be negative")
        if not self.replica:
            self.replica = (
                os.environ.get("KAFKAML_REPLICA") or f"{socket.gethostname()}-{os.getpid()}"
            )
        if self.delivery == EXACTLY_ONCE and not self.transactional_id:
            self.transactional_id = f"{self.group_id}.{self.replica}"

    @property
    def exactly_once(self) -> bool:
        return self.delivery == EXACTLY_ONCE

    @property
    def input_servers(self) -> str:
        return self.input_bootstrap_servers or self.bootstrap_servers

    @property
    def output_servers(self) -> str:
        return self.output_bootstrap_servers or self.bootstrap_servers

    @property
    def upper_servers(self) -> str:
        return self.upper_bootstrap_servers or self.output_servers

    @property
    def separate_upper(self) -> bool:
        """The upper topic is on another cluster than the outputs: a producer of its own."""
        return bool(self.upper_topic) and self.upper_servers != self.output_servers


def _candidate_stats() -> dict:
    return {
        "records": 0,  # shadow: records both models answered
        "equal": 0,  # ... of which the same class
        "abs_diff_sum": 0.0,
        "errors": 0,  # shadow predictions that failed (never dead-lettered)
        "answered": 0,  # canary: records the candidate answered
        "primary_answered": 0,
    }


class WorkerError(RuntimeError):
    """The replica cannot go on (its uncommitted records will be read again)."""


class _Batch:
    """One consumed micro-batch waiting for its produced records to be acknowledged."""

    __slots__ = ("offsets", "remaining", "timestamps", "done_at", "outputs", "upper", "errors")

    def __init__(self, offsets, remaining, timestamps, outputs, upper, errors):
        self.offsets = offsets  # partition -> next offset to consume
        self.remaining = remaining
        self.timestamps = timestamps
        self.done_at = time.time() if remaining == 0 else None
        self.outputs = outputs
        self.upper = upper
        self.errors = errors


class InferenceWorker:
    def __init__(self, config: WorkerConfig, source=None, reporter=None, updates=None) -> None:
        """``source``: a :mod:`model_inference.sources` object (None only for the echo runtime).
        ``reporter``: callable(payload dict) for live metrics (None: log them).
        ``updates``: a :class:`model_inference.updates.ModelUpdates` (models as data)."""
        self.config = config
        self.source = source
        self.reporter = reporter
        self.metrics = Metrics(config.replica)
        self.echo = (config.runtime or "").lower() == "echo"
        self.codec = None if self.echo else _get_codec(config.input_format, config.input_config)
        self.model: ModelSpec | None = None
        self._target: Any = None
        self._pending_model: tuple | None = None  # (target, spec[, descriptor])
        self.updates = updates
        self.model_update: dict | None = None  # the last descriptor applied or refused
        self.model_updates: list[dict] = []  # every one, in order (metrics file)
        self._report_now = False
        self._fatal: str | None = None  # a delivery that failed for good
        self._batches: deque[_Batch] = deque()
        self._inflight = None  # (messages, offsets, timestamps, future) being predicted
        self._pipeline = ThreadPoolExecutor(1, thread_name_prefix="predict")
        self._committable: dict[int, int] = {}
        self._assignment: list = []
        self._paused = False
        self._stop = threading.Event()
        self._stop_at: float | None = None  # monotonic time of the stop request
        self._threads_stop = threading.Event()
        self._last_commit = 0.0
        self._last_report = time.monotonic()
        self._last_input = time.monotonic()
        self.consumer = None
        self.producer = None
        self.upper_producer = None  # only when the upper topic is on another cluster
        # exactly-once: the open transaction and the input positions its outputs answer
        self._txn_open = False
        self._txn_offsets: dict[int, int] = {}
        self._txn_error: str | None = None  # a delivery in the open transaction failed
        self.transactions = 0  # committed
        self.aborts = 0
        self.rewinds = 0
        self._consumed_next = None  # the batch consumed while the one before is produced
        self.unavailable_batches = 0  # batches read again: their model could not be reached
        self._unavailable_streak = 0
        # shadow / canary: the second model version and how it compares (since it was set)
        self.candidate: Candidate | None = None
        self.candidate_info: dict = {}
        self._candidate_key: Any = None
        self.candidate_stats = _candidate_stats()
        self._txn_seconds = 0.0  # spent committing (send offsets + commit), main loop blocked
        self._backlog = False  # the last consume returned a full batch
        self._producer_fatal: str | None = None
        self._producer_resets: deque[float] = deque()
        # cluster reachability (wall-clock time it became unreachable, None while reachable)
        self._down_since: float | None = None
        self._reported_down: float | None = None

    # ------------------------------------------------------------------ model
    def load_initial_model(self) -> None:
        if self.echo:
            self.model = ModelSpec(runtime=None)
            return
        if self.updates is not None:
            # the last descriptor that loads is the version to serve (a restarted replica
            # resumes with it); none yet: the source's model
            try:
                published = self.updates.read_all()
            except Exception as exc:  # noqa: BLE001 - e.g. Kafka not up yet: the watcher retries
                log.warning("could not read the model updates topic: %s", exc)
                published = []
            for desc in reversed(published):
                try:
                    self.model = self._load_descriptor(desc)
                except Exception as exc:  # noqa: BLE001
                    self._update_failed(desc, exc)
                    continue
                self._target = ("update", *desc.ident)
                self._update_applied(desc)
                log.info("serving model version %s (%s)", self.model.version, desc.label())
                return
        self._target = self.source.target()
        self.model = self._load(self._target)
        log.info("serving model version %s", self.model.version)

    # ------------------------------------------------------------------ shadow / canary
    def _candidate_target(self):
        """(mode, share, shadow topic, model target) wanted now, or None."""
        if hasattr(self.source, "fetch_config"):  # backend mode: the inference's candidate
            cand = (self.source.config or {}).get("candidate")
            if not cand:
                return None
            model = (int(cand["result_id"]), cand.get("version"))
        else:
            cand = self.config.candidate
            if not cand:
                return None
            model = str(cand["artifact_dir"])
        topic = cand.get("shadow_topic") or f"{self.config.output_topic}.shadow"
        return (cand.get("mode") or "shadow", float(cand.get("share") or 0.0), topic, model)

    def _check_candidate(self) -> None:
        """Load, replace or drop the candidate when what is wanted changed (a candidate that
        fails to load is reported; the primary serves alone)."""
        try:
            want = self._candidate_target()
        except Exception as exc:  # noqa: BLE001
            log.warning("could not read the candidate: %s", exc)
            return
        if want == self._candidate_key:
            return
        self._candidate_key = want
        if want is None:
            self.candidate, self.candidate_info = None, {}
            log.info("candidate removed")
            return
        mode, share, topic, target = want
        try:
            if isinstance(target, str):
                spec = self._load_dir(target, None, {})
            else:
                spec = self._load(target)
            spec.extra = {**spec.extra, "candidate": mode}
            candidate = Candidate(spec, mode=mode, share=share)
        except Exception as exc:  # noqa: BLE001
            log.error("could not load the candidate %s: %s", target, exc)
            self.candidate, self.candidate_info = None, {"error": str(exc)[:2000]}
            return
        if mode != CANARY:
            self._ensure_topic(topic)
        self.candidate_stats = _candidate_stats()
        self.candidate_info = {
            "mode": mode,
            "share": share,
            "version": spec.version,
            "shadow_topic": topic if mode != CANARY else None,
        }
        self.candidate = candidate  # the next batch uses it
        log.info("candidate %s version %s (share %s)", mode, spec.version, share)

    def _candidate_watcher(self) -> None:
        """Background thread (backend mode): follow the inference's candidate."""
        while not self._threads_stop.wait(self.config.swap_poll_s):
            try:
                self.source.fetch_config()
            except Exception as exc:  # noqa: BLE001
                log.warning("could not read the inference: %s", exc)
                continue
            self._check_candidate()

    def _ensure_topic(self, topic: str) -> None:
        if not self.config.create_topics:
            return
        try:
            ensure_topics({topic: 1}, bootstrap=self.config.output_servers, timeout=15)
        except Exception as exc:  # noqa: BLE001 - rely on auto-creation
            log.warning("could not check/create topic %s: %s", topic, exc)

    def candidate_report(self) -> dict | None:
        """The candidate and its live comparison with the primary (metrics report)."""
        if not self.candidate_info:
            return None
        st = self.candidate_stats
        out = {**self.candidate_info, **st}
        if self.candidate_info.get("mode") == CANARY:
            seen = st["answered"] + st["primary_answered"]
            out["answered_share"] = round(st["answered"] / seen, 4) if seen else None
        else:
            n = st["records"]
            out["agreement"] = round(st["equal"] / n, 6) if n else None
            out["mean_abs_diff"] = round(st["abs_diff_sum"] / n, 8) if n else None
        out.pop("abs_diff_sum", None)
        return out

    def _load(self, target) -> ModelSpec:
        artifact_dir, version, source_extra = self.source.materialize(target)
        return self._load_dir(artifact_dir, version, source_extra)

    def _load_descriptor(self, desc) -> ModelSpec:
        """Download, verify, unpack, load and warm up: a model ready to switch to."""
        artifact_dir = self.updates.materialize(desc)
        extra = {"result_id": desc.result_id} if desc.result_id is not None else {}
        return self._load_dir(artifact_dir, desc.version, extra)

    def _load_dir(self, artifact_dir, version, source_extra) -> ModelSpec:
        options = {}
        if self.config.intra_op_threads:
            options["intra_op_threads"] = self.config.intra_op_threads
        if (self.config.runtime or "").lower() == "external":
            from .runtimes.external import external_options

            options.update(external_options(self.config.external))
        runtime = load_runtime(artifact_dir, self.config.runtime, **options)
        if version is None:
            version = runtime.version
        self._check_input(runtime, artifact_dir)
        # warm up once so the first served batch is not slow
        try:
            shape = [d if d is not None else 1 for d in self.codec.sample_shape]
            runtime.predict(np.zeros((1, *shape), dtype=self.codec.dtype))
        except Exception as exc:  # noqa: BLE001
            log.warning("warm-up prediction failed (%s); serving anyway", exc)
        extra = {"model_version": version} if version is not None else {}
        extra.update(source_extra)
        return ModelSpec(
            runtime=runtime,
            version=version,
            distributed=runtime.distributed,
            limit=self.config.limit,
            extra=extra,
            output_kind=runtime.output_kind,
        )

    def _check_input(self, runtime, artifact_dir) -> None:
        shape = self.codec.sample_shape
        if runtime.input_shape is None or any(d is None for d in shape):
            return
        if int(np.prod(shape)) != int(np.prod(runtime.input_shape)):
            raise ValueError(
                f"model in {artifact_dir} expects records of shape {runtime.input_shape}, "
                f"the input topic carries {tuple(shape)}"
            )

    def _swap_watcher(self) -> None:
        """Background thread: notice a new target, load it, hand it to the main loop."""
        while not self._threads_stop.wait(self.config.swap_poll_s):
            try:
                target = self.source.target()
            except Exception as exc:  # noqa: BLE001 - keep serving the current model
                log.warning("could not check for a new model: %s", exc)
                continue
            pending = self._pending_model
            if target == self._target or (pending is not None and pending[0] == target):
                continue
            log.info("new model target %s: loading while serving", target)
            try:
                spec = self._load(target)
            except Exception as exc:  # noqa: BLE001
                log.error(
                    "could not load the new model %s: %s; keeping the current one", target, exc
                )
                time.sleep(self.config.swap_poll_s * 4)
                continue
            self._pending_model = (target, spec)

    def _updates_watcher(self) -> None:
        """Background thread (models as data): read descriptors from the updates topic, load
        each fully while the old model serves, hand it to the main loop; a descriptor that
        fails is reported and the old version keeps serving."""
        while not self._threads_stop.is_set():
            try:
                desc = self.updates.poll(0.5)
            except Exception as exc:  # noqa: BLE001 - keep serving the current model
                log.warning("could not read the model updates: %s", exc)
                self._threads_stop.wait(1.0)
                continue
            if desc is None:
                continue
            target = ("update", *desc.ident)
            pending = self._pending_model
            if target == self._target or (pending is not None and pending[0] == target):
                continue
            log.info("model update %s: loading while serving", desc.label())
            try:
                spec = self._load_descriptor(desc)
            except Exception as exc:  # noqa: BLE001
                self._update_failed(desc, exc)
                continue
            # a newer descriptor replaces one not yet switched to (the main loop may be taking
            # that one right now: it is left to the garbage collector, not closed here)
            self._pending_model = (target, spec, desc)

    def _update_record(self, desc, status: str, error: str = "") -> dict:
        now = time.time()
        entry = {
            "result_id": desc.result_id,
            "version": desc.version,
            "sha256": desc.sha256,
            "status": status,
            "error": error[:2000],
            "at": datetime.fromtimestamp(now, UTC).isoformat(),
            "at_ms": round(now * 1000, 3),
        }
        self.model_update = entry
        self.model_updates.append(entry)
        self._report_now = True
        return entry

    def _update_applied(self, desc) -> None:
        self._update_record(desc, "applied")

    def _update_failed(self, desc, exc) -> None:
        log.error(
            "model update %s refused: %s; keeping version %s",
            desc.label(),
            exc,
            self.model.version if self.model else None,
        )
        self._update_record(desc, "failed", f"{type(exc).__name__}: {exc}")

    def _maybe_swap(self) -> None:
        pending = self._pending_model
        if pending is None:
            return
        self._pending_model = None
        if self._inflight is not None:  # the old model finishes its batch first
            self._produce_batch(self._inflight)
        target, spec = pending[:2]
        old = self.model
        self.model, self._target = spec, target
        self.metrics.swaps += 1
        log.info(
            "switched to model version %s (was %s)", spec.version, old.version if old else None
        )
        if old is not None and old.runtime is not None:
            old.runtime.close()
        if len(pending) > 2:  # acknowledge: from here on every output is the new version's
            self._update_applied(pending[2])

    # ------------------------------------------------------------------ kafka setup
    def _consumer_config(self) -> dict:
        c = self.config
        conf = {
            **client_config(c.input_servers),  # + KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*...
            "group.id": c.group_id,
            "client.id": f"kafkaml-inference-{c.replica}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": c.session_timeout_ms,
            "heartbeat.interval.ms": max(100, min(1000, c.session_timeout_ms // 3)),
            "reconnect.backoff.max.ms": 5000,
            # Tansu answers a fetch only after fetch.wait.max.ms when it had no data at the
            # request (p50 ~45 ms at 100, ~10 ms at 5); Kafka returns as soon as data arrives either way.
            "fetch.wait.max.ms": 5,
            "queued.max.messages.kbytes": 65536,
            # skip aborted transactions' records (an exactly-once upstream, e.g. a sub-model)
            "isolation.level": "read_committed",
            "error_cb": self._on_client_error,
        }
        conf.update(c.consumer_overrides)
        return conf

    def _producer_config(self, servers: str | None = None) -> dict:
        c = self.config
        conf = {
            # acks=all + idempotence, + KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*...
            **producer_config(servers or c.output_servers),
            "client.id": f"kafkaml-inference-{c.replica}",
            "linger.ms": 1,
            "batch.num.messages": 10000,
            "queue.buffering.max.messages": 200000,
            "reconnect.backoff.max.ms": 5000,
            "error_cb": self._on_client_error,
        }
        if c.exactly_once:
            conf.update(
                {
                    "transactional.id": c.transactional_id,
                    "enable.idempotence": True,
                    "acks": "all",
                    "transaction.timeout.ms": c.transaction_timeout_ms,
                    "linger.ms": 5,
                }
            )
        conf.update(c.producer_overrides)
        return conf

    def _on_client_error(self, err) -> None:
        from confluent_kafka import KafkaError

        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            if self._down_since is None:
                self._down_since = time.time()
                log.warning("kafka cluster unreachable: %s", err)
            return
        if err.fatal():
            self._on_producer_fatal(err)
        log.warning("kafka client: %s", err)

    def _on_producer_fatal(self, err) -> None:
        """Only the producer has fatal errors. At-least-once: stop (uncommitted inputs are read
        again). Exactly-once (e.g. the coordinator aborted a transaction that outlived
        transaction.timeout.ms during a failover, which fences the producer's epoch): the main
        loop replaces the producer and reads again from the committed offsets."""
        if self.config.exactly_once:
            if self._producer_fatal is None:
                self._producer_fatal = str(err)
        else:
            self._fail(f"fatal Kafka error: {err}")

    def _fail(self, reason: str) -> None:
        if self._fatal is None:
            self._fatal = reason
        self._stop.set()

    @property
    def cluster_unreachable_since(self) -> float | None:
        """Since when the cluster has been unreachable, once that lasted ``cluster_timeout_s``."""
        since = self._down_since
        if since is None or time.time() - since < self.config.cluster_timeout_s:
            return None
        return since

    def _probe_cluster(self) -> None:
        """Background thread: while the cluster is marked unreachable, ask for metadata; an
        answer means it is back (librdkafka says when it goes, not when it returns)."""
        while not self._threads_stop.wait(1.0):
            if self._down_since is None or self.consumer is None:
                continue
            try:
                self.consumer.list_topics(self.config.input_topic, timeout=2.0)
            except Exception:  # noqa: BLE001 - still unreachable
                continue
            log.info("kafka cluster reachable again (after %.1fs)", time.time() - self._down_since)
            self._down_since = None

    def _ensure_topics(self) -> None:
        c = self.config
        per_cluster: dict[str, dict[str, int]] = {}
        per_cluster.setdefault(c.input_servers, {})[c.input_topic] = c.input_partitions
        outputs = per_cluster.setdefault(c.output_servers, {})
        outputs[c.output_topic] = 1
        outputs[dlq_topic(c.input_topic)] = 1
        if c.upper_topic:
            per_cluster.setdefault(c.upper_servers, {})[c.upper_topic] = c.input_partitions
        for servers, wanted in per_cluster.items():
            try:
                for topic in ensure_topics(wanted, bootstrap=servers, timeout=15):
                    log.info("created topic %s on %s", topic, servers)
            except Exception as exc:  # noqa: BLE001 - no admin rights: rely on auto-creation
                log.warning("could not check/create topics on %s: %s", servers, exc)

    def _on_assign(self, consumer, partitions) -> None:
        self._assignment = list(partitions)
        log.info("assigned %s", [p.partition for p in partitions])
        if self.config.gate_file and not Path(self.config.gate_file).exists() and partitions:
            consumer.assign(partitions)  # assign first: a pause before it would be reset
            consumer.pause(partitions)
            self._paused = True
        self._write_ready()

    def _on_revoke(self, consumer, partitions) -> None:
        log.info("revoked %s: flushing and committing", [p.partition for p in partitions])
        if self._inflight is not None:
            self._produce_batch(self._inflight)
        if self.config.exactly_once:
            # commit what was produced while the partitions are still ours; if that fails the
            # transaction is aborted and the next owner reads those records again
            self._commit_transaction(force=True, rewind=False)
        else:
            self._drain(timeout=30)
            self._commit(force=True, sync=True)
        self._assignment = []
        self._committable.clear()
        self._write_ready()

    def _on_lost(self, consumer, partitions) -> None:
        log.warning("lost %s: their uncommitted records go to other replicas", partitions)
        if self.config.exactly_once:  # our offsets would be fenced anyway: abort now
            self._inflight = None
            self._abort_transaction(rewind=False, reason="partitions lost")
        self._assignment = []
        self._committable.clear()

    def _write_ready(self) -> None:
        if self.config.ready_file:
            tmp = f"{self.config.ready_file}.tmp"
            with open(tmp, "w") as f:
                json.dump(
                    {
                        "replica": self.config.replica,
                        "partitions": [p.partition for p in self._assignment],
                    },
                    f,
                )
            os.replace(tmp, self.config.ready_file)

    @property
    def assignment(self) -> list[int]:
        """Partitions of the input topic this replica owns now."""
        return [p.partition for p in self._assignment]

    # ------------------------------------------------------------------ main loop
    def stop(self, *_args) -> None:
        if self._stop_at is None:
            self._stop_at = time.monotonic()
        self._stop.set()

    def run(self) -> dict:
        from confluent_kafka import Consumer, Producer

        c = self.config
        if self.model is None:
            self.load_initial_model()
        if not self.echo:
            self._check_candidate()
        if c.create_topics:
            self._ensure_topics()
        self.producer = Producer(self._producer_config())
        if c.separate_upper:
            self.upper_producer = Producer(self._producer_config(c.upper_servers))
        if c.exactly_once:
            # registers the transactional.id with its coordinator and aborts what a previous
            # instance with the same id left open (fencing it)
            self._retry(lambda t: self.producer.init_transactions(t), "init transactions")
        self.consumer = Consumer(self._consumer_config())
        self.consumer.subscribe(
            [c.input_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        threads = [
            threading.Thread(target=self._poll_producer, name="delivery", daemon=True),
            threading.Thread(target=self._probe_cluster, name="probe", daemon=True),
        ]
        if self.updates is not None and not self.echo:
            threads.append(
                threading.Thread(target=self._updates_watcher, name="updates", daemon=True)
            )
        elif self.source is not None and not self.echo:
            threads.append(threading.Thread(target=self._swap_watcher, name="swap", daemon=True))
        if hasattr(self.source, "fetch_config") and not self.echo:
            threads.append(
                threading.Thread(target=self._candidate_watcher, name="candidate", daemon=True)
            )
        for t in threads:
            t.start()
        log.info(
            "replica %s: %s -> %s (group %s, batch %d, max wait %s ms, runtime %s, %s%s)",
            c.replica,
            c.input_topic,
            c.output_topic,
            c.group_id,
            c.batch_size,
            c.max_wait_ms,
            type(self.model.runtime).__name__ if self.model.runtime else "echo",
            c.delivery,
            f", transactional.id {c.transactional_id}" if c.exactly_once else "",
        )
        consume = self.consumer.consume
        try:
            while not self._stop.is_set():
                if self._producer_fatal:
                    self._reset_producer(self._producer_fatal)
                    continue
                self._maybe_swap()
                if self._paused and Path(c.gate_file).exists():
                    self.consumer.resume(self._assignment)
                    self._paused = False
                # While a batch is being predicted, only pick up what is already fetched, so
                # its outputs are produced without waiting for the next batch to fill.
                wait = 0 if self._inflight is not None else c.max_wait_ms / 1000.0
                messages = consume(c.batch_size, wait)
                self._backlog = len(messages) >= c.batch_size >= BACKLOG_MIN_BATCH
                submitted = self._submit(messages) if messages else None
                rewinds = self.rewinds
                self._consumed_next = submitted
                if self._inflight is not None:
                    self._produce_batch(self._inflight)
                self._consumed_next = None
                # an aborted transaction rewound the consumer: what was just consumed comes again
                self._inflight = submitted if self.rewinds == rewinds else None
                if messages:
                    self._last_input = time.monotonic()
                elif (
                    c.exit_when_idle_s is not None
                    and self.metrics.records_in
                    and time.monotonic() - self._last_input > c.exit_when_idle_s
                    and not self._batches
                    and self._inflight is None
                ):
                    log.info("idle for %.1fs: stopping", c.exit_when_idle_s)
                    break
                if c.exactly_once:
                    self._commit_transaction(idle=not messages)
                else:
                    self._complete()
                    self._commit()
                self._maybe_report(
                    force=self._report_now or self._reported_down != self.cluster_unreachable_since
                )
        finally:
            self._shutdown(threads)
        if self._fatal:
            raise WorkerError(self._fatal)
        return self.metrics.totals()

    def _poll_producer(self) -> None:
        from confluent_kafka import KafkaException

        while not self._threads_stop.is_set():
            producer = self.producer  # exactly-once may replace it after a fatal error
            if producer is None:
                return
            try:
                if self.upper_producer is not None:
                    self.upper_producer.poll(0)
                producer.poll(0.05)
            except KafkaException as exc:  # a fatal producer error, also given to error_cb
                self._on_producer_fatal(exc.args[0])
                time.sleep(0.05)

    def _submit(self, messages: list):
        """Read what the batch needs from the messages (here, holding the GIL) and hand the
        decode -> predict -> encode to the pipeline thread, which runs it while this thread
        produces the previous batch and consumes the next (ONNX Runtime and the NumPy
        encoder release the GIL)."""
        good = [m for m in messages if m.error() is None]
        if len(good) != len(messages):
            for m in messages:
                if m.error() is not None:
                    log.warning("consumer: %s", m.error())
            if not good:
                return None
        values = [m.value() for m in good]
        last = {m.partition(): m for m in good}  # consume() keeps partition order
        offsets = {p: m.offset() + 1 for p, m in last.items()}
        timestamps = np.array([m.timestamp()[1] for m in good], dtype=np.float64)
        if timestamps.min() <= 0:  # no timestamp on the record: count from now
            timestamps[timestamps <= 0] = time.time() * 1000.0
        self.metrics.consumed(len(good))
        c = self.config
        route_upper = bool(c.upper_topic and c.limit is not None)
        kw: dict = {"route_upper": route_upper}
        candidate = self.candidate
        if candidate is not None:
            kw["candidate"] = candidate
            if candidate.mode == CANARY:
                kw["keys"] = [m.key() for m in good]
        if len(good) < PIPELINE_MIN_BATCH:  # a thread hand-off costs more than it saves
            future = Future()
            future.set_result(process_batch(values, self.codec, self.model, **kw))
        else:
            future = self._pipeline.submit(process_batch, values, self.codec, self.model, **kw)
        return good, offsets, timestamps, future

    def _produce_batch(self, inflight) -> None:
        c = self.config
        if not c.exactly_once:
            self._produce_records(inflight)
            return
        from confluent_kafka import KafkaException

        try:
            if not self._txn_open:
                self.producer.begin_transaction()
                self._txn_open = True
            if not self._produce_records(inflight):
                return  # the model server is away: read again later, not in this transaction
        except KafkaException as exc:  # the transaction is unusable: start again from commits
            self._inflight = None
            self._abort_transaction(rewind=True, reason=str(exc.args[0]))
            return
        # this transaction answers the inputs up to these positions
        self._txn_offsets.update(inflight[1])

    def _produce_records(self, inflight) -> bool:
        """Produce a predicted batch's records; False when its model could not be reached
        (an external model server that is down): nothing produced, read again later."""
        good, offsets, timestamps, future = inflight
        self._inflight = None
        try:
            result = future.result()
        except RuntimeUnavailable as exc:
            self._read_again_later(good, str(exc))
            return False
        self._unavailable_streak = 0
        c = self.config
        batch = _Batch(
            offsets,
            result.count,
            timestamps,
            len(result.out_index),
            len(result.upper_index),
            len(result.errors),
        )
        self._batches.append(batch)
        cb = self._delivery_callback(batch)
        # positional arguments: librdkafka's keyword parsing costs ~0.8 us a record
        # produce(topic, value, key, partition (-1: the partitioner), on_delivery)
        produce = self.producer.produce
        topic = c.output_topic
        for i, value in zip(result.out_index, result.out_values, strict=True):
            m = good[i]
            headers = m.headers()
            try:
                if headers is None:
                    produce(topic, value, m.key(), -1, cb)
                else:
                    produce(topic, value, m.key(), -1, cb, headers=headers)
            except BufferError:
                self._produce_blocking(topic, value, m.key(), headers, cb)
        if result.upper_index:
            for i, value in zip(result.upper_index, result.upper_values, strict=True):
                m = good[i]
                self._produce_blocking(
                    c.upper_topic, value, m.key(), m.headers(), cb, self.upper_producer
                )
        if result.errors:
            dlq = dlq_topic(c.input_topic)
            for i, reason in result.errors.items():
                m = good[i]
                headers = dlq_headers(m.headers(), reason, m.topic(), m.partition(), m.offset())
                self._produce_blocking(dlq, m.value(), m.key(), headers, cb)
                log.debug(
                    "record %s:%s:%s -> %s: %s", m.topic(), m.partition(), m.offset(), dlq, reason
                )
        if result.shadow_index or result.agreement or result.candidate_answered:
            self._produce_shadow(result, good, cb)
        return True

    def _produce_shadow(self, result, good: list, cb) -> None:
        """Shadow: the candidate's outputs to the shadow topic; both modes: the comparison."""
        st = self.candidate_stats
        info = self.candidate_info
        if result.shadow_index and info.get("shadow_topic"):
            topic = info["shadow_topic"]
            for i, value in zip(result.shadow_index, result.shadow_values, strict=True):
                m = good[i]
                self._produce_blocking(topic, value, m.key(), m.headers(), cb)
        if result.agreement:
            for k in ("records", "equal", "abs_diff_sum", "errors"):
                st[k] += result.agreement[k]
        st["answered"] += result.candidate_answered
        if info.get("mode") == CANARY:
            st["primary_answered"] += len(result.out_index) - result.candidate_answered

    def _read_again_later(self, good: list, reason: str) -> None:
        """The batch's model is unavailable: seek its partitions back to its first records
        (what was consumed after it is dropped too, see ``rewinds`` in the loop), wait a
        growing backoff, and go on. Nothing of it is produced nor committed: no loss."""
        from confluent_kafka import KafkaException, TopicPartition

        # The batch consumed after it is dropped with it: its partitions go back too, even
        # those the unavailable batch had no record of (else their records were skipped).
        after = self._consumed_next[0] if self._consumed_next is not None else []
        first: dict[int, int] = {}
        for m in [*good, *after]:  # per partition, the unavailable batch's records come first
            first.setdefault(m.partition(), m.offset())
        self.rewinds += 1
        self.unavailable_batches += 1
        self._unavailable_streak += 1
        delay = min(0.2 * 2 ** (self._unavailable_streak - 1), 5.0)
        log.warning("model unavailable (%s): batch read again in %.1fs", reason, delay)
        owned = {p.partition for p in self._assignment}
        for partition, offset in first.items():
            if partition not in owned:  # revoked meanwhile: its next owner reads it
                continue
            try:
                self.consumer.seek(TopicPartition(self.config.input_topic, partition, offset))
            except KafkaException as exc:
                self._fail(f"could not seek back to an unanswered batch: {exc.args[0]}")
                return
        self._stop.wait(delay)

    def _produce_blocking(self, topic, value, key, headers, cb, producer=None) -> None:
        producer = producer or self.producer
        while True:
            try:
                if headers is None:
                    producer.produce(topic, value, key, -1, cb)
                else:
                    producer.produce(topic, value, key, -1, cb, headers=headers)
                return
            except BufferError:  # local queue full: wait for deliveries
                producer.poll(0.01)

    def _delivery_callback(self, batch: _Batch):
        exactly_once = self.config.exactly_once

        def on_delivery(err, msg):
            if err is not None:
                if exactly_once:  # the transaction will be aborted and its inputs read again
                    self._txn_error = f"delivery to {msg.topic()} failed: {err}"
                    return
                # librdkafka already retried for message.timeout.ms: give up on this replica.
                # The batch is never committed, so the group reads its records again.
                self._fail(f"delivery to {msg.topic()} failed: {err}")
                return
            if batch.remaining == 1:
                batch.done_at = time.time()
            batch.remaining -= 1

        return on_delivery

    def _complete(self) -> None:
        batches = self._batches
        while batches and batches[0].remaining == 0:
            b = batches.popleft()
            self._committable.update(b.offsets)
            self.metrics.completed(b.outputs, b.upper, b.errors, b.done_at, b.timestamps)

    def _commit(self, force: bool = False, sync: bool = False) -> None:
        if not self._committable:
            return
        now = time.monotonic()
        if not force and (now - self._last_commit) * 1000 < self.config.commit_interval_ms:
            return
        from confluent_kafka import KafkaException, TopicPartition

        owned = {p.partition for p in self._assignment}
        offsets = [
            TopicPartition(self.config.input_topic, p, o)
            for p, o in self._committable.items()
            if p in owned
        ]
        self._committable.clear()
        self._last_commit = now
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=not sync)
        except KafkaException as exc:  # e.g. rebalance in progress: the next owner re-reads
            log.warning("commit failed: %s", exc)

    # ------------------------------------------------------------------ exactly-once
    def _retry(self, call, what: str, timeout: float = 10.0, deadline_s: float = 60.0) -> None:
        """``call(timeout)`` again while librdkafka says the error is retriable (after a stop
        request, only until ``STOP_GRACE_S`` from it)."""
        from confluent_kafka import KafkaException

        deadline = time.monotonic() + deadline_s
        while True:
            wait = timeout
            if self._stop_at is not None:
                deadline = min(deadline, self._stop_at + STOP_GRACE_S)
                wait = max(1.0, min(timeout, deadline - time.monotonic()))
            try:
                call(wait)
                return
            except KafkaException as exc:
                err = exc.args[0]
                if not err.retriable() or time.monotonic() > deadline or self._fatal:
                    raise
                log.info("%s: %s; retrying", what, err)
                # e.g. the cluster is away: keep telling the backend
                self._maybe_report(force=self._reported_down != self.cluster_unreachable_since)

    def _commit_transaction(
        self, force: bool = False, rewind: bool = True, idle: bool = False
    ) -> None:
        """Every ``commit_interval_ms`` (4 of them through a backlog, 20 ms once the input is
        idle): put the consumed positions into the transaction and commit it (outputs visible
        to read_committed readers, inputs committed, atomically).
        On failure abort it and, with ``rewind``, read its inputs again."""
        if not self._txn_open:
            return
        now = time.monotonic()
        interval = self.config.commit_interval_ms
        if idle and self._inflight is None:
            interval = min(interval, IDLE_TRANSACTION_MS)
        elif self._backlog:
            interval *= BACKLOG_TRANSACTION_INTERVALS
        if not force and (now - self._last_commit) * 1000 < interval:
            return
        from confluent_kafka import KafkaException, TopicPartition

        self._last_commit = now
        if self._txn_error:
            self._abort_transaction(rewind=rewind, reason=self._txn_error)
            return
        offsets = [
            TopicPartition(self.config.input_topic, p, o) for p, o in self._txn_offsets.items()
        ]
        started = time.monotonic()
        try:
            if offsets:
                metadata = self.consumer.consumer_group_metadata()
                self._retry(
                    lambda t: self.producer.send_offsets_to_transaction(offsets, metadata, t),
                    "send offsets",
                )
            self._retry(lambda t: self.producer.commit_transaction(t), "commit transaction")
        except KafkaException as exc:
            err = exc.args[0]
            if err.fatal():
                self._reset_producer(str(err), rewind=rewind)
                return
            self._abort_transaction(rewind=rewind, reason=str(err))
            return
        if self._txn_error:  # cannot happen after a successful commit; be safe
            log.warning("delivery error after commit: %s", self._txn_error)
        done = time.time()
        self._txn_seconds += time.monotonic() - started
        self._txn_open = False
        self._txn_offsets.clear()
        self.transactions += 1
        while self._batches:
            b = self._batches.popleft()
            self.metrics.completed(b.outputs, b.upper, b.errors, done, b.timestamps)

    def _abort_transaction(self, rewind: bool, reason: str) -> None:
        """Abort the open transaction (its records are never visible to read_committed
        readers) and, with ``rewind``, seek the consumer back to the committed offsets."""
        from confluent_kafka import KafkaException

        log.warning("aborting the transaction: %s", reason)
        self._batches.clear()
        self._txn_offsets.clear()
        self._txn_error = None
        if self._txn_open:
            self._txn_open = False
            try:
                self._retry(lambda t: self.producer.abort_transaction(t), "abort transaction")
            except KafkaException as exc:
                err = exc.args[0]
                if not err.fatal():
                    self._fail(f"could not abort the transaction: {err}")
                    return
                # the producer is unusable (fenced): nothing of its transaction is committed
                self._reset_producer(str(err), rewind=rewind)
                return
        self.aborts += 1
        if rewind:
            self._inflight = None  # consumed but not produced: read again too
            self._rewind()

    def _reset_producer(self, reason: str, rewind: bool = True) -> None:
        """Replace a producer that hit a fatal error by a new one with the same
        transactional.id (``init_transactions`` aborts whatever the old one left open), and read
        the uncommitted inputs again. More than 5 resets a minute: stop the replica."""
        from confluent_kafka import KafkaException, Producer

        now = time.monotonic()
        self._producer_resets.append(now)
        while self._producer_resets and now - self._producer_resets[0] > 60:
            self._producer_resets.popleft()
        if len(self._producer_resets) > 5:
            self._fail(f"producer failed {len(self._producer_resets)} times in a minute: {reason}")
            return
        log.warning("producer unusable (%s): a new one, reading again from the commits", reason)
        self._producer_fatal = None
        self._batches.clear()
        self._txn_offsets.clear()
        self._txn_open = False
        self._txn_error = None
        self._inflight = None
        old, self.producer = self.producer, Producer(self._producer_config())
        try:
            old.purge(in_queue=True, in_flight=True, blocking=False)
        except Exception:  # noqa: BLE001 - it is being dropped anyway
            pass
        try:
            self._retry(lambda t: self.producer.init_transactions(t), "init transactions")
        except KafkaException as exc:
            self._fail(f"could not start a new transactional producer: {exc.args[0]}")
            return
        self.aborts += 1
        if rewind:
            self._rewind()

    def _rewind(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

        if not self._assignment:
            return
        self.rewinds += 1
        try:
            committed = self.consumer.committed(self._assignment, timeout=30)
            for tp in committed:
                offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
                self.consumer.seek(TopicPartition(tp.topic, tp.partition, offset))
        except KafkaException as exc:
            # cannot rewind in place: stop (uncommitted inputs are read again by the group)
            self._fail(f"could not rewind to the committed offsets: {exc.args[0]}")

    def _drain(self, timeout: float) -> None:
        """Wait until every produced record is acknowledged (or one failed for good)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._fatal is None:
            if self.upper_producer is not None:
                self.upper_producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
            self.producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
            self._complete()
            if not self._batches:
                return
        log.warning("%d batches unacknowledged: left uncommitted", len(self._batches))

    def _lag(self) -> int | None:
        if not self._assignment:
            return 0
        try:
            lag = 0
            for tp in self.consumer.position(self._assignment):
                _low, high = self.consumer.get_watermark_offsets(tp, cached=True)
                if high is None or high < 0:
                    continue
                pos = tp.offset if tp.offset >= 0 else high
                lag += max(0, high - pos)
            return lag
        except Exception:  # noqa: BLE001
            return None

    def _maybe_report(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_report < self.config.metrics_interval_s:
            return
        self._last_report = now
        self._report_now = False
        payload = self.metrics.report(self._lag(), self.model.version if self.model else None)
        if self.model_update is not None:
            payload["model_update"] = self.model_update  # the acknowledgement (or refusal)
        down = self.cluster_unreachable_since
        self._reported_down = down
        payload["cluster_unreachable_since"] = (
            None if down is None else datetime.fromtimestamp(down, UTC).isoformat()
        )
        if self.config.exactly_once:
            payload["transactions"] = self.transactions
            payload["aborted_transactions"] = self.aborts
        if self.unavailable_batches:
            payload["unavailable_batches"] = self.unavailable_batches
        candidate = self.candidate_report()
        if candidate is not None:
            payload["candidate"] = candidate
        if self.reporter is not None:
            self.reporter(payload)
        else:
            log.info("metrics %s", json.dumps(payload))
        if self.config.metrics_file:
            self._write_metrics_file()

    def _write_metrics_file(self) -> None:
        tmp = f"{self.config.metrics_file}.tmp"
        totals = self.metrics.totals()
        if self.updates is not None:
            totals["model_updates"] = self.model_updates
            totals["model_version"] = self.model.version if self.model else None
        if self.config.exactly_once:
            totals["transactions"] = self.transactions
            totals["aborted_transactions"] = self.aborts
            totals["commit_ms_avg"] = (
                round(self._txn_seconds * 1000 / self.transactions, 2)
                if self.transactions
                else None
            )
        totals["unavailable_batches"] = self.unavailable_batches
        totals["candidate"] = self.candidate_report()
        with open(tmp, "w") as f:
            json.dump(totals, f)
        os.replace(tmp, self.config.metrics_file)

    def _shutdown(self, threads) -> None:
        log.info("stopping: flushing outputs and committing")
        try:
            if self._inflight is not None and not self._fatal:
                self._produce_batch(self._inflight)
            if self.config.exactly_once:
                healthy = not self._fatal and not self._producer_fatal
                if self.producer is not None and self.consumer is not None and healthy:
                    self._commit_transaction(force=True, rewind=False)
            else:
                if self.producer is not None:
                    self._drain(timeout=30)
                if self.consumer is not None:
                    self._complete()
                    self._commit(force=True, sync=True)
        finally:
            self._threads_stop.set()
            self._pipeline.shutdown(wait=True)
            for t in threads:
                t.join(timeout=5)
            if self.consumer is not None:
                try:
                    self.consumer.close()
                except Exception as exc:  # noqa: BLE001
                    log.warning("consumer close: %s", exc)
            self._maybe_report(force=True)
            # drop the clients: a lingering producer keeps reconnecting to a stopped broker
            self.producer = self.consumer = self.upper_producer = None
            if self.model is not None and self.model.runtime is not None:
                self.model.runtime.close()
            if self.source is not None:
                self.source.close()
            if self.updates is not None:
                self.updates.close()


def _get_codec(input_format: str, input_config: dict):
    from datasources.codecs import get_codec

    return get_codec(input_format, input_config)


def install_signal_handlers(worker: InferenceWorker) -> None:
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
