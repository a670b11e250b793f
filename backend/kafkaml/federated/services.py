"""Federated deployments: created with their settings, and the settings' changes relaunching
the deployment's workloads (a federated result's workload is its coordinator, an ordinary
one's the training worker; ``kafkaml.workloads.services.training_spec`` picks)."""

from __future__ import annotations

import logging

from django.db import transaction

from kafkaml.errors import ApplicationError, ConflictError
from kafkaml.training.models import Deployment
from kafkaml.training.services import deployment_create
from kafkaml.workloads import services as workloads

from .models import FederatedSettings

log = logging.getLogger(__name__)


def _require_one_model(models: list) -> None:
    if len(models) != 1 or models[0].distributed:
        raise ApplicationError(
            "A federated deployment trains one model (not several, nor a distributed chain).",
            errors={"federated": ["The configuration must hold exactly one model."]},
        )


@transaction.atomic
def federated_deployment_create(*, owner, configuration, federated: dict, **fields) -> Deployment:
    """A deployment trained by federated sites: its result's workload is the coordinator (it
    is launched once this transaction commits, with the settings in place)."""
    _require_one_model(list(configuration.models.all()))
    if fields.get("datasource") is not None or fields.get("incremental"):
        raise ApplicationError(
            "A federated deployment trains on its sites' data streams, announced with "
            "FederatedRawSink: no datasource to pick, no incremental training.",
            errors={"federated": ["Not with datasource or incremental."]},
        )
    deployment = deployment_create(owner=owner, configuration=configuration, **fields)
    FederatedSettings.objects.create(deployment=deployment, **federated)
    return deployment


def _running_leaders(deployment: Deployment) -> list:
    return [r for r in deployment.results.filter(chain_leader__isnull=True) if not r.is_final]


def _relaunch(result) -> None:
    """The result's workload starts again as what the deployment now is. The new spec issues
    a new credential first, so the replaced worker cannot report its stop to the result."""

    def relaunch():
        try:
            spec = workloads.training_spec(result)
            workloads.workload_stop(spec.name)
            workloads.workload_launch(spec)
        except Exception:  # noqa: BLE001 - the reconciler marks the result if it did not start
            log.exception("could not relaunch the workload of result %s", result.pk)

    transaction.on_commit(relaunch)


def _require_changeable(deployment: Deployment) -> list:
    running = _running_leaders(deployment)
    if running and deployment.datasources.exists():
        raise ConflictError(
            "The deployment is already training on registered data: federated settings apply "
            "before its data arrives (or to a new deployment).",
            errors={"federated": ["The deployment is training."]},
        )
    return running


@transaction.atomic
def federated_settings_save(
    *, deployment: Deployment, fields: dict
) -> tuple[FederatedSettings, bool]:
    """Set or change the settings (``created`` is True for new ones). A deployment still
    waiting for its data relaunches its workload, as the coordinator."""
    running = _require_changeable(deployment)
    _require_one_model([r.model for r in deployment.results.filter(chain_leader__isnull=True)])
    settings, created = FederatedSettings.objects.update_or_create(
        deployment=deployment, defaults=fields
    )
    for result in running:
        _relaunch(result)
    return settings, created


@transaction.atomic
def federated_settings_delete(*, deployment: Deployment) -> None:
    """The deployment becomes an ordinary one; one still waiting for its data relaunches its
    workload as the training worker."""
    running = _require_changeable(deployment)
    deleted, _ = FederatedSettings.objects.filter(deployment=deployment).delete()
    if deleted:
        for result in running:
            _relaunch(result)
