"""Turn training results and inferences into workloads, and keep their statuses in step with
what the launcher reports."""

from __future__ import annotations

import logging
import os
import sys

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kafkaml.errors import ConflictError
from kafkaml.topics import principals
from worker_common.kafka import REPLICATION_FACTOR_ENV

from .credentials import credential_issue, credentials_revoke, credentials_revoke_ended
from .launchers import LauncherError, WorkloadSpec, get_launcher
from .launchers.base import Resources
from .models import CredentialKind, Heartbeat

log = logging.getLogger(__name__)


def _python() -> str:
    """The interpreter of worker commands: this one for local processes, the image's
    ``python`` for containers."""
    if settings.KAFKAML_WORKERS_PYTHON:
        return settings.KAFKAML_WORKERS_PYTHON
    return "python" if settings.KAFKAML_LAUNCHER == "kubernetes" else sys.executable


def worker_env() -> dict[str, str]:
    """Plain settings every worker gets; ``KAFKAML_TOPIC_REPLICATION_FACTOR`` too when the
    platform has one, so the topics workers create follow the same rule as the platform's."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.KAFKA_BOOTSTRAP_SERVERS,
        "KAFKAML_BACKEND_URL": settings.KAFKAML_BACKEND_URL,
        "KAFKAML_CONTROL_TOPIC": settings.KAFKAML_CONTROL_TOPIC,
        "PYTHONUNBUFFERED": "1",
    }
    replication = os.environ.get(REPLICATION_FACTOR_ENV, "").strip()
    if replication:
        env[REPLICATION_FACTOR_ENV] = replication
    return env


def worker_secrets(
    *, kind: str, workload_name: str, subject_id: int, owner, kafka_grants: list
) -> dict[str, str]:
    """The workload's own credentials, new at each launch (the previous ones die): its API key
    and, on a secured Kafka, its own Kafka principal limited to ``kafka_grants``
    (``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*``). Never the platform's Kafka password."""
    key = credential_issue(
        kind=kind, workload_name=workload_name, subject_id=subject_id, owner=owner
    )
    kafka = principals.workload_principal_issue(
        workload_name=workload_name, owner=owner, grants=kafka_grants
    )
    return {"KAFKAML_API_TOKEN": key, **kafka}


def training_workload_name(result_id: int) -> str:
    return f"training-result-{result_id}"


def inference_workload_name(inference_id: int) -> str:
    return f"inference-{inference_id}"


def federated_site_workload_name(datasource_id: int) -> str:
    return f"federated-site-{datasource_id}"


def _federated(result) -> bool:
    return getattr(result.deployment, "federated", None) is not None


def _training_workload(
    result, *, name: str, command: list[str], labels: dict, kind: str = CredentialKind.TRAINING
) -> WorkloadSpec:
    """A workload of a result's training (its worker, or a federated coordinator or site),
    with a credential of ``kind`` scoped to the result."""
    federated = _federated(result)
    return WorkloadSpec(
        name=name,
        component="training",
        command=[_python(), "-m", *command],
        env=worker_env(),
        secret_env=worker_secrets(
            kind=kind,
            workload_name=name,
            subject_id=result.pk,
            owner=result.owner,
            kafka_grants=principals.federated_grants(result)
            if federated
            else principals.training_grants(result),
        ),
        replicas=1,
        resources=Resources(gpus=result.deployment.gpus),
        labels={
            "kafkaml/result": str(result.pk),
            "kafkaml/deployment": str(result.deployment_id),
            **labels,
        },
        framework=result.model.framework,
    )


def training_spec(result) -> WorkloadSpec:
    """The workload of a result (the leader of a distributed chain): its training worker, or
    for a federated deployment its coordinator. Issues its credential."""
    module = "model_training.federated.coordinator" if _federated(result) else "model_training"
    return _training_workload(
        result,
        name=training_workload_name(result.pk),
        command=[module, "--result-id", str(result.pk)],
        labels={},
    )


def federated_site_spec(result, datasource) -> WorkloadSpec:
    """The site worker of one site's registered data stream for a federated result: reads only
    that datasource's ranges, sends only weights. Issues its credential: ``federated_site``,
    which reads the result's job and datasources and reports nothing."""
    return _training_workload(
        result,
        name=federated_site_workload_name(datasource.pk),
        command=[
            "model_training.federated.site",
            "--result-id",
            str(result.pk),
            "--datasource-id",
            str(datasource.pk),
        ],
        labels={"kafkaml/datasource": str(datasource.pk)},
        kind=CredentialKind.FEDERATED_SITE,
    )


def inference_spec(inference) -> WorkloadSpec:
    """The workload of an inference. Issues its credential."""
    name = inference_workload_name(inference.pk)
    return WorkloadSpec(
        name=name,
        component="inference",
        command=[_python(), "-m", "model_inference", "--inference-id", str(inference.pk)],
        env=worker_env(),
        secret_env=worker_secrets(
            kind=CredentialKind.INFERENCE,
            workload_name=name,
            subject_id=inference.pk,
            owner=inference.owner,
            kafka_grants=principals.inference_grants(inference),
        ),
        replicas=inference.replicas,
        resources=Resources(gpus=inference.gpus),
        labels={"kafkaml/inference": str(inference.pk), "kafkaml/result": str(inference.result_id)},
        framework=inference.result.model.framework,
    )


def workload_launch(spec: WorkloadSpec) -> None:
    get_launcher().launch(spec)


def workload_stop(name: str) -> None:
    if name:
        get_launcher().stop(name)


def workload_credentials_revoke(name: str) -> int:
    """The workload ended (or will in a moment): its credentials stop working, the API key now
    and its Kafka principal once the transaction commits (no Kafka call holds a database lock;
    a refused Kafka deletion is retried by the reconciler)."""
    revoked = credentials_revoke(workload_name=name)
    if name:
        transaction.on_commit(lambda: principals.workload_principal_remove(name))
    return revoked


def gpu_quota_check(*, requested: int, in_use: int) -> None:
    """Refuse a launch that would take a user past ``KAFKAML_MAX_GPUS_PER_USER`` (unset: no
    cap). The caller counts what the user's running workloads hold."""
    cap = settings.KAFKAML_MAX_GPUS_PER_USER
    if cap is None or requested <= 0:
        return
    if in_use + requested > cap:
        left = max(0, cap - in_use)
        raise ConflictError(
            f"This needs {requested} GPU(s) but you have {left} of your {cap} left "
            f"({in_use} in use by your running workloads).",
            errors={"gpus": [f"At most {left} more GPU(s)."]},
        )


def workload_scale(name: str, replicas: int) -> None:
    get_launcher().scale(name, replicas)


def workload_logs(name: str, tail: int = 100) -> str:
    if not name:
        return ""
    try:
        return get_launcher().logs(name, tail=tail)
    except (LauncherError, OSError) as exc:
        return f"(logs unavailable: {exc})"


def heartbeat_record(component: str, detail: dict | None = None) -> None:
    Heartbeat.objects.update_or_create(
        component=component, defaults={"last_seen": timezone.now(), "detail": detail or {}}
    )


def reconcile_workloads() -> int:
    """Mark results and inferences whose workload ended without telling us. Returns changes."""
    from kafkaml.inference.services import inference_reconcile
    from kafkaml.training.services import result_reconcile

    changed = result_reconcile() + inference_reconcile()
    credentials_revoke_ended(get_launcher().status)
    principals.workload_principals_sweep()
    return changed


def local_workloads_stop_all() -> int:
    """Stop every workload the local launcher runs (when the platform itself stops)."""
    from .launchers.local import LocalLauncher, workloads_dir

    launcher = get_launcher()
    if not isinstance(launcher, LocalLauncher) or not workloads_dir().exists():
        return 0
    stopped = 0
    for workdir in workloads_dir().iterdir():
        if launcher.status(workdir.name).state in ("running", "pending"):
            launcher.stop(workdir.name)
            stopped += 1
    return stopped
