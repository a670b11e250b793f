from __future__ import annotations

from .models import TrainingResult


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
