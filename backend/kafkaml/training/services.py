"""Training: deployments, their results, what workers report, and datasources."""

from __future__ import annotations

import json
import logging
import tarfile
import tempfile

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max

from kafkaml import realtime
from kafkaml.catalog.selectors import model_chain
from kafkaml.catalog.services import model_version_current
from kafkaml.errors import ApplicationError, ConflictError
from kafkaml.topics.ownership import foreign_topics
from kafkaml.workloads import services as workloads

from .compile_settings import check_epochs, resolve_compile_settings
from .kwargs import parse_deployment_kwargs
from .models import (
    FINAL_RESULT_STATUSES,
    ControlError,
    Datasource,
    Deployment,
    ModelArtifact,
    ResultStatus,
    TrainingResult,
)
from .selectors import result_datasource, user_gpus_in_use

log = logging.getLogger(__name__)

WORKER_STATUSES = {
    ResultStatus.DEPLOYED,
    ResultStatus.FINISHED,
    ResultStatus.FAILED,
    ResultStatus.STOPPED,
}


def _launch_on_commit(result: TrainingResult) -> None:
    def launch():
        try:
            workloads.workload_launch(workloads.training_spec(result))
        except Exception as exc:  # noqa: BLE001 - the result shows why
            log.exception("could not launch training for result %s", result.pk)
            result_set_status(result=result, status=ResultStatus.FAILED, error=f"launch: {exc}")

    transaction.on_commit(launch)


@transaction.atomic
def deployment_create(*, owner, configuration, versions=None, **fields) -> Deployment:
    """``versions`` ({model id: ModelVersion}) pins the code each model trains with (a re-run);
    by default each model trains with its current version."""
    if configuration.owner_id != owner.pk:
        raise ApplicationError("Unknown configuration.", errors={"configuration": ["Not found."]})
    datasource = fields.get("datasource")
    if datasource is not None and datasource.owner_id != owner.pk:
        raise ApplicationError("Unknown datasource.", errors={"datasource": ["Not found."]})
    if datasource is not None:
        _require_own_datasource_topics(owner, datasource)
    frameworks = set(configuration.models.values_list("framework", flat=True))
    for name in ("training_kwargs", "evaluation_kwargs"):
        fields[name] = parse_deployment_kwargs(
            fields.get(name) or {},
            field=name,
            frameworks=frameworks,
            kind="fit" if name == "training_kwargs" else "evaluate",
        )
    check_epochs(fields["training_kwargs"])
    models = list(configuration.models.all())
    resolve_compile_settings(fields, [m for model in models for m in _members(model)])
    deployment = Deployment.objects.create(owner=owner, configuration=configuration, **fields)

    done: set[int] = set()
    for model in models:
        if model.pk in done:
            continue
        members = model_chain(model) if model.distributed else [model]
        leader = None
        for member in members:
            done.add(member.pk)
            version = (versions or {}).get(member.pk) or model_version_current(member)
            result = TrainingResult(
                owner=owner,
                deployment=deployment,
                model=member,
                model_version=version,
                chain_leader=leader,
            )
            result.record_status(ResultStatus.CREATED)
            result.save()
            if leader is None:
                leader = result
                result.workload_name = workloads.training_workload_name(result.pk)
                result.save(update_fields=["workload_name"])
                _launch_on_commit(result)
    _check_gpus(deployment)
    return deployment


def _members(model) -> list:
    return model_chain(model) if model.distributed else [model]


def _check_gpus(deployment: Deployment) -> None:
    """Each workload of the deployment (one per model or chain) asks for ``gpus``."""
    if not deployment.gpus:
        return
    get_user_model().objects.select_for_update().filter(pk=deployment.owner_id).first()
    workloads_count = deployment.results.filter(chain_leader=None).count()
    workloads.gpu_quota_check(
        requested=deployment.gpus * workloads_count,
        in_use=user_gpus_in_use(owner=deployment.owner, exclude_deployment=deployment),
    )


@transaction.atomic
def deployment_delete(*, deployment: Deployment) -> None:
    running = deployment.results.exclude(status__in=FINAL_RESULT_STATUSES)
    if running.exists():
        raise ConflictError(
            "The deployment has results still training; stop them first.",
            errors={"deployment": ["Results are still training."]},
        )
    if any(r.inferences.exists() for r in deployment.results.all()):
        raise ConflictError("A result of this deployment is deployed for inference.")
    deployment.delete()


# The settings a re-run copies from the deployment it repeats (all but what names the run).
RERUN_FIELDS = (
    "batch_size",
    "training_kwargs",
    "evaluation_kwargs",
    "confusion_matrix",
    "optimizer",
    "learning_rate",
    "loss",
    "metrics",
    "incremental",
    "stream_timeout",
    "monitored_metric",
    "improvement",
    "window_size",
    "incremental_mode",
    "change",
    "unsupervised_rounds",
    "confidence_threshold",
    "gpus",
)


def result_rerun(*, result: TrainingResult) -> Deployment:
    """A new deployment of the same configuration, with the same settings, the same code
    versions and seed, trained on the same datasource (no data has to be sent again)."""
    if not result.is_final:
        raise ConflictError(
            "The result is still training; re-run it once it has ended.",
            errors={"status": [f"The result is {result.status}."]},
        )
    original = result.deployment
    datasource = result_datasource(result)
    if datasource is None:
        raise ConflictError(
            "No datasource was registered for this result, so there is nothing to re-run on; "
            "deploy the configuration again and send the data.",
            errors={"datasource": ["None registered."]},
        )
    versions = {
        r.model_id: r.model_version
        for r in original.results.select_related("model_version")
        if r.model_version is not None
    }
    return deployment_create(
        owner=result.owner,
        configuration=original.configuration,
        versions=versions,
        datasource=datasource,
        seed=result.seed if result.seed is not None else original.seed,
        **{name: getattr(original, name) for name in RERUN_FIELDS},
    )


TAG_MAX = 20


@transaction.atomic
def result_annotate(*, result: TrainingResult, **fields) -> TrainingResult:
    """The owner's tags and note on a run (nothing else of a result is editable)."""
    if "tags" in fields:
        tags: list[str] = []
        for tag in fields["tags"]:
            if tag not in tags:
                tags.append(tag)
        if len(tags) > TAG_MAX:
            raise ApplicationError(
                f"At most {TAG_MAX} tags.", errors={"tags": [f"At most {TAG_MAX} tags."]}
            )
        result.tags = tags
    if "note" in fields:
        result.note = fields["note"]
    result.save(update_fields=["tags", "note", "updated_at"])
    return result


def _chain(result: TrainingResult) -> list[TrainingResult]:
    leader = result.chain_leader or result
    return [leader, *leader.chain_members.order_by("id")]


def result_set_status(
    *, result: TrainingResult, status: str, error: str = "", log_tail: str = ""
) -> TrainingResult:
    """A status change reported by a worker (or the reconciler). Final states stick."""
    with transaction.atomic():
        result = TrainingResult.objects.select_for_update().get(pk=result.pk)
        if result.is_final:
            return result
        if status not in WORKER_STATUSES:
            raise ApplicationError(f"Unknown status {status!r}.", errors={"status": ["Unknown."]})
        result.record_status(status)
        if error:
            result.error = error[:20000]
        if log_tail:
            result.log_tail = log_tail[-20000:]
        result.save()
        if result.is_final:
            _revoke_if_chain_ended(result)
    realtime.push(realtime.result_group(result.pk), "status", _status_event(result))
    return result


def _revoke_if_chain_ended(result: TrainingResult) -> None:
    """The workload's credential dies with the last of its results (a federated result's
    site workers' credentials too)."""
    chain = _chain(result)
    if all(member.is_final for member in chain):
        workloads.workload_credentials_revoke(chain[0].workload_name)
        if _federated(chain[0].deployment):
            for pk in chain[0].deployment.datasources.values_list("pk", flat=True):
                workloads.workload_credentials_revoke(workloads.federated_site_workload_name(pk))


def _federated(deployment: Deployment) -> bool:
    return getattr(deployment, "federated", None) is not None  # kafkaml.federated's one-to-one


def _launch_federated_sites(deployment: Deployment, datasource: Datasource) -> None:
    """A site's data stream registered for a federated deployment: a site worker for it, for
    each of the deployment's results still training (the coordinator decides whether the site
    qualifies)."""
    for result in deployment.results.filter(chain_leader__isnull=True):
        if result.is_final:
            continue

        def launch(result=result):
            try:
                workloads.workload_launch(workloads.federated_site_spec(result, datasource))
            except Exception:  # noqa: BLE001 - the coordinator goes on without the site
                log.exception(
                    "could not launch the site worker of datasource %s for result %s",
                    datasource.pk,
                    result.pk,
                )

        transaction.on_commit(launch)


def _status_event(result: TrainingResult) -> dict:
    return {
        "id": result.pk,
        "status": result.status,
        "status_history": result.status_history,
        "error": result.error,
    }


@transaction.atomic
def result_stop(*, result: TrainingResult) -> TrainingResult:
    chain = _chain(result)
    if all(r.is_final for r in chain):
        raise ConflictError("The result is not running.", errors={"status": [result.status]})
    leader = chain[0]
    transaction.on_commit(lambda: workloads.workload_stop(leader.workload_name))
    for member in chain:
        if not member.is_final:
            member.log_tail = workloads.workload_logs(leader.workload_name, tail=50)
            result_set_status(result=member, status=ResultStatus.STOPPED)
    result.refresh_from_db()
    return result


@transaction.atomic
def result_delete(*, result: TrainingResult) -> None:
    if not result.is_final:
        raise ConflictError(
            "The result is still training; stop it first.",
            errors={"status": [f"The result is {result.status}."]},
        )
    if result.inferences.exists():
        raise ConflictError("The result is deployed for inference; delete the inference first.")
    workloads.workload_credentials_revoke((result.chain_leader or result).workload_name)
    result.delete()


def epoch_record(*, result: TrainingResult, epoch: int, metrics: dict) -> None:
    clean = {str(k): float(v) for k, v in metrics.items() if isinstance(v, int | float)}
    with transaction.atomic():
        result = TrainingResult.objects.select_for_update().get(pk=result.pk)
        entries = [e for e in result.epoch_metrics if e.get("epoch") != epoch]
        entries.append({"epoch": epoch, **clean})
        result.epoch_metrics = sorted(entries, key=lambda e: e["epoch"])
        result.save(update_fields=["epoch_metrics", "updated_at"])
    realtime.push(realtime.result_group(result.pk), "epoch", {"epoch": epoch, **clean})


def _read_metadata(archive_path: str) -> dict:
    from .artifacts import read_member

    try:
        with tarfile.open(archive_path, "r:gz") as tar:
            data = read_member(tar, "metadata.json")
        if data is None:
            raise ApplicationError("The archive has no metadata.json.")
        return json.loads(data)
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise ApplicationError(f"The archive is not a readable tar.gz: {exc}") from exc


def artifact_store(*, result: TrainingResult, archive, summary: dict) -> ModelArtifact:
    """Keep a trained version; the result is ``finished`` once its first version is in."""
    with tempfile.NamedTemporaryFile(suffix=".tar.gz") as tmp:
        for chunk in archive.chunks():
            tmp.write(chunk)
        tmp.flush()
        metadata = _read_metadata(tmp.name)
    archive.seek(0)
    with transaction.atomic():
        result = TrainingResult.objects.select_for_update().get(pk=result.pk)
        latest = result.artifacts.aggregate(v=Max("version"))["v"] or 0
        version = int(summary.get("version") or latest + 1)
        if version <= latest:
            version = latest + 1
        artifact = ModelArtifact(result=result, version=version, metadata=metadata, metrics=summary)
        artifact.archive.save("model.tar.gz", archive, save=False)
        artifact.save()
        for name in ("train_metrics", "val_metrics", "test_metrics"):
            if isinstance(summary.get(name), dict):
                setattr(result, name, summary[name])
        for name in ("confusion_matrix", "training_time", "seed"):
            if summary.get(name) is not None:
                setattr(result, name, summary[name])
        result.save()
    if not result.deployment.incremental:
        result_set_status(result=result, status=ResultStatus.FINISHED)
    realtime.push(
        realtime.result_group(result.pk), "artifact", {"version": version, "metrics": summary}
    )
    _follow_latest(result, version)
    return artifact


def _follow_latest(result: TrainingResult, version: int) -> None:
    """Inferences that opted in (``follow_latest``) and serve this result swap to the new
    version through the usual swap (models as data: replicas switch between batches)."""
    from kafkaml.inference.models import Inference
    from kafkaml.inference.services import inference_swap

    for inference in Inference.objects.filter(serving_result=result, follow_latest=True):
        if inference.model_version >= version:
            continue
        try:
            inference_swap(inference=inference, result=result, version=version)
            log.info(
                "inference %s follows result %s to version %s", inference.pk, result.pk, version
            )
        except Exception as exc:  # noqa: BLE001 - the upload itself succeeded
            log.warning("inference %s could not follow version %s: %s", inference.pk, version, exc)


def result_reconcile() -> int:
    """Results whose workload ended without a final report are failed with the log tail."""
    changed = 0
    leaders = (
        TrainingResult.objects.filter(chain_leader=None)
        .exclude(status__in=FINAL_RESULT_STATUSES)
        .exclude(workload_name="")
    )
    for leader in leaders:
        try:
            state = workloads.get_launcher().status(leader.workload_name)
        except Exception:  # noqa: BLE001
            log.exception("status of %s", leader.workload_name)
            continue
        if state.state not in ("failed", "succeeded", "stopped"):
            continue
        logs = workloads.workload_logs(leader.workload_name, tail=50)
        reason = state.reason or f"the workload {state.state}"
        for member in _chain(leader):
            if not member.is_final:
                result_set_status(
                    result=member,
                    status=ResultStatus.FAILED,
                    error=f"The training worker ended without reporting a result: {reason}",
                    log_tail=logs,
                )
                changed += 1
    return changed


def datasource_fingerprint(data: dict) -> str:
    import hashlib

    announced = {
        k: v
        for k, v in data.items()
        if k not in ("control_topic", "control_partition", "control_offset")
    }
    return hashlib.sha256(json.dumps(announced, sort_keys=True, default=str).encode()).hexdigest()


MAX_DEPLOYMENT_PK = 2**63 - 1  # a key may carry up to 2**64-1; no row has such an id


def _deployment_named(deployment_id: int | None) -> Deployment | None:
    """The deployment a control message's key names, if it exists."""
    if deployment_id is None or not 0 <= deployment_id <= MAX_DEPLOYMENT_PK:
        return None
    return Deployment.objects.select_related("owner").filter(pk=deployment_id).first()


def _announced_topics(data: dict) -> dict[str, set[str]]:
    """The topics a registration makes the platform read, per field, by the protocol's one
    rule (``datasources.control``): the ranges' topics (or an incremental stream's bare topic)
    and the ``unsupervised_topic``."""
    from datasources.control import ControlMessageError, from_dict

    try:
        message = from_dict(data["deployment_id"], data)
    except ControlMessageError as exc:
        raise ApplicationError(str(exc), errors={exc.field: [str(exc)]}) from exc
    return {
        "topic": {r.topic for r in message.ranges} | ({message.topic} if message.topic else set()),
        "unsupervised_topic": {message.unsupervised_topic} if message.unsupervised_topic else set(),
    }


ANNOUNCED_FIELDS = (
    "topic",
    "input_format",
    "input_config",
    "description",
    "validation_rate",
    "test_rate",
    "total_msg",
    "incremental",
    "unsupervised_topic",
    "dataset_restrictions",
)


def _require_own_datasource_topics(owner, datasource: Datasource) -> None:
    """Retraining on a datasource reads its topics: a datasource registered before topics were
    owned may name another user's (409)."""
    announced = {name: getattr(datasource, name) for name in ANNOUNCED_FIELDS}
    errors = foreign_topics(owner, _announced_topics({"deployment_id": 0, **announced}))
    if errors:
        reasons = [reason for field in errors.values() for reason in field]
        raise ConflictError(
            f"Datasource {datasource.pk} reads a topic that is not yours: {reasons[0]}",
            errors={"datasource": reasons},
        )


def datasource_register(*, data: dict) -> tuple[Datasource, bool]:
    """Idempotent: the same announcement (redelivered, or sent twice) is one datasource.

    A federated deployment's registration starts a site worker for that data stream
    (``_launch_federated_sites``). Registered only for an existing deployment, and only if every topic it announces is in the
    namespace of the deployment's owner (``kafkaml.topics.ownership``): a message naming someone
    else's deployment, or announcing someone else's topic, is refused (409); the control logger
    then records the refusal as a control error of that deployment."""
    deployment = _deployment_named(data["deployment_id"])
    if deployment is None:
        raise ApplicationError(
            f"No deployment {data['deployment_id']} exists for this control message.",
            errors={"deployment_id": ["Unknown deployment."]},
        )
    errors = foreign_topics(deployment.owner, _announced_topics(data))
    if errors:
        first = next(iter(errors.values()))[0]
        raise ConflictError(
            f"Not registered for deployment {deployment.pk}: {first}", errors=errors
        )
    fingerprint = datasource_fingerprint(data)
    existing = Datasource.objects.filter(fingerprint=fingerprint).first()
    if existing:
        return existing, False
    fields = {k: v for k, v in data.items() if k != "deployment_id"}
    try:
        with transaction.atomic():
            datasource = Datasource.objects.create(
                owner=deployment.owner,
                deployment=deployment,
                deployment_key=data["deployment_id"],
                fingerprint=fingerprint,
                **fields,
            )
    except IntegrityError:  # the same announcement registered concurrently
        return Datasource.objects.get(fingerprint=fingerprint), False
    if _federated(deployment):
        _launch_federated_sites(deployment, datasource)
    return datasource, True


def control_error_record(*, data: dict) -> ControlError:
    """A control message the control logger refused. ``deployment_id`` (the message's key,
    when it could be read) links the error to that deployment, so its owner sees it."""
    data = dict(data)
    deployment = _deployment_named(data.pop("deployment_id", None))
    return ControlError.objects.create(
        deployment=deployment, owner_id=deployment.owner_id if deployment else None, **data
    )
