from __future__ import annotations

from django.db.models import Q, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404

from kafkaml.workloads.models import CredentialKind, WorkloadCredential

from .models import FINAL_RESULT_STATUSES, ControlError, Deployment, TrainingResult

CONTROL_ERRORS_SHOWN = 100


def control_errors_of(*, deployment: Deployment) -> list[ControlError]:
    """The newest refused control messages that named ``deployment`` (its owner's view)."""
    scope = ControlError.objects.filter(deployment=deployment, owner_id=deployment.owner_id)
    return list(scope.order_by("-id")[:CONTROL_ERRORS_SHOWN])


def result_datasource(result: TrainingResult):
    """The datasource the result trained (or trains) on: the one its deployment re-used, else
    the first registered for the deployment (the one the worker reads), else None."""
    deployment = result.deployment
    if deployment.datasource_id:
        return deployment.datasource
    return deployment.datasources.order_by("id").first()


def _model_payload(model, version=None) -> dict:
    """A model as the worker builds it: the code of ``version`` (the result's pinned one)."""
    source = version or model
    return {
        "id": model.pk,
        "name": model.name,
        "version": version.number if version else None,
        "framework": source.framework,
        "imports": source.imports,
        "code": source.code,
        "distributed": model.distributed,
        "upper_model": model.upper_model_id,
        "input_shape": model.input_shape,
        "output_shape": model.output_shape,
    }


def worker_result_payload(result: TrainingResult) -> dict:
    """Everything a training worker needs to train one result (or a chain it leads)."""
    from .serializers import DatasourceOutput, DeploymentOutput

    deployment = result.deployment
    leader = result.chain_leader or result
    members = [leader, *leader.chain_members.order_by("id")] if result.model.distributed else []
    return {
        "id": result.pk,
        "status": result.status,
        "deployment": DeploymentOutput(deployment).data,
        "model": _model_payload(result.model, result.model_version),
        "chain": [{**_model_payload(m.model, m.model_version), "result_id": m.pk} for m in members],
        "datasource": DatasourceOutput(deployment.datasource).data
        if deployment.datasource
        else None,
        "federated": _federated_payload(deployment),
    }


def _federated_payload(deployment) -> dict | None:
    """A federated deployment's settings and the owner's topic prefix (the coordinator and
    the sites work on ``<prefix>fed-<deployment>-*``); None for an ordinary deployment."""
    from kafkaml.topics.namespace import topic_prefix

    settings = getattr(deployment, "federated", None)  # kafkaml.federated's one-to-one
    if settings is None:
        return None
    return {
        "rounds": settings.rounds,
        "min_data": settings.min_data,
        "strategy": settings.strategy,
        "strategy_params": settings.strategy_params,
        "restrictions": settings.restrictions,
        "expected_sites": settings.expected_sites,
        "round_timeout_s": settings.round_timeout_s,
        "join_timeout_s": settings.join_timeout_s,
        "prefix": topic_prefix(deployment.owner),
    }


# --- what a workload credential may reach (every worker view loads through these) ----------


def _not_found() -> Http404:
    return Http404("Not found.")


#: the credentials that may read a result's job and its deployment's datasources
RESULT_READERS = (CredentialKind.TRAINING, CredentialKind.FEDERATED_SITE)


def worker_result_get(
    *, credential: WorkloadCredential, pk: int, kinds: tuple[str, ...] = (CredentialKind.TRAINING,)
) -> TrainingResult:
    """A result of the training credential's own workload (its leader or a chain member);
    anything else is 404, as if it did not exist. ``kinds=RESULT_READERS`` lets a federated
    site's credential read it too."""
    if credential.kind not in kinds:
        raise _not_found()
    scope = TrainingResult.objects.filter(
        Q(pk=credential.subject_id) | Q(chain_leader_id=credential.subject_id),
        owner=credential.owner,
    )
    return get_object_or_404(scope.select_related("deployment", "model"), pk=pk)


def worker_artifact_result_get(*, credential: WorkloadCredential, pk: int) -> TrainingResult:
    """The result whose trained model a workload may download: its own (training), or the
    one its inference serves now (hot swaps move it), or its shadow/canary candidate."""
    if credential.kind == CredentialKind.INFERENCE:
        scope = TrainingResult.objects.filter(
            Q(served_inferences__pk=credential.subject_id)
            | Q(candidate_inferences__pk=credential.subject_id),
            owner=credential.owner,
        )
        return get_object_or_404(scope.distinct(), pk=pk)
    return worker_result_get(credential=credential, pk=pk)


def worker_deployment_get(*, credential: WorkloadCredential, pk: int) -> Deployment:
    if credential.kind not in RESULT_READERS:
        raise _not_found()
    scope = Deployment.objects.filter(results__pk=credential.subject_id, owner=credential.owner)
    return get_object_or_404(scope.distinct(), pk=pk)


def user_gpus_in_use(
    *, owner, exclude_deployment: Deployment | None = None, exclude_inference=None
) -> int:
    """GPUs the user's workloads hold now: training (one workload per unfinished leader) and
    active inferences (``gpus`` per replica)."""
    from django.db.models import F

    from kafkaml.inference.models import Inference, InferenceStatus

    leaders = TrainingResult.objects.filter(owner=owner, chain_leader=None).exclude(
        status__in=FINAL_RESULT_STATUSES
    )
    if exclude_deployment is not None:
        leaders = leaders.exclude(deployment=exclude_deployment)
    training = leaders.aggregate(total=Sum("deployment__gpus"))["total"] or 0
    inferences = Inference.objects.filter(
        owner=owner,
        gpus__gt=0,
        status__in=(InferenceStatus.CREATED, InferenceStatus.RUNNING),
    )
    if exclude_inference is not None:
        inferences = inferences.exclude(pk=exclude_inference.pk)
    serving = inferences.aggregate(total=Sum(F("gpus") * F("replicas")))["total"] or 0
    return training + serving


# --- the runs table (experiment tracking) -------------------------------------------------


def _json_number(field: str, key: str):
    from django.db.models import FloatField
    from django.db.models.fields.json import KeyTextTransform
    from django.db.models.functions import Cast

    return Cast(KeyTextTransform(key, field), FloatField())


# Sortable columns the JSON fields hold, as annotations (the database sorts; pages stay right).
RUN_METRIC_ANNOTATIONS = {
    "test_accuracy": ("test_metrics", "accuracy"),
    "test_loss": ("test_metrics", "loss"),
    "val_accuracy": ("val_metrics", "accuracy"),
    "val_loss": ("val_metrics", "loss"),
}


def runs_queryset():
    """Results with their sortable metrics and parameters as columns (owner scoping is the
    view's; every view's queryset is filtered by owner)."""
    from django.db.models import F
    from django.db.models.functions import Coalesce

    annotations = {
        name: _json_number(field, key) for name, (field, key) in RUN_METRIC_ANNOTATIONS.items()
    }
    annotations["epochs"] = Coalesce(
        _json_number("deployment__training_kwargs", "epochs"),
        _json_number("deployment__training_kwargs", "max_epochs"),
    )
    return TrainingResult.objects.select_related("model", "model_version", "deployment").annotate(
        **annotations,
        batch_size=F("deployment__batch_size"),
        framework=F("model__framework"),
        model_name=F("model__name"),
    )
