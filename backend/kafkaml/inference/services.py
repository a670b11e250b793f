"""Inference deployments: start, scale, hot swap, stop, and live metrics."""

from __future__ import annotations

import logging
import math
import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kafkaml import realtime
from kafkaml.errors import ApplicationError, ConflictError
from kafkaml.topics.ownership import foreign_topics, require_owned_topics
from kafkaml.training.models import ResultStatus, TrainingResult
from kafkaml.workloads import services as workloads

from .history import inference_history_append
from .models import Delivery, Inference, InferenceStatus
from .selectors import inference_metrics_summary
from .updates import publish_model_update

log = logging.getLogger(__name__)
TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
ACTIVE = (InferenceStatus.CREATED, InferenceStatus.RUNNING)
TOPIC_FIELDS = ("input_topic", "output_topic", "upper_topic")
EMBEDDED_NO_EXACTLY_ONCE = (
    "Exactly-once delivery needs Kafka transactions, which the embedded broker cannot isolate "
    "(its read_committed readers see aborted records). Use at_least_once here, or run the "
    "platform on an Apache Kafka cluster (KAFKA_BOOTSTRAP_SERVERS)."
)


def _check_topic(field: str, topic: str) -> None:
    if not TOPIC_RE.match(topic):
        raise ApplicationError(
            f"{topic!r} is not a valid Kafka topic name.",
            errors={field: ["Use letters, digits, '.', '_' and '-' (at most 249)."]},
        )


def _topics(source) -> dict[str, str]:
    """The topics an inference reads and writes (``source``: an inference or its fields)."""
    get = source.get if isinstance(source, dict) else lambda name: getattr(source, name)
    return {name: get(name) or "" for name in TOPIC_FIELDS}


def _require_own_topics(inference: Inference) -> None:
    """An inference made before topics were owned may name another user's topics: it may not
    be scaled, swapped or relaunched (stopping and deleting it stay possible)."""
    require_owned_topics(inference.owner, _topics(inference))


def _latest_version(result: TrainingResult) -> int:
    """The newest trained version; a result is deployable once finished, or, for incremental
    training (which runs until stopped), as soon as it has published a version."""
    artifact = result.artifacts.order_by("-version").first()
    finished = result.status == ResultStatus.FINISHED
    if artifact is None or not (finished or result.deployment.incremental):
        raise ApplicationError(
            "Only a finished training result with a trained model can be deployed.",
            errors={"result": [f"The result is {result.status}."]},
        )
    return artifact.version


def _input_shape(result: TrainingResult, version: int):
    artifact = result.artifacts.filter(version=version).first()
    inputs = (artifact.metadata.get("inputs") if artifact else None) or [{}]
    return inputs[0].get("shape")


def _servers(value: str) -> frozenset[str]:
    """One cluster's identity: its set of bootstrap servers (blank: the platform's)."""
    text = value or settings.KAFKA_BOOTSTRAP_SERVERS or ""
    return frozenset(s.strip() for s in text.split(",") if s.strip())


CROSS_CLUSTER_EXACTLY_ONCE = (
    "Exactly-once delivery needs the input and the outputs (and the upper topic) on one Kafka "
    "cluster: a Kafka transaction cannot span clusters. Use at_least_once, or the same cluster."
)


def _check_clusters(fields: dict) -> None:
    """Edge/fog/cloud on different clusters: refuse what cannot work (400)."""
    if fields.get("upper_bootstrap_servers") and not fields.get("upper_topic"):
        raise ApplicationError(
            "An upper cluster needs an upper topic.",
            errors={"upper_bootstrap_servers": ["Only with an upper topic."]},
        )
    if fields.get("delivery") != Delivery.EXACTLY_ONCE:
        return
    output = fields.get("output_bootstrap_servers") or ""
    clusters = {_servers(fields.get("input_bootstrap_servers") or ""), _servers(output)}
    if fields.get("upper_topic"):
        clusters.add(_servers(fields.get("upper_bootstrap_servers") or output))
    if len(clusters) > 1:
        raise ApplicationError(
            CROSS_CLUSTER_EXACTLY_ONCE, errors={"delivery": [CROSS_CLUSTER_EXACTLY_ONCE]}
        )


def _check_gpus(owner, gpus: int, replicas: int, exclude: Inference | None = None) -> None:
    """GPUs per replica count against the user's cap with their training workloads'."""
    if not gpus:
        return
    from kafkaml.training.selectors import user_gpus_in_use

    workloads.gpu_quota_check(
        requested=gpus * replicas,
        in_use=user_gpus_in_use(owner=owner, exclude_inference=exclude),
    )


def _check_input_config(input_format: str, input_config, model_shape) -> None:
    """Refuse (400 on ``input_config``) a config that cannot decode into the model's input:
    the worker would exit on every start ("expects records of shape (64,), the input topic
    carries (7, 7)"). Undeclared shapes (read from the records) are left to the worker."""
    from datasources.codecs import get_codec

    try:
        codec = get_codec(input_format, input_config)
    except ValueError as exc:
        raise ApplicationError(
            f"The input config is not valid: {exc}", errors={"input_config": [str(exc)]}
        ) from exc
    sample = tuple(codec.sample_shape)
    dims = list(model_shape or [])[1:]  # without the batch axis
    if not sample or None in sample or not dims or any(not isinstance(d, int) for d in dims):
        return
    wanted, given = math.prod(dims), math.prod(sample)
    if wanted != given:
        shape = " ".join(str(d) for d in dims)
        message = (
            f"The model takes {wanted} values per record (shape {shape}); the input config "
            f"gives {given} (shape {' '.join(str(d) for d in sample)})."
        )
        raise ApplicationError(
            message,
            errors={"input_config": [f'{message} Use e.g. "data_reshape": "{shape}".']},
        )


@transaction.atomic
def inference_create(*, owner, result: TrainingResult, **fields) -> Inference:
    if result.owner_id != owner.pk:
        raise ApplicationError("Unknown result.", errors={"result": ["Not found."]})
    version = _latest_version(result)
    for field in ("input_topic", "output_topic"):
        _check_topic(field, fields[field])
    if fields.get("upper_topic"):
        _check_topic("upper_topic", fields["upper_topic"])
        if fields.get("limit") is None:
            raise ApplicationError(
                "A sub-model with an upper topic needs a limit.",
                errors={"limit": ["Give the confidence limit, e.g. 0.8."]},
            )
    if fields["input_topic"] == fields["output_topic"]:
        raise ApplicationError(
            "The output topic must differ from the input topic.",
            errors={"output_topic": ["Same as the input topic."]},
        )
    _check_clusters(fields)
    if fields.get("delivery") == Delivery.EXACTLY_ONCE and settings.KAFKAML_EMBEDDED_BROKER:
        raise ApplicationError(
            EMBEDDED_NO_EXACTLY_ONCE, errors={"delivery": [EMBEDDED_NO_EXACTLY_ONCE]}
        )
    _check_gpus(owner, fields.get("gpus") or 0, fields.get("replicas") or 1)
    _check_input_config(
        fields.get("input_format", ""),
        fields.get("input_config") or {},
        _input_shape(result, version),
    )
    require_owned_topics(owner, _topics(fields))
    inference = Inference(
        owner=owner, result=result, serving_result=result, model_version=version, **fields
    )
    inference.record_status(InferenceStatus.CREATED)
    inference.save()
    inference.workload_name = workloads.inference_workload_name(inference.pk)
    inference.save(update_fields=["workload_name"])

    def launch():
        try:
            workloads.workload_launch(workloads.inference_spec(inference))
            _set_status(inference, InferenceStatus.RUNNING)
        except Exception as exc:  # noqa: BLE001
            log.exception("could not launch inference %s", inference.pk)
            _set_status(inference, InferenceStatus.FAILED, error=f"launch: {exc}")

    transaction.on_commit(launch)
    return inference


def _set_status(inference: Inference, status: str, error: str = "") -> None:
    with transaction.atomic():
        current = Inference.objects.select_for_update().get(pk=inference.pk)
        if current.status == InferenceStatus.STOPPED and status != InferenceStatus.STOPPED:
            return
        current.record_status(status)
        if error:
            current.error = error[:20000]
        if status not in ACTIVE:
            current.metrics = {}  # its replicas are gone
        current.save(update_fields=["status", "status_history", "error", "metrics"])
        if status not in ACTIVE:
            workloads.workload_credentials_revoke(current.workload_name)
    realtime.push(realtime.inference_group(inference.pk), "status", {"status": status})


def _require_active(inference: Inference) -> None:
    if inference.status not in ACTIVE:
        raise ConflictError(
            "The inference is not running.", errors={"status": [f"It is {inference.status}."]}
        )


@transaction.atomic
def inference_scale(*, inference: Inference, replicas: int) -> Inference:
    _require_active(inference)
    _require_own_topics(inference)
    if not 1 <= replicas <= 64:
        raise ApplicationError("replicas must be 1..64", errors={"replicas": ["1 to 64."]})
    _check_gpus(inference.owner, inference.gpus, replicas, exclude=inference)
    inference.replicas = replicas
    inference.save(update_fields=["replicas"])
    transaction.on_commit(lambda: workloads.workload_scale(inference.workload_name, replicas))
    return inference


@transaction.atomic
def inference_swap(*, inference: Inference, result: TrainingResult, version=None) -> Inference:
    """Point a running inference at another trained model (or version); replicas pick it up
    between batches. Rolling back is the same call with the previous result."""
    _require_active(inference)
    _require_own_topics(inference)
    if result.owner_id != inference.owner_id:
        raise ApplicationError("Unknown result.", errors={"result": ["Not found."]})
    version = version or _latest_version(result)
    if not result.artifacts.filter(version=version).exists():
        raise ApplicationError("No such model version.", errors={"version": ["Not found."]})
    old_shape = _input_shape(inference.serving_result, inference.model_version)
    new_shape = _input_shape(result, version)
    if old_shape and new_shape and list(old_shape)[1:] != list(new_shape)[1:]:
        raise ApplicationError(
            f"The new model's input shape {new_shape} differs from the served {old_shape}.",
            errors={"result": ["Input shapes differ."]},
        )
    _check_input_config(inference.input_format, inference.input_config, new_shape)
    inference.swap_history = [
        *inference.swap_history,
        {
            "from": {"result": inference.serving_result_id, "version": inference.model_version},
            "to": {"result": result.pk, "version": version},
            "at": timezone.now().isoformat(),
        },
    ]
    inference.serving_result = result
    inference.model_version = version
    inference.save(update_fields=["serving_result", "model_version", "swap_history"])
    # models as data: the replicas switch when they read this (a failure rolls the swap back)
    publish_model_update(inference, result.artifacts.get(version=version))
    realtime.push(
        realtime.inference_group(inference.pk), "swap", {"result": result.pk, "version": version}
    )
    return inference


@transaction.atomic
def inference_stop(*, inference: Inference) -> Inference:
    _require_active(inference)
    transaction.on_commit(lambda: workloads.workload_stop(inference.workload_name))
    workloads.workload_credentials_revoke(inference.workload_name)
    inference.record_status(InferenceStatus.STOPPED)
    inference.metrics = {}  # no replica reports once stopped ("Replicas reporting 0 / N")
    inference.save(update_fields=["status", "status_history", "metrics"])
    return inference


@transaction.atomic
def inference_delete(*, inference: Inference) -> None:
    if inference.status in ACTIVE:
        raise ConflictError(
            "The inference is running; stop it first.", errors={"status": [inference.status]}
        )
    workloads.workload_credentials_revoke(inference.workload_name)
    inference.delete()


def inference_metrics_record(*, inference: Inference, replica: str, metrics: dict) -> None:
    with transaction.atomic():
        current = Inference.objects.select_for_update().get(pk=inference.pk)
        if current.status not in ACTIVE:  # a late report after Stop: no replica serves
            return
        current.metrics = {
            **current.metrics,
            replica: {**metrics, "at": timezone.now().isoformat()},
        }
        fields = ["metrics"]
        update = metrics.get("model_update") or {}
        if update.get("status") == "failed":  # the replica keeps serving its model: not fatal
            error = (
                f"Replica {replica} could not load model update result {update.get('result_id')} "
                f"v{update.get('version')} and keeps serving v{metrics.get('model_version')}: "
                f"{update.get('error', '')}"
            )[:20000]
            if current.error != error:
                current.error = error
                fields.append("error")
        current.save(update_fields=fields)
        inference_history_append(current)
    realtime.push(
        realtime.inference_group(inference.pk), "metrics", {"replica": replica, **metrics}
    )


def _foreign_reason(inference: Inference) -> str:
    """Why an inference may not run (empty if it may): its topics must be its owner's."""
    foreign = foreign_topics(inference.owner, _topics(inference))
    return "; ".join(reason for reasons in foreign.values() for reason in reasons)


def inference_reconcile() -> int:
    changed = 0
    active = Inference.objects.filter(status__in=ACTIVE).exclude(workload_name="")
    for inference in active.select_related("owner"):
        reason = _foreign_reason(inference)
        if reason:  # made before topics were owned: it stops reading another user's topic
            workloads.workload_stop(inference.workload_name)
            _set_status(inference, InferenceStatus.FAILED, error=f"stopped: {reason}")
            changed += 1
            continue
        try:
            state = workloads.get_launcher().status(inference.workload_name)
        except Exception:  # noqa: BLE001
            log.exception("status of %s", inference.workload_name)
            continue
        failed = state.state == "failed" and inference.status != InferenceStatus.FAILED
        if failed or _crashing(inference, state):
            error = _failure_text(inference, state)  # read its log before it is stopped
            try:
                workloads.workload_stop(inference.workload_name)
            except Exception:  # noqa: BLE001 - it is failed either way
                log.exception("stopping %s", inference.workload_name)
            _set_status(inference, InferenceStatus.FAILED, error=error)
            changed += 1
    return changed


CRASH_RESTARTS = 3  # restarts without a single metrics report: it crashes on every start
ERROR_LINE = re.compile(r"error|exception|traceback|expects|refused|denied|fatal", re.I)


def _crashing(inference: Inference, state) -> bool:
    """A workload the launcher keeps restarting (local: backoff; Kubernetes reports
    CrashLoopBackOff as failed) whose replicas never reported: it is not serving."""
    return (
        state.state in ("running", "pending")
        and state.restarts >= CRASH_RESTARTS
        and state.replicas_ready < max(state.replicas_desired, 1)
        and inference_metrics_summary(inference)["replicas_reporting"] == 0
    )


def last_error_line(logs: str) -> str:
    """The last line of a log tail that reads like an error (else the last non-empty one)."""
    lines = [
        line.strip() for line in logs.splitlines() if line.strip() and not line.startswith("==>")
    ]
    errors = [line for line in lines if ERROR_LINE.search(line)]
    return (errors or lines or [""])[-1]


def _failure_text(inference: Inference, state) -> str:
    """ "crashing: <launcher reason> (restarted N times)" and the last error of the log tail."""
    what = "crashing" if state.state != "failed" or "CrashLoop" in state.reason else "failed"
    text = f"{what}: {state.reason or 'the workload failed'}"
    if state.restarts:
        text += f" (restarted {state.restarts} times)"
    line = last_error_line(workloads.workload_logs(inference.workload_name, tail=50))
    return f"{text}\nlast error: {line}" if line else text


def inference_resume_all() -> int:
    """Relaunch running inferences whose workload is gone (after a platform restart)."""
    resumed = 0
    running = Inference.objects.filter(status=InferenceStatus.RUNNING).select_related("owner")
    for inference in running:
        state = workloads.get_launcher().status(inference.workload_name)
        if state.state in ("running", "pending"):
            continue
        reason = _foreign_reason(inference)
        if reason:
            _set_status(inference, InferenceStatus.FAILED, error=f"not resumed: {reason}")
            continue
        try:
            workloads.workload_launch(workloads.inference_spec(inference))
            resumed += 1
        except Exception as exc:  # noqa: BLE001
            _set_status(inference, InferenceStatus.FAILED, error=f"resume: {exc}")
    return resumed
