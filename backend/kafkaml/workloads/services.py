"""Turn training results and inferences into workloads, and keep their statuses in step with
what the launcher reports."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.utils import timezone

from kafkaml.accounts.services import service_token_ensure

from .launchers import LauncherError, WorkloadSpec, get_launcher
from .launchers.base import Resources
from .models import Heartbeat

log = logging.getLogger(__name__)


def _python() -> str:
    """The interpreter of worker commands: this one for local processes, the image's
    ``python`` for containers."""
    if settings.KAFKAML_WORKERS_PYTHON:
        return settings.KAFKAML_WORKERS_PYTHON
    return "python" if settings.KAFKAML_LAUNCHER == "kubernetes" else sys.executable


def worker_env() -> tuple[dict[str, str], dict[str, str]]:
    """Plain settings and secrets every worker gets."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.KAFKA_BOOTSTRAP_SERVERS,
        "KAFKAML_BACKEND_URL": settings.KAFKAML_BACKEND_URL,
        "KAFKAML_CONTROL_TOPIC": settings.KAFKAML_CONTROL_TOPIC,
        "PYTHONUNBUFFERED": "1",
    }
    return env, {"KAFKAML_API_TOKEN": service_token_ensure()}


def training_workload_name(result_id: int) -> str:
    return f"training-result-{result_id}"


def inference_workload_name(inference_id: int) -> str:
    return f"inference-{inference_id}"


def training_spec(result) -> WorkloadSpec:
    env, secrets = worker_env()
    return WorkloadSpec(
        name=training_workload_name(result.pk),
        component="training",
        command=[_python(), "-m", "model_training", "--result-id", str(result.pk)],
        env=env,
        secret_env=secrets,
        replicas=1,
        resources=Resources(gpus=result.deployment.gpus),
        labels={"kafkaml/result": str(result.pk), "kafkaml/deployment": str(result.deployment_id)},
        framework=result.model.framework,
    )


def inference_spec(inference) -> WorkloadSpec:
    env, secrets = worker_env()
    return WorkloadSpec(
        name=inference_workload_name(inference.pk),
        component="inference",
        command=[_python(), "-m", "model_inference", "--inference-id", str(inference.pk)],
        env=env,
        secret_env=secrets,
        replicas=inference.replicas,
        labels={"kafkaml/inference": str(inference.pk), "kafkaml/result": str(inference.result_id)},
        framework=inference.result.model.framework,
    )


def workload_launch(spec: WorkloadSpec) -> None:
    get_launcher().launch(spec)


def workload_stop(name: str) -> None:
    if name:
        get_launcher().stop(name)


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

    return result_reconcile() + inference_reconcile()


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
