"""KubernetesLauncher: training results as ``batch/v1`` Jobs, inferences as ``apps/v1`` Deployments.

Selected with ``KAFKAML_LAUNCHER=kubernetes``. Configured only by environment variables (no
Django import here, so it can be used and tested without the database):

=================================  ==============================================================
``KAFKAML_K8S_NAMESPACE``          namespace of the workloads (default: the pod's own namespace
                                   in-cluster, else ``kafkaml``)
``KAFKAML_K8S_API_HOST``           API server URL; with ``KAFKAML_K8S_API_TOKEN_FILE`` (a bearer
                                   token file) and ``KAFKAML_K8S_CA_FILE`` (CA bundle; unset:
                                   system CAs). Without it: ``KUBECONFIG``, else in-cluster config
``KAFKAML_K8S_VERIFY_SSL``         ``false`` turns TLS verification off (default ``true``)
``KAFKAML_IMAGE_PREFIX``           registry prefix of the images, e.g. ``ghcr.io/acme/`` (default
                                   empty); images are ``{prefix}kafkaml-{component}:{tag}``
``KAFKAML_IMAGE_TAG``              image tag (default ``latest``)
``KAFKAML_K8S_IMAGE_PULL_POLICY``  ``IfNotPresent`` (default), ``Always`` or ``Never``
``KAFKAML_K8S_IMAGE_PULL_SECRET``  name of an image pull Secret (optional)
``KAFKAML_K8S_{TRAINING,INFERENCE}_{CPU,MEMORY}_{REQUEST,LIMIT}``
                                   CPU/memory requests and limits of worker pods (defaults in
                                   :data:`DEFAULT_POD_RESOURCES`; a spec's own cpu/memory wins)
``KAFKAML_K8S_GPU_RUNTIME_CLASS``  runtimeClassName for pods that ask for GPUs (e.g. ``nvidia``)
``KAFKAML_K8S_TTL_SECONDS``        ``ttlSecondsAfterFinished`` of training Jobs (default 3600)
``KAFKAML_K8S_BACKOFF_LIMIT``      ``backoffLimit`` of training Jobs (default 1)
``KAFKAML_K8S_METRICS_PORT``       Prometheus port of worker pods (default 0: off); set, each pod
                                   gets ``KAFKAML_METRICS_PORT``, a ``metrics`` container port and
                                   the ``prometheus.io/scrape|port|path`` annotations
=================================  ==============================================================

Secrets: each workload gets its own Secret (``<name>-credentials``, :func:`build_secret`) holding
its ``WorkloadSpec.secret_env`` (its own API credential), created just before the Job/Deployment
and then owned by it, so Kubernetes deletes it with the workload (also after a Job's TTL);
``stop`` deletes it too. The Job/Deployment never holds a value: the container reads each
variable with ``valueFrom.secretKeyRef`` under the key derived from its name
(:func:`secret_key_for`: ``KAFKAML_API_TOKEN`` -> ``api-token``, ``FOO_BAR`` -> ``foo-bar``).

The object-building functions (:func:`build_job`, :func:`build_deployment`, ...) are pure
(spec + settings -> client model objects) and :func:`status_from_objects` maps API objects to a
:class:`WorkloadStatus`, so both are testable without an API server. :data:`RBAC_RULES` lists every
(API group, resource, verb) the launcher calls; ``k8s/base/rbac.yaml`` grants exactly those.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .base import (
    Launcher,
    LauncherError,
    WorkloadSpec,
    WorkloadStatus,
    register_launcher,
)

# Every API call the launcher makes, as (api group, resource, verb). The Role in k8s/base grants
# exactly these; the tests check both that the launcher stays inside them and that each is used.
RBAC_RULES: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("batch", "jobs", "create"),
        ("batch", "jobs", "get"),
        ("batch", "jobs", "delete"),
        ("apps", "deployments", "create"),
        ("apps", "deployments", "get"),
        ("apps", "deployments", "delete"),
        ("apps", "deployments/scale", "patch"),
        ("", "pods", "list"),
        ("", "pods/log", "get"),
        # each workload's own credential Secret: created, handed to its Job/Deployment
        # (ownerReferences patch), deleted on stop. Never read back.
        ("", "secrets", "create"),
        ("", "secrets", "patch"),
        ("", "secrets", "delete"),
    }
)

WORKLOAD_LABEL = "kafkaml.io/workload"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kafkaml-launcher"
CONTAINER_NAME = "worker"
GPU_RESOURCE = "nvidia.com/gpu"
MAX_NAME_LENGTH = 52  # leaves room for the suffixes Kubernetes appends to pod names

# Container waiting reasons that will not go away without someone changing something.
FATAL_WAITING_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "CrashLoopBackOff",
    }
)
IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)


@dataclass(frozen=True)
class PodResources:
    """Requests and limits of one worker container (Kubernetes quantities)."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


# Every worker pod gets requests (so the scheduler places it honestly) and limits (so one
# user's workload cannot starve the node). Override per component with the settings above.
DEFAULT_POD_RESOURCES = {
    "training": PodResources("500m", "2", "1Gi", "4Gi"),
    "inference": PodResources("250m", "1", "512Mi", "2Gi"),
}


@dataclass(frozen=True)
class KubernetesSettings:
    namespace: str = "kafkaml"
    image_prefix: str = ""
    image_tag: str = "latest"
    image_pull_policy: str = "IfNotPresent"
    image_pull_secret: str | None = None
    gpu_runtime_class: str | None = None
    ttl_seconds: int = 3600
    backoff_limit: int = 1
    extra_labels: dict[str, str] = field(default_factory=dict)
    metrics_port: int = 0  # Prometheus /metrics of worker pods (0: off)
    pod_resources: dict[str, PodResources] = field(
        default_factory=lambda: dict(DEFAULT_POD_RESOURCES)
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> KubernetesSettings:
        env = os.environ if environ is None else environ
        namespace = env.get("KAFKAML_K8S_NAMESPACE") or _incluster_namespace() or "kafkaml"
        return cls(
            namespace=namespace,
            image_prefix=env.get("KAFKAML_IMAGE_PREFIX", ""),
            image_tag=env.get("KAFKAML_IMAGE_TAG") or "latest",
            image_pull_policy=env.get("KAFKAML_K8S_IMAGE_PULL_POLICY") or "IfNotPresent",
            image_pull_secret=env.get("KAFKAML_K8S_IMAGE_PULL_SECRET") or None,
            gpu_runtime_class=env.get("KAFKAML_K8S_GPU_RUNTIME_CLASS") or None,
            ttl_seconds=_int_env(env, "KAFKAML_K8S_TTL_SECONDS", 3600),
            backoff_limit=_int_env(env, "KAFKAML_K8S_BACKOFF_LIMIT", 1),
            metrics_port=_int_env(env, "KAFKAML_K8S_METRICS_PORT", 0),
            pod_resources={
                component: _resources_env(env, component, default)
                for component, default in DEFAULT_POD_RESOURCES.items()
            },
        )


def _resources_env(env, component: str, default: PodResources) -> PodResources:
    prefix = f"KAFKAML_K8S_{component.upper()}_"
    return PodResources(
        **{
            name: env.get(prefix + name.upper()) or getattr(default, name)
            for name in ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
        }
    )


def _int_env(env, key: str, default: int) -> int:
    raw = env.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LauncherError(f"{key} must be an integer, got {raw!r}") from None
    if value < 0:
        raise LauncherError(f"{key} must be >= 0, got {value}")
    return value


def _incluster_namespace() -> str | None:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# Pure builders
# ---------------------------------------------------------------------------------------------

_INVALID_NAME_CHARS = re.compile(r"[^a-z0-9-]+")
_INVALID_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def k8s_name(name: str) -> str:
    """A DNS-1123 label for ``name``: lowercase alphanumerics and '-', at most 52 characters.

    Deterministic (stop/status/logs find the object from the same name). When the name had to be
    changed, a short hash of the original is appended so that different names stay different.
    """
    clean = _INVALID_NAME_CHARS.sub("-", name.lower())
    clean = re.sub(r"-+", "-", clean).strip("-")
    if clean == name and len(clean) <= MAX_NAME_LENGTH:
        return clean
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    head = clean[: MAX_NAME_LENGTH - len(digest) - 1].strip("-")
    return f"{head}-{digest}" if head else f"w-{digest}"


def label_value(value: object) -> str:
    """A valid label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends."""
    text = _INVALID_LABEL_CHARS.sub("-", str(value))[:63]
    return text.strip("-_.")


def label_key(key: str) -> str:
    """A valid label key; a key without a valid prefix gets ``kafkaml.io/``."""
    prefix, _, name = key.rpartition("/")
    name = label_value(name) or "label"
    if prefix and len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix):
        return f"{prefix}/{name}"
    return f"kafkaml.io/{name}"


_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def secret_key_for(env_name: str) -> str:
    """The Secret key a secret variable is read from: ``KAFKAML_API_TOKEN`` -> ``api-token``."""
    name = env_name[len("KAFKAML_") :] if env_name.startswith("KAFKAML_") else env_name
    return name.lower().replace("_", "-")


def image_component(spec: WorkloadSpec) -> str:
    if spec.component == "training":
        framework = (spec.framework or "tensorflow").lower()
        if framework not in ("tensorflow", "pytorch"):
            raise LauncherError(f"no training image for framework {spec.framework!r}")
        return f"training-{framework}"
    if spec.component == "inference":
        return "inference"
    raise LauncherError(f"unknown workload component {spec.component!r}")


def image_for(component: str, settings: KubernetesSettings) -> str:
    return f"{settings.image_prefix}kafkaml-{component}:{settings.image_tag}"


def workload_labels(spec: WorkloadSpec, settings: KubernetesSettings) -> dict[str, str]:
    labels = {label_key(k): label_value(v) for k, v in spec.labels.items()}
    labels.update(settings.extra_labels)
    labels.update(
        {
            "app.kubernetes.io/name": "kafkaml",
            "app.kubernetes.io/part-of": "kafkaml",
            COMPONENT_LABEL: spec.component,
            MANAGED_BY_LABEL: MANAGED_BY,
            WORKLOAD_LABEL: k8s_name(spec.name),
        }
    )
    return labels


def secret_name_for(name: str) -> str:
    """The workload's own Secret (a DNS subdomain: the 52-character name leaves room)."""
    return f"{k8s_name(name)}-credentials"


def build_secret(spec: WorkloadSpec, settings: KubernetesSettings) -> k8s.V1Secret:
    """The workload's credentials, one key per ``secret_env`` variable."""
    return k8s.V1Secret(
        api_version="v1",
        kind="Secret",
        type="Opaque",
        metadata=k8s.V1ObjectMeta(
            name=secret_name_for(spec.name),
            namespace=settings.namespace,
            labels=workload_labels(spec, settings),
            annotations={"kafkaml.io/name": spec.name},
        ),
        string_data={secret_key_for(key): value for key, value in spec.secret_env.items()},
    )


def build_env(spec: WorkloadSpec, settings: KubernetesSettings) -> list[k8s.V1EnvVar]:
    env = [k8s.V1EnvVar(name=key, value=str(value)) for key, value in spec.env.items()]
    for key in spec.secret_env:  # the value is deliberately left out: it lives in the Secret
        env.append(
            k8s.V1EnvVar(
                name=key,
                value_from=k8s.V1EnvVarSource(
                    secret_key_ref=k8s.V1SecretKeySelector(
                        name=secret_name_for(spec.name), key=secret_key_for(key)
                    )
                ),
            )
        )
    return env


def build_resources(spec: WorkloadSpec, settings: KubernetesSettings) -> k8s.V1ResourceRequirements:
    """The component's default requests and limits; a spec's own cpu/memory sets both."""
    base = settings.pod_resources.get(spec.component) or DEFAULT_POD_RESOURCES["training"]
    res = spec.resources
    requests = {
        "cpu": str(res.cpu or base.cpu_request),
        "memory": str(res.memory or base.memory_request),
    }
    limits = {
        "cpu": str(res.cpu or base.cpu_limit),
        "memory": str(res.memory or base.memory_limit),
    }
    if res.gpus:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(int(res.gpus))
    return k8s.V1ResourceRequirements(requests=requests, limits=limits)


def build_pod_template(
    spec: WorkloadSpec, settings: KubernetesSettings, restart_policy: str
) -> k8s.V1PodTemplateSpec:
    if not spec.command:
        raise LauncherError(f"workload {spec.name!r} has an empty command")
    container = k8s.V1Container(
        name=CONTAINER_NAME,
        image=image_for(image_component(spec), settings),
        image_pull_policy=settings.image_pull_policy,
        command=list(spec.command),
        env=build_env(spec, settings) or None,
        resources=build_resources(spec, settings),
        security_context=k8s.V1SecurityContext(
            allow_privilege_escalation=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
        ),
    )
    gpu = spec.resources.gpus > 0
    pod_spec = k8s.V1PodSpec(
        containers=[container],
        restart_policy=restart_policy,
        automount_service_account_token=False,
        enable_service_links=False,
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        runtime_class_name=settings.gpu_runtime_class if gpu else None,
        tolerations=(
            [k8s.V1Toleration(key=GPU_RESOURCE, operator="Exists", effect="NoSchedule")]
            if gpu
            else None
        ),
        image_pull_secrets=(
            [k8s.V1LocalObjectReference(name=settings.image_pull_secret)]
            if settings.image_pull_secret
            else None
        ),
    )
    annotations = None
    port = settings.metrics_port
    if port:  # the worker serves /metrics (worker_common.prometheus); scrapers find it here
        container.env = [
            *(e for e in container.env or [] if e.name != METRICS_PORT_ENV),
            k8s.V1EnvVar(name=METRICS_PORT_ENV, value=str(port)),
        ]
        container.ports = [k8s.V1ContainerPort(name="metrics", container_port=port)]
        annotations = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
    return k8s.V1PodTemplateSpec(
        metadata=k8s.V1ObjectMeta(labels=workload_labels(spec, settings), annotations=annotations),
        spec=pod_spec,
    )


METRICS_PORT_ENV = "KAFKAML_METRICS_PORT"


def _workload_metadata(
    spec: WorkloadSpec, settings: KubernetesSettings, labels: dict[str, str]
) -> k8s.V1ObjectMeta:
    return k8s.V1ObjectMeta(
        name=k8s_name(spec.name),
        namespace=settings.namespace,
        labels=labels,
        annotations={"kafkaml.io/name": spec.name},
    )


def build_job(spec: WorkloadSpec, settings: KubernetesSettings) -> k8s.V1Job:
    """A training workload: one pod, retried ``backoff_limit`` times, deleted after the TTL."""
    labels = workload_labels(spec, settings)
    return k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=_workload_metadata(spec, settings, labels),
        spec=k8s.V1JobSpec(
            backoff_limit=settings.backoff_limit,
            ttl_seconds_after_finished=settings.ttl_seconds,
            completions=1,
            parallelism=1,
            template=build_pod_template(spec, settings, restart_policy="Never"),
        ),
    )


def build_deployment(spec: WorkloadSpec, settings: KubernetesSettings) -> k8s.V1Deployment:
    """An inference workload: ``replicas`` pods in one consumer group."""
    labels = workload_labels(spec, settings)
    return k8s.V1Deployment(
        api_version="apps/v1",
        kind="Deployment",
        metadata=_workload_metadata(spec, settings, labels),
        spec=k8s.V1DeploymentSpec(
            replicas=max(0, int(spec.replicas)),
            selector=k8s.V1LabelSelector(match_labels={WORKLOAD_LABEL: labels[WORKLOAD_LABEL]}),
            template=build_pod_template(spec, settings, restart_policy="Always"),
        ),
    )


def build_object(spec: WorkloadSpec, settings: KubernetesSettings) -> k8s.V1Job | k8s.V1Deployment:
    if spec.component == "training":
        return build_job(spec, settings)
    if spec.component == "inference":
        return build_deployment(spec, settings)
    raise LauncherError(f"unknown workload component {spec.component!r}")


# ---------------------------------------------------------------------------------------------
# Status mapping (pure)
# ---------------------------------------------------------------------------------------------


def _condition(obj, kind: str):
    for cond in (obj.status.conditions if obj.status else None) or []:
        if cond.type == kind and cond.status == "True":
            return cond
    return None


def _false_condition(obj, kind: str):
    for cond in (obj.status.conditions if obj.status else None) or []:
        if cond.type == kind and cond.status == "False":
            return cond
    return None


@dataclass
class _PodFindings:
    restarts: int = 0
    fatal: str = ""  # a reason that will not fix itself
    waiting: str = ""  # a transient waiting reason (ContainerCreating, ErrImagePull, ...)
    terminated: str = ""  # the last abnormal termination (OOMKilled, Error exit 1, ...)
    unschedulable: str = ""


def _describe_termination(term) -> str:
    reason = term.reason or "Terminated"
    text = f"{reason} (exit code {term.exit_code})"
    if term.message:
        text += f": {term.message.strip()}"
    return text


def _inspect_pods(pods: Iterable) -> _PodFindings:
    found = _PodFindings()
    for pod in pods:
        status = pod.status
        if status is None:
            continue
        for cond in status.conditions or []:
            if cond.type == "PodScheduled" and cond.status == "False" and cond.reason:
                found.unschedulable = f"{cond.reason}: {cond.message or ''}".strip(": ")
        for cs in (status.init_container_statuses or []) + (status.container_statuses or []):
            found.restarts += cs.restart_count or 0
            state = cs.state
            last = cs.last_state.terminated if cs.last_state else None
            current_term = state.terminated if state else None
            for term in (current_term, last):
                if term is not None and (term.reason == "OOMKilled" or (term.exit_code or 0) != 0):
                    if not found.terminated or term.reason == "OOMKilled":
                        found.terminated = _describe_termination(term)
            waiting = state.waiting if state else None
            if waiting is not None and waiting.reason:
                text = waiting.reason
                if waiting.message:
                    text += f": {waiting.message.strip()}"
                if waiting.reason in FATAL_WAITING_REASONS:
                    if waiting.reason == "CrashLoopBackOff" and last is not None:
                        text = f"CrashLoopBackOff after {_describe_termination(last)}"
                    found.fatal = found.fatal or text
                elif waiting.reason in IMAGE_PULL_REASONS or not found.waiting:
                    found.waiting = text
    return found


def status_from_objects(job=None, deployment=None, pods: Iterable = ()) -> WorkloadStatus:
    """Map a Job or a Deployment (client model objects) and its pods to a WorkloadStatus.

    Job: Complete -> succeeded; Failed -> failed (reason: the condition and the pods' last
    termination, e.g. OOMKilled); a pod stuck on an image pull back-off, a bad image name or a
    broken container config -> failed; active pods -> running (pending until a pod is ready).
    Deployment: 0 replicas -> stopped; ProgressDeadlineExceeded, ReplicaFailure or a pod that
    cannot start (image pull back-off, CrashLoopBackOff incl. after OOMKilled) -> failed; ready
    replicas -> running; otherwise pending. ``reason`` always says why.
    """
    pods = list(pods)
    found = _inspect_pods(pods)
    if job is not None:
        return _job_status(job, found)
    if deployment is not None:
        return _deployment_status(deployment, found)
    return WorkloadStatus(state="unknown", reason="no Job or Deployment with this name")


def _job_status(job, found: _PodFindings) -> WorkloadStatus:
    st = job.status or k8s.V1JobStatus()
    restarts = max(found.restarts, st.failed or 0)
    ready = st.ready or 0
    if _condition(job, "Complete") or _condition(job, "SuccessCriteriaMet"):
        return WorkloadStatus("succeeded", "Complete", 1, 0, restarts)
    failed = _condition(job, "Failed") or _condition(job, "FailureTarget")
    if failed is not None:
        reason = failed.reason or "Failed"
        if failed.message:
            reason += f": {failed.message}"
        if found.terminated:
            reason += f"; last pod: {found.terminated}"
        elif found.fatal:
            reason += f"; last pod: {found.fatal}"
        return WorkloadStatus("failed", reason, 1, 0, restarts)
    if _condition(job, "Suspended"):
        return WorkloadStatus("pending", "Suspended", 1, 0, restarts)
    if found.fatal:
        return WorkloadStatus("failed", found.fatal, 1, ready, restarts)
    if (st.active or 0) > 0 and ready > 0:
        reason = f"restarted after {found.terminated}" if found.terminated else "Running"
        return WorkloadStatus("running", reason, 1, ready, restarts)
    reason = (
        found.unschedulable
        or found.waiting
        or (f"retrying after {found.terminated}" if found.terminated else "Pending")
    )
    return WorkloadStatus("pending", reason, 1, ready, restarts)


def _deployment_status(dep, found: _PodFindings) -> WorkloadStatus:
    desired = dep.spec.replicas if dep.spec and dep.spec.replicas is not None else 1
    st = dep.status or k8s.V1DeploymentStatus()
    ready = st.ready_replicas or 0
    if desired == 0:
        return WorkloadStatus("stopped", "scaled to 0 replicas", 0, ready, found.restarts)
    replica_failure = _condition(dep, "ReplicaFailure")
    if replica_failure is not None:
        reason = f"{replica_failure.reason or 'ReplicaFailure'}: {replica_failure.message or ''}"
        return WorkloadStatus("failed", reason.rstrip(": "), desired, ready, found.restarts)
    if found.fatal:
        return WorkloadStatus("failed", found.fatal, desired, ready, found.restarts)
    progressing = _false_condition(dep, "Progressing")
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        reason = f"ProgressDeadlineExceeded: {progressing.message or ''}".rstrip(": ")
        return WorkloadStatus("failed", reason, desired, ready, found.restarts)
    if ready > 0:
        reason = f"{ready}/{desired} replicas ready"
        if found.terminated:
            reason += f"; restarted after {found.terminated}"
        return WorkloadStatus("running", reason, desired, ready, found.restarts)
    reason = (
        found.unschedulable
        or found.waiting
        or (f"restarting after {found.terminated}" if found.terminated else f"0/{desired} ready")
    )
    return WorkloadStatus("pending", reason, desired, ready, found.restarts)


# ---------------------------------------------------------------------------------------------
# The launcher
# ---------------------------------------------------------------------------------------------


def api_client_from_env(environ: dict[str, str] | None = None) -> k8s.ApiClient:
    """API host + token file, else ``KUBECONFIG``, else the in-cluster service account."""
    env = os.environ if environ is None else environ
    host = env.get("KAFKAML_K8S_API_HOST")
    if host:
        configuration = k8s.Configuration()
        configuration.host = host.rstrip("/")
        token_file = env.get("KAFKAML_K8S_API_TOKEN_FILE")
        if token_file:
            try:
                with open(token_file, encoding="utf-8") as fh:
                    token = fh.read().strip()
            except OSError as exc:
                raise LauncherError(f"cannot read KAFKAML_K8S_API_TOKEN_FILE: {exc}") from exc
            configuration.api_key = {"authorization": token}
            configuration.api_key_prefix = {"authorization": "Bearer"}
        ca_file = env.get("KAFKAML_K8S_CA_FILE")
        if ca_file:
            configuration.ssl_ca_cert = ca_file
        if env.get("KAFKAML_K8S_VERIFY_SSL", "true").lower() in ("0", "false", "no"):
            configuration.verify_ssl = False
        return k8s.ApiClient(configuration)
    try:
        if env.get("KUBECONFIG"):
            configuration = k8s.Configuration()
            k8s_config.load_kube_config(
                config_file=env["KUBECONFIG"], client_configuration=configuration
            )
        else:
            configuration = k8s.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
    except (ConfigException, OSError) as exc:
        raise LauncherError(
            "KubernetesLauncher has no cluster to talk to: set KAFKAML_K8S_API_HOST (+ "
            f"KAFKAML_K8S_API_TOKEN_FILE), KUBECONFIG, or run it inside a pod ({exc})"
        ) from exc
    return k8s.ApiClient(configuration)


def _api_error(action: str, name: str, exc: ApiException) -> LauncherError:
    detail = exc.reason or ""
    body = exc.body.decode() if isinstance(exc.body, bytes) else (exc.body or "")
    if body:
        import json

        try:
            detail = json.loads(body).get("message") or detail
        except (ValueError, AttributeError):
            detail = body[:300]
    return LauncherError(f"Kubernetes refused to {action} {name!r}: {exc.status} {detail}")


@register_launcher("kubernetes")
class KubernetesLauncher(Launcher):
    """Jobs for training, Deployments for inference, in one namespace."""

    def __init__(
        self,
        settings: KubernetesSettings | None = None,
        api_client: k8s.ApiClient | None = None,
    ) -> None:
        self.settings = settings or KubernetesSettings.from_env()
        self.api_client = api_client or api_client_from_env()
        self.batch = k8s.BatchV1Api(self.api_client)
        self.apps = k8s.AppsV1Api(self.api_client)
        self.core = k8s.CoreV1Api(self.api_client)

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    # -- Launcher interface -------------------------------------------------------------------

    def launch(self, spec: WorkloadSpec) -> None:
        """The Secret first (so no pod ever starts without its credential), then the
        Job/Deployment, then the Secret is handed to it (ownerReferences) so that it goes
        when the workload goes."""
        obj = build_object(spec, self.settings)
        secret = build_secret(spec, self.settings) if spec.secret_env else None
        if secret is not None:
            self._create_secret(secret)
        try:
            if isinstance(obj, k8s.V1Job):
                created = self.batch.create_namespaced_job(self.namespace, obj)
            else:
                created = self.apps.create_namespaced_deployment(self.namespace, obj)
        except ApiException as exc:
            if secret is not None:
                self._delete_secret(secret.metadata.name)
            if exc.status == 409:
                raise LauncherError(
                    f"a workload named {obj.metadata.name!r} already exists (stop it first; "
                    "a stopped one may take a few seconds to go away)"
                ) from exc
            raise _api_error("create", obj.metadata.name, exc) from exc
        if secret is not None:
            self._own_secret(secret.metadata.name, obj, created)

    def _create_secret(self, secret: k8s.V1Secret) -> None:
        name = secret.metadata.name
        try:
            self.core.create_namespaced_secret(self.namespace, secret)
        except ApiException as exc:
            if exc.status != 409:
                raise _api_error("create", name, exc) from exc
            # left over by a launch that failed half-way: its key is revoked, replace it
            self._delete_secret(name)
            try:
                self.core.create_namespaced_secret(self.namespace, secret)
            except ApiException as again:
                raise _api_error("create", name, again) from again

    def _own_secret(self, name: str, obj, created) -> None:
        owner = {
            "apiVersion": obj.api_version,
            "kind": obj.kind,
            "name": created.metadata.name,
            "uid": created.metadata.uid,
            "blockOwnerDeletion": False,
        }
        patch = [{"op": "add", "path": "/metadata/ownerReferences", "value": [owner]}]
        try:
            self.core.patch_namespaced_secret(name, self.namespace, patch)
        except ApiException as exc:
            raise _api_error("hand over", name, exc) from exc

    def _delete_secret(self, name: str) -> None:
        try:
            self.core.delete_namespaced_secret(name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise _api_error("delete", name, exc) from exc

    def stop(self, name: str) -> None:
        kname = k8s_name(name)
        options = k8s.V1DeleteOptions(propagation_policy="Foreground")
        for delete in (self.batch.delete_namespaced_job, self.apps.delete_namespaced_deployment):
            try:
                delete(kname, self.namespace, body=options)
            except ApiException as exc:
                if exc.status != 404:
                    raise _api_error("delete", kname, exc) from exc
        # the garbage collector would remove it with its owner; do not wait for it
        self._delete_secret(secret_name_for(name))

    def scale(self, name: str, replicas: int) -> None:
        if replicas < 0:
            raise LauncherError("replicas must be >= 0")
        kname = k8s_name(name)
        patch = [{"op": "replace", "path": "/spec/replicas", "value": int(replicas)}]
        try:
            self.apps.patch_namespaced_deployment_scale(kname, self.namespace, patch)
        except ApiException as exc:
            if exc.status == 404:
                raise LauncherError(
                    f"no inference Deployment named {kname!r} to scale (training Jobs do not scale)"
                ) from exc
            raise _api_error("scale", kname, exc) from exc

    def status(self, name: str) -> WorkloadStatus:
        kname = k8s_name(name)
        job = self._read(self.batch.read_namespaced_job, kname)
        deployment = (
            None if job is not None else self._read(self.apps.read_namespaced_deployment, kname)
        )
        if job is None and deployment is None:
            return WorkloadStatus("unknown", f"no Job or Deployment named {kname!r}")
        return status_from_objects(job=job, deployment=deployment, pods=self._pods(kname))

    def logs(self, name: str, tail: int = 200) -> str:
        kname = k8s_name(name)
        pods = sorted(
            self._pods(kname),
            key=lambda p: (str(p.metadata.creation_timestamp or ""), p.metadata.name),
        )
        if not pods:
            return ""
        chunks = []
        for pod in pods:
            try:
                text = self.core.read_namespaced_pod_log(
                    pod.metadata.name, self.namespace, container=CONTAINER_NAME, tail_lines=tail
                )
            except ApiException as exc:
                if exc.status in (400, 404):  # container not started yet, or pod gone
                    found = _inspect_pods([pod])
                    text = f"(no logs yet: {found.fatal or found.waiting or exc.reason})\n"
                else:
                    raise _api_error("read logs of", pod.metadata.name, exc) from exc
            if len(pods) > 1:
                chunks.append(f"==> {pod.metadata.name} <==\n")
            chunks.append(text if text.endswith("\n") or not text else text + "\n")
        return "".join(chunks)

    # -- helpers ------------------------------------------------------------------------------

    def _read(self, reader, kname: str):
        try:
            return reader(kname, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _api_error("read", kname, exc) from exc

    def _pods(self, kname: str) -> list:
        try:
            result = self.core.list_namespaced_pod(
                self.namespace, label_selector=f"{WORKLOAD_LABEL}={kname}"
            )
        except ApiException as exc:
            raise _api_error("list pods of", kname, exc) from exc
        return list(result.items or [])
