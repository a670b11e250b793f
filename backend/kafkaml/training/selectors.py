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


def _model_payload(model) -> dict:
    return {
        "id": model.pk,
        "name": model.name,
        "framework": model.framework,
        "imports": model.imports,
        "code": model.code,
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
        "model": _model_payload(result.model),
        "chain": [{**_model_payload(m.model), "result_id": m.pk} for m in members],
        "datasource": DatasourceOutput(deployment.datasource).data
        if deployment.datasource
        else None,
    }


# --- what a workload credential may reach (every worker view loads through these) ----------


def _not_found() -> Http404:
    return Http404("Not found.")


def worker_result_get(*, credential: WorkloadCredential, pk: int) -> TrainingResult:
    """A result of the training credential's own workload (its leader or a chain member);
    anything else is 404, as if it did not exist."""
    if credential.kind != CredentialKind.TRAINING:
        raise _not_found()
    scope = TrainingResult.objects.filter(
        Q(pk=credential.subject_id) | Q(chain_leader_id=credential.subject_id),
        owner=credential.owner,
    )
    return get_object_or_404(scope.select_related("deployment", "model"), pk=pk)


def worker_artifact_result_get(*, credential: WorkloadCredential, pk: int) -> TrainingResult:
    """The result whose trained model a workload may download: its own (training), or the
    one its inference serves now (hot swaps move it)."""
    if credential.kind == CredentialKind.INFERENCE:
        scope = TrainingResult.objects.filter(
            served_inferences__pk=credential.subject_id, owner=credential.owner
        )
        return get_object_or_404(scope, pk=pk)
    return worker_result_get(credential=credential, pk=pk)


def worker_deployment_get(*, credential: WorkloadCredential, pk: int) -> Deployment:
    if credential.kind != CredentialKind.TRAINING:
        raise _not_found()
    scope = Deployment.objects.filter(results__pk=credential.subject_id, owner=credential.owner)
    return get_object_or_404(scope.distinct(), pk=pk)


def user_gpus_in_use(*, owner, exclude_deployment: Deployment | None = None) -> int:
    """GPUs the user's training workloads hold now (one workload per unfinished leader)."""
    leaders = TrainingResult.objects.filter(owner=owner, chain_leader=None).exclude(
        status__in=FINAL_RESULT_STATUSES
    )
    if exclude_deployment is not None:
        leaders = leaders.exclude(deployment=exclude_deployment)
    return leaders.aggregate(total=Sum("deployment__gpus"))["total"] or 0
