"""The Kubernetes setup: every kustomize overlay renders, every object is valid against the
Kubernetes schemas, references resolve, and the launcher's RBAC is exactly what it uses.

Needs ``kubectl`` (with its built-in kustomize): ``.ci/install-k8s-tools.sh`` installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kafkaml.workloads.launchers.kubernetes import MANAGED_BY, MANAGED_BY_LABEL, RBAC_RULES

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
K8S_VERSION = "1.30"  # the oldest Kubernetes the manifests promise to work on
COMPONENT_IMAGES = {
    "backend",
    "executor",
    "training-tensorflow",
    "training-pytorch",
    "inference",
    "control-logger",
}
NAMESPACE = "kafkaml"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}


def _kubectl() -> str | None:
    for candidate in (shutil.which("kubectl"), str(Path(sys.executable).parent / "kubectl")):
        if candidate and os.access(candidate, os.X_OK):
            ok = subprocess.run(
                [candidate, "kustomize", "--help"], capture_output=True, timeout=60, check=False
            )
            if ok.returncode == 0:
                return candidate
    return None


@pytest.fixture(scope="module")
def kubectl() -> str:
    path = _kubectl()
    if path is None:
        pytest.skip("kubectl with kustomize not found: run .ci/install-k8s-tools.sh")
    return path


_rendered: dict[str, list[dict]] = {}


def render(kubectl: str, overlay: str) -> list[dict]:
    if overlay not in _rendered:
        proc = subprocess.run(
            [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        _rendered[overlay] = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return _rendered[overlay]


def by_kind(objs: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def pod_specs(objs: list[dict]) -> dict[str, dict]:
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]["spec"]
        for o in objs
        if o["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet")
    }


def containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates(kubectl, overlay):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    objs = render(kubectl, overlay)
    assert objs
    errors = []
    for obj in objs:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except Exception as exc:  # collect them all, report together
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_is_consistent(kubectl, overlay):
    objs = render(kubectl, overlay)
    names = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert len(names) == len(objs), "duplicate objects"
    for obj in objs:
        if obj["kind"] not in CLUSTER_SCOPED:
            assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]["name"]

    configmaps = by_kind(objs, "ConfigMap")
    secrets = by_kind(objs, "Secret")
    # production creates its Secrets out of band; they must be documented
    external_secrets = {"kafkaml-secrets", "kafkaml-control-logger", "kafkaml-tls"}
    pvcs = set(by_kind(objs, "PersistentVolumeClaim"))
    accounts = set(by_kind(objs, "ServiceAccount"))
    services = by_kind(objs, "Service")
    templates = []
    for kind in ("Deployment", "StatefulSet"):
        for name, workload in by_kind(objs, kind).items():
            selector = workload["spec"]["selector"]["matchLabels"]
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), f"{kind}/{name} selector"
            templates.append(labels)
            spec = workload["spec"]["template"]["spec"]
            if "serviceAccountName" in spec:
                assert spec["serviceAccountName"] in accounts
            claim_templates = {
                t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])
            }
            for volume in spec.get("volumes", []):
                if "persistentVolumeClaim" in volume:
                    assert volume["persistentVolumeClaim"]["claimName"] in pvcs
            for c in containers(spec):
                mounts = {m["name"] for m in c.get("volumeMounts", [])}
                assert mounts <= {v["name"] for v in spec.get("volumes", [])} | claim_templates
                for source in c.get("envFrom", []):
                    assert source["configMapRef"]["name"] in configmaps
                for env in c.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if ref and ref["name"] in secrets:
                        data = secrets[ref["name"]].get("stringData", {})
                        assert ref["key"] in data, f"{ref} in {kind}/{name}"
                    elif ref:
                        assert ref["name"] in external_secrets, ref
    for name, svc in services.items():
        selector = svc["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in templates), f"Service {name}"
    for ingress in by_kind(objs, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] in services


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rbac_is_exactly_what_the_launcher_uses(kubectl, overlay):
    objs = render(kubectl, overlay)
    assert not by_kind(objs, "ClusterRole") and not by_kind(objs, "ClusterRoleBinding")
    roles = by_kind(objs, "Role")
    assert set(roles) == {"kafkaml-launcher"}
    granted = set()
    for rule in roles["kafkaml-launcher"]["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, "no resourceNames/nonResourceURLs"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb)
                    granted.add((group, resource, verb))
    assert granted == set(RBAC_RULES)

    (binding,) = by_kind(objs, "RoleBinding").values()
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "kafkaml-launcher",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kafkaml-launcher", "namespace": NAMESPACE}
    ]
    # only the pods that launch workloads carry the launcher's token
    users = {
        name
        for name, spec in pod_specs(objs).items()
        if spec.get("serviceAccountName") == "kafkaml-launcher"
    }
    assert users == {"Deployment/kafkaml-backend", "Deployment/kafkaml-celery-worker"}
    for name, spec in pod_specs(objs).items():
        if name not in users:
            assert spec.get("automountServiceAccountToken") is False, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_pods_reach_only_the_backend_kafka_and_dns(kubectl, overlay):
    objs = render(kubectl, overlay)
    policies = [
        p
        for p in by_kind(objs, "NetworkPolicy").values()
        if p["spec"]["podSelector"] == {"matchLabels": {MANAGED_BY_LABEL: MANAGED_BY}}
    ]
    (policy,) = policies
    spec = policy["spec"]
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    assert not spec.get("ingress"), "nothing may connect to a worker pod"
    backend = by_kind(objs, "Deployment")["kafkaml-backend"]["spec"]["template"]
    backend_port = backend["spec"]["containers"][0]["ports"][0]["containerPort"]
    allowed = set()
    for rule in spec["egress"]:
        assert rule.get("to"), "an egress rule without `to` allows every destination"
        assert rule.get("ports"), "an egress rule without ports allows every port"
        for peer in rule["to"]:
            assert "ipBlock" not in peer or peer["ipBlock"]["cidr"] != "0.0.0.0/0"
        for port in rule["ports"]:
            allowed.add((port.get("protocol", "TCP"), port["port"]))
    assert allowed == {("TCP", backend_port), ("TCP", 9092), ("UDP", 53), ("TCP", 53)}
    (to_backend,) = [r for r in spec["egress"] if r["ports"][0]["port"] == backend_port]
    selector = to_backend["to"][0]["podSelector"]["matchLabels"]
    assert selector.items() <= backend["metadata"]["labels"].items()
    if overlay == "local":
        kafka = by_kind(objs, "StatefulSet")["kafka"]["spec"]["template"]["metadata"]["labels"]
        (to_kafka,) = [r for r in spec["egress"] if r["ports"][0]["port"] == 9092]
        assert to_kafka["to"][0]["podSelector"]["matchLabels"].items() <= kafka.items()


def test_launcher_secrets_rights_are_create_patch_delete_only():
    granted = {verb for group, resource, verb in RBAC_RULES if resource == "secrets"}
    assert granted == {"create", "patch", "delete"}  # never get/list: keys are not read back


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_in_plain_env(kubectl, overlay):
    for name, spec in pod_specs(render(kubectl, overlay)).items():
        for c in containers(spec):
            for env in c.get("env", []):
                if any(word in env["name"] for word in ("TOKEN", "PASSWORD", "SECRET", "DATABASE")):
                    assert "value" not in env, f"{name}: {env['name']} must come from a Secret"
    for cm in by_kind(render(kubectl, overlay), "ConfigMap").values():
        for key in cm.get("data", {}):
            assert not any(w in key for w in ("TOKEN", "PASSWORD", "SECRET_KEY")), key


def test_local_overlay_runs_kafka_in_kraft_mode_on_a_volume(kubectl):
    objs = render(kubectl, "local")
    kafka = by_kind(objs, "StatefulSet")["kafka"]
    assert kafka["spec"]["replicas"] == 1
    (container,) = kafka["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in " ".join(env)
    assert kafka["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] in {
        m["name"] for m in container["volumeMounts"]
    }
    assert kafka["spec"]["template"]["spec"]["enableServiceLinks"] is False
    assert by_kind(objs, "ConfigMap")["kafkaml-config"]["data"]["KAFKA_BOOTSTRAP_SERVERS"] == (
        "kafka:9092"
    )
    assert "postgres" in by_kind(objs, "StatefulSet")
    assert set(by_kind(objs, "Secret")) == {"kafkaml-secrets", "kafkaml-control-logger"}


@pytest.mark.parametrize("overlay", ["production", "production-gpu"])
def test_production_uses_external_services_and_limits(kubectl, overlay):
    objs = render(kubectl, overlay)
    assert "kafka" not in by_kind(objs, "StatefulSet")
    assert "postgres" not in by_kind(objs, "StatefulSet")
    assert not by_kind(objs, "Secret"), "production Secrets are created out of band"
    config = by_kind(objs, "ConfigMap")["kafkaml-config"]["data"]
    assert config["KAFKA_BOOTSTRAP_SERVERS"] != "kafka:9092"
    deployments = by_kind(objs, "Deployment")
    for name in ("kafkaml-backend", "kafkaml-celery-worker", "kafkaml-executor"):
        assert deployments[name]["spec"]["replicas"] >= 2, name
    assert deployments["kafkaml-celery-beat"]["spec"]["replicas"] == 1
    for name, spec in pod_specs(objs).items():
        for c in spec["containers"]:
            limits = c.get("resources", {}).get("limits", {})
            assert {"cpu", "memory"} <= set(limits), f"{name}/{c['name']} limits"
    pvc = by_kind(objs, "PersistentVolumeClaim")["kafkaml-data"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    images = {c["image"] for spec in pod_specs(objs).values() for c in containers(spec)}
    prefix = config["KAFKAML_IMAGE_PREFIX"]
    assert all(i.startswith(prefix) for i in images if "kafkaml-" in i), images
    if overlay == "production-gpu":
        assert config["KAFKAML_K8S_GPU_RUNTIME_CLASS"] == "nvidia"
    else:
        assert config["KAFKAML_K8S_GPU_RUNTIME_CLASS"] == ""


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_artifacts_live_on_a_volume(kubectl, overlay):
    objs = render(kubectl, overlay)
    config = by_kind(objs, "ConfigMap")["kafkaml-config"]["data"]
    for name in ("kafkaml-backend", "kafkaml-celery-worker"):
        spec = by_kind(objs, "Deployment")[name]["spec"]["template"]["spec"]
        mounts = {m["mountPath"]: m["name"] for c in spec["containers"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        volume = volumes[mounts[config["KAFKAML_DATA_DIR"]]]
        assert volume["persistentVolumeClaim"]["claimName"] == "kafkaml-data"


def test_every_platform_image_has_a_dockerfile(kubectl):
    dockerfiles = {
        p.name.removeprefix("Dockerfile.") for p in (ROOT / "docker").glob("Dockerfile.*")
    }
    assert dockerfiles == COMPONENT_IMAGES
    for overlay in OVERLAYS:
        for spec in pod_specs(render(kubectl, overlay)).values():
            for c in containers(spec):
                image = c["image"].rsplit("/", 1)[-1].split(":")[0]
                if image.startswith("kafkaml-"):
                    assert image.removeprefix("kafkaml-") in COMPONENT_IMAGES


# ---------------------------------------------------------------------------------------------
# build.sh (runs without a Docker engine: it must say so and fail)
# ---------------------------------------------------------------------------------------------


def _build(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        ["bash", str(ROOT / "build.sh"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_build_sh_dry_run_lists_every_image():
    proc = _build("--dry-run", "--prefix", "reg.example/ml/", "--tag", "9.9")
    assert proc.returncode == 0, proc.stderr
    for component in COMPONENT_IMAGES:
        assert f"reg.example/ml/kafkaml-{component}:9.9" in proc.stdout
        assert f"docker/Dockerfile.{component}" in proc.stdout
    assert "push" not in proc.stdout
    pushed = _build("--dry-run", "--push", "--tag", "1")
    assert pushed.stdout.count("docker push") == len(COMPONENT_IMAGES)


def test_build_sh_without_a_docker_engine_fails_clearly(tmp_path):
    proc = _build(env_extra={"DOCKER": str(tmp_path / "no-docker-here")})
    assert proc.returncode != 0
    assert "Docker engine" in proc.stderr
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    proc = _build(env_extra={"DOCKER": str(fake)})
    assert proc.returncode != 0
    assert "Docker engine" in proc.stderr


def test_build_sh_rejects_unknown_options():
    proc = _build("--frobnicate")
    assert proc.returncode == 2 and "usage" in proc.stderr.lower()


# --- the optional monitoring component (k8s/monitoring: Prometheus Operator + Grafana) -------

MONITORING_CRDS = {"ServiceMonitor", "PodMonitor"}
# every series the workers and the backend export (docs/inference.md, docs/training.md)
DOCUMENTED_SERIES = {
    "kafkaml_inference_records_in_total",
    "kafkaml_inference_records_out_total",
    "kafkaml_inference_upper_records_total",
    "kafkaml_inference_errors_total",
    "kafkaml_inference_model_swaps_total",
    "kafkaml_inference_consumer_lag",
    "kafkaml_inference_model_version_info",
    "kafkaml_inference_batch_size",
    "kafkaml_inference_latency_seconds",
    "kafkaml_training_epochs_total",
    "kafkaml_training_epoch",
    "kafkaml_training_metric",
    "kafkaml_training_status",
    "kafkaml_training_artifacts_total",
    "kafkaml_http_requests_total",
    "kafkaml_http_request_duration_seconds",
    "kafkaml_inferences",
    "kafkaml_inference_replicas",
    "kafkaml_training_results",
    "kafkaml_predict_rows_total",
    "kafkaml_predict_duration_seconds",
}


def render_with_monitoring(kubectl: str, tmp_path: Path, overlay: str = "local") -> list[dict]:
    """An overlay plus the component, the way docs/inference.md says to add it."""
    rel = os.path.relpath(K8S, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {NAMESPACE}\nresources:\n  - {rel}/overlays/{overlay}\n"
        f"components:\n  - {rel}/monitoring\n"
    )
    proc = subprocess.run(
        [kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def test_monitoring_component_scrapes_the_backend_and_every_worker(kubectl, tmp_path):
    import json
    import re

    from kafkaml.workloads.launchers.kubernetes import (
        KubernetesSettings,
        WorkloadSpec,
        build_deployment,
    )

    objs = render_with_monitoring(kubectl, tmp_path)
    assert {o["kind"] for o in objs} >= MONITORING_CRDS
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for obj in objs:
        assert obj["metadata"].get("namespace", NAMESPACE) == NAMESPACE
        if obj["kind"] not in MONITORING_CRDS:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)

    # the backend: the ServiceMonitor selects its Service, by a named port, with the token
    (monitor,) = by_kind(objs, "ServiceMonitor").values()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    service = by_kind(objs, "Service")["kafkaml-backend"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    secret = endpoint["authorization"]["credentials"]
    backend = by_kind(objs, "Deployment")["kafkaml-backend"]["spec"]["template"]["spec"]
    (container,) = [c for c in backend["containers"] if c["name"] == "backend"]
    env = {e["name"]: e for e in container["env"]}
    assert env["KAFKAML_METRICS_TOKEN"]["valueFrom"]["secretKeyRef"] == secret

    # the workers: the launcher (configured by the ConfigMap) opens the port the PodMonitor reads
    (pods,) = by_kind(objs, "PodMonitor").values()
    assert pods["spec"]["selector"] == {"matchLabels": {MANAGED_BY_LABEL: MANAGED_BY}}
    (pod_endpoint,) = pods["spec"]["podMetricsEndpoints"]
    config = by_kind(objs, "ConfigMap")["kafkaml-config"]["data"]
    settings = KubernetesSettings.from_env({**config, "KAFKAML_K8S_NAMESPACE": NAMESPACE})
    assert settings.metrics_port == 9102
    spec = WorkloadSpec(name="inference-1", component="inference", command=["python"])
    template = build_deployment(spec, settings).spec.template
    (port,) = template.spec.containers[0].ports
    assert port.name == pod_endpoint["port"] and port.container_port == 9102
    assert template.metadata.annotations["prometheus.io/port"] == "9102"

    # nothing but the monitoring namespace reaches that port; the base policy is unchanged
    policies = by_kind(objs, "NetworkPolicy")
    assert policies["kafkaml-workers"]["spec"]["ingress"] == []
    metrics_policy = policies["kafkaml-workers-metrics"]["spec"]
    assert metrics_policy["policyTypes"] == ["Ingress"]
    (rule,) = metrics_policy["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9102}]
    (peer,) = rule["from"]
    assert peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }

    # the Grafana dashboard: shipped for the sidecar, every query on a documented series
    dashboard_map = by_kind(objs, "ConfigMap")["kafkaml-grafana-dashboard"]
    assert dashboard_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(dashboard_map["data"]["kafkaml.json"])
    assert dashboard == json.loads((K8S / "monitoring" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    used = {
        re.sub(r"_(bucket|sum|count)$", "", m) for e in exprs for m in re.findall(r"kafkaml_\w+", e)
    }
    assert used <= DOCUMENTED_SERIES, used - DOCUMENTED_SERIES
    assert {"kafkaml_inference_latency_seconds", "kafkaml_training_metric"} <= used


def test_base_overlays_leave_monitoring_crds_out(kubectl):
    for overlay in OVERLAYS:
        assert not {o["kind"] for o in render(kubectl, overlay)} & MONITORING_CRDS
