"""KubernetesLauncher through the real ``kubernetes`` client against a small fake API server.

The fake (``FakeKubernetesAPI``) implements only the endpoints the launcher uses, stores what it
is sent, and records every request, so the tests assert the exact objects the launcher sent and
which (group, resource, verb) it needed (checked against ``RBAC_RULES``, which the Role in
``k8s/base`` must equal: see ``tests/test_k8s_manifests.py``).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from kafkaml.workloads.launchers.base import (
    LauncherError,
    Resources,
    WorkloadSpec,
    launcher_class,
)
from kafkaml.workloads.launchers.kubernetes import (
    RBAC_RULES,
    WORKLOAD_LABEL,
    KubernetesLauncher,
    KubernetesSettings,
    build_deployment,
    build_job,
    k8s_name,
    label_key,
    label_value,
    secret_key_for,
)

TOKEN = "test-cluster-token"  # the launcher's own API token (file), not the worker's
WORKER_SECRET = "worker-s3cr3t-value"
NS = "kafkaml-test"

_NS = r"namespaces/(?P<ns>[^/]+)"
_NAME = r"(?P<name>[^/]+)"
_JOBS = rf"/apis/batch/v1/{_NS}/jobs"
_DEPLOYMENTS = rf"/apis/apps/v1/{_NS}/deployments"
_PODS = rf"/api/v1/{_NS}/pods"
_SECRETS = rf"/api/v1/{_NS}/secrets"
_ROUTES = [
    # (method, path regex, api group, resource, verb, handler)
    ("POST", _JOBS, "batch", "jobs", "create", "create"),
    ("GET", rf"{_JOBS}/{_NAME}", "batch", "jobs", "get", "get"),
    ("DELETE", rf"{_JOBS}/{_NAME}", "batch", "jobs", "delete", "delete"),
    ("POST", _DEPLOYMENTS, "apps", "deployments", "create", "create"),
    ("GET", rf"{_DEPLOYMENTS}/{_NAME}", "apps", "deployments", "get", "get"),
    ("DELETE", rf"{_DEPLOYMENTS}/{_NAME}", "apps", "deployments", "delete", "delete"),
    ("PATCH", rf"{_DEPLOYMENTS}/{_NAME}/scale", "apps", "deployments/scale", "patch", "scale"),
    ("GET", _PODS, "", "pods", "list", "list_pods"),
    ("GET", rf"{_PODS}/{_NAME}/log", "", "pods/log", "get", "pod_log"),
    ("POST", _SECRETS, "", "secrets", "create", "create"),
    ("PATCH", rf"{_SECRETS}/{_NAME}", "", "secrets", "patch", "patch_secret"),
    ("DELETE", rf"{_SECRETS}/{_NAME}", "", "secrets", "delete", "delete"),
]


class FakeKubernetesAPI:
    """Jobs, Deployments (+ scale), pod list and pod logs, in memory."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict] = {}  # (resource, ns, name) -> object
        self.pods: dict[tuple[str, str], dict] = {}
        self.pod_logs: dict[str, str] = {}
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output quiet
                pass

            def do_GET(self):
                fake._dispatch(self)

            do_POST = do_DELETE = do_PATCH = do_PUT = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what tests use --------------------------------------------------------------------

    def used_rules(self) -> set[tuple[str, str, str]]:
        return {r["rule"] for r in self.requests if r["rule"]}

    def sent(self, method: str, resource: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["resource"] == resource]

    def add_pod(
        self, name: str, workload: str, status: dict, created: str = "2025-01-01T00:00:00Z"
    ):
        self.pods[(NS, name)] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": NS,
                "labels": {WORKLOAD_LABEL: workload},
                "creationTimestamp": created,
            },
            "spec": {"containers": [{"name": "worker", "image": "x"}]},
            "status": status,
        }

    def set_status(self, resource: str, name: str, status: dict) -> None:
        self.objects[(resource, NS, name)]["status"] = status

    # -- HTTP ------------------------------------------------------------------------------

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        record = {
            "method": h.command,
            "path": parts.path,
            "query": parse_qs(parts.query),
            "headers": {k.lower(): v for k, v in h.headers.items()},
            "raw": raw.decode(),
            "body": json.loads(raw) if raw else None,
            "rule": None,
            "resource": None,
        }
        with self.lock:
            self.requests.append(record)
            if h.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._reply(h, 401, _status(401, "Unauthorized"))
            for method, pattern, group, resource, verb, handler in _ROUTES:
                m = re.fullmatch(pattern, parts.path)
                if m and method == h.command:
                    record["rule"] = (group, resource, verb)
                    record["resource"] = resource
                    code, body = getattr(self, "_" + handler)(resource, record, **m.groupdict())
                    return self._reply(h, code, body)
            return self._reply(h, 404, _status(404, f"no route {h.command} {parts.path}"))

    def _reply(self, h, code: int, body) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        h.send_response(code)
        h.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _create(self, resource, record, ns):
        obj = copy.deepcopy(record["body"])
        name = obj["metadata"]["name"]
        if (resource, ns, name) in self.objects:
            return 409, _status(409, f'{resource} "{name}" already exists', "AlreadyExists")
        obj["metadata"].update(uid=f"uid-{name}", resourceVersion="1")
        obj.setdefault("status", {})
        self.objects[(resource, ns, name)] = obj
        return 201, obj

    def _get(self, resource, record, ns, name):
        obj = self.objects.get((resource, ns, name))
        if obj is None:
            return 404, _status(404, f'{resource} "{name}" not found', "NotFound")
        return 200, obj

    def _delete(self, resource, record, ns, name):
        obj = self.objects.pop((resource, ns, name), None)
        if obj is None:
            return 404, _status(404, f'{resource} "{name}" not found', "NotFound")
        return 200, obj

    def _patch_secret(self, resource, record, ns, name):
        obj = self.objects.get(("secrets", ns, name))
        if obj is None:
            return 404, _status(404, f'secrets "{name}" not found', "NotFound")
        assert record["headers"]["content-type"] == "application/json-patch+json"
        for op in record["body"]:
            assert op["op"] == "add" and op["path"] == "/metadata/ownerReferences"
            obj["metadata"]["ownerReferences"] = op["value"]
        return 200, obj

    def _scale(self, resource, record, ns, name):
        obj = self.objects.get(("deployments", ns, name))
        if obj is None:
            return 404, _status(404, f'deployments "{name}" not found', "NotFound")
        assert record["headers"]["content-type"] == "application/json-patch+json"
        for op in record["body"]:
            assert op["op"] == "replace" and op["path"] == "/spec/replicas"
            obj["spec"]["replicas"] = op["value"]
        return 200, {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": obj["spec"]["replicas"]},
            "status": {"replicas": obj["spec"]["replicas"]},
        }

    def _list_pods(self, resource, record, ns):
        selector = record["query"].get("labelSelector", [""])[0]
        wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
        items = [
            pod
            for (pod_ns, _), pod in sorted(self.pods.items())
            if pod_ns == ns
            and all(pod["metadata"]["labels"].get(k) == v for k, v in wanted.items())
        ]
        return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}

    def _pod_log(self, resource, record, ns, name):
        if (ns, name) not in self.pods:
            return 404, _status(404, f'pods "{name}" not found', "NotFound")
        if name not in self.pod_logs:
            return 400, _status(400, "container is waiting to start", "BadRequest")
        lines = self.pod_logs[name].splitlines(keepends=True)
        tail = record["query"].get("tailLines")
        if tail:
            lines = lines[-int(tail[0]) :]
        return 200, "".join(lines)


def _status(code: int, message: str, reason: str = "") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@pytest.fixture
def fake_api():
    fake = FakeKubernetesAPI()
    yield fake
    fake.close()


@pytest.fixture
def launcher(fake_api, tmp_path, monkeypatch):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    for key, value in {
        "KAFKAML_K8S_API_HOST": fake_api.url,
        "KAFKAML_K8S_API_TOKEN_FILE": str(token_file),
        "KAFKAML_K8S_NAMESPACE": NS,
        "KAFKAML_IMAGE_PREFIX": "registry.example.org/ml/",
        "KAFKAML_IMAGE_TAG": "1.2.3",
        "KAFKAML_K8S_INFERENCE_MEMORY_LIMIT": "3Gi",
        "KAFKAML_K8S_GPU_RUNTIME_CLASS": "nvidia",
        "KAFKAML_K8S_TTL_SECONDS": "600",
        "KAFKAML_K8S_BACKOFF_LIMIT": "2",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return launcher_class("kubernetes")()  # how the backend builds it: no arguments


def training_spec(name="result-7", **kw) -> WorkloadSpec:
    base = dict(
        name=name,
        component="training",
        command=["python", "-m", "model_training", "--result-id", "7"],
        env={"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "KAFKAML_BACKEND_URL": "http://backend:8000"},
        secret_env={"KAFKAML_API_TOKEN": WORKER_SECRET},
        resources=Resources(cpu="1", memory="2Gi", gpus=1),
        labels={"kafkaml.io/result": "7", "deployment": "3"},
        framework="pytorch",
    )
    base.update(kw)
    return WorkloadSpec(**base)


def inference_spec(name="inference-4", replicas=3, **kw) -> WorkloadSpec:
    base = dict(
        name=name,
        component="inference",
        command=["python", "-m", "model_inference", "--inference-id", "4"],
        env={"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"},
        secret_env={"KAFKAML_API_TOKEN": WORKER_SECRET},
        replicas=replicas,
        resources=Resources(cpu="500m", memory="1Gi"),
        labels={"kafkaml.io/inference": "4"},
    )
    base.update(kw)
    return WorkloadSpec(**base)


def _running(name="worker"):
    return {"name": name, "ready": True, "restartCount": 0, "image": "x", "imageID": "",
            "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# create
# ---------------------------------------------------------------------------------------------


def test_launch_training_creates_a_job(launcher, fake_api):
    launcher.launch(training_spec())

    (req,) = fake_api.sent("POST", "jobs")
    assert req["path"] == f"/apis/batch/v1/namespaces/{NS}/jobs"
    assert req["headers"]["authorization"] == f"Bearer {TOKEN}"
    job = req["body"]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"]["name"] == "result-7"
    assert job["metadata"]["namespace"] == NS
    labels = job["metadata"]["labels"]
    assert labels["kafkaml.io/result"] == "7"
    assert labels["kafkaml.io/deployment"] == "3"  # unprefixed keys get our prefix
    assert labels[WORKLOAD_LABEL] == "result-7"
    assert labels["app.kubernetes.io/component"] == "training"
    assert job["spec"]["backoffLimit"] == 2
    assert job["spec"]["ttlSecondsAfterFinished"] == 600
    pod = job["spec"]["template"]
    assert pod["metadata"]["labels"] == labels
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["runtimeClassName"] == "nvidia"
    assert pod["spec"]["automountServiceAccountToken"] is False
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "registry.example.org/ml/kafkaml-training-pytorch:1.2.3"
    assert container["command"] == ["python", "-m", "model_training", "--result-id", "7"]
    env = {e["name"]: e for e in container["env"]}
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == {
        "name": "KAFKA_BOOTSTRAP_SERVERS",
        "value": "kafka:9092",
    }
    assert env["KAFKAML_API_TOKEN"] == {
        "name": "KAFKAML_API_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "result-7-credentials", "key": "api-token"}},
    }
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "1"},
    }
    # the worker's credential travels only in its own Secret, never in the Job
    assert WORKER_SECRET not in req["raw"]
    assert [r["body"]["metadata"]["name"] for r in fake_api.sent("POST", "secrets")] == [
        "result-7-credentials"
    ]


def test_each_workload_gets_its_own_secret_owned_by_it(launcher, fake_api):
    launcher.launch(training_spec())
    launcher.launch(inference_spec(secret_env={"KAFKAML_API_TOKEN": "other-key"}))

    first, second = fake_api.sent("POST", "secrets")
    assert first["body"]["stringData"] == {"api-token": WORKER_SECRET}
    assert second["body"]["stringData"] == {"api-token": "other-key"}
    assert first["body"]["metadata"]["labels"][WORKLOAD_LABEL] == "result-7"
    # created before its workload (no pod starts without it), then owned by it
    order = [(r["method"], r["resource"]) for r in fake_api.requests[:3]]
    assert order == [("POST", "secrets"), ("POST", "jobs"), ("PATCH", "secrets")]
    secret = fake_api.objects[("secrets", NS, "result-7-credentials")]
    (owner,) = secret["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "result-7",
        "uid": "uid-result-7",
        "blockOwnerDeletion": False,
    }
    dep_secret = fake_api.objects[("secrets", NS, "inference-4-credentials")]
    assert dep_secret["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    dep = fake_api.objects[("deployments", NS, "inference-4")]
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    (token,) = [e for e in container["env"] if e["name"] == "KAFKAML_API_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"]["name"] == "inference-4-credentials"

    launcher.stop("result-7")
    assert ("secrets", NS, "result-7-credentials") not in fake_api.objects
    assert ("secrets", NS, "inference-4-credentials") in fake_api.objects


def test_a_refused_workload_leaves_no_secret(launcher, fake_api):
    launcher.launch(inference_spec())
    with pytest.raises(LauncherError, match="already exists"):
        launcher.launch(inference_spec(secret_env={"KAFKAML_API_TOKEN": "second-key"}))
    assert ("secrets", NS, "inference-4-credentials") not in fake_api.objects


def test_worker_pods_get_default_requests_and_limits(launcher, fake_api):
    launcher.launch(inference_spec(resources=Resources()))
    launcher.launch(training_spec(name="result-8", resources=Resources()))
    inference = fake_api.sent("POST", "deployments")[0]["body"]["spec"]["template"]["spec"]
    training = fake_api.sent("POST", "jobs")[0]["body"]["spec"]["template"]["spec"]
    assert inference["containers"][0]["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "3Gi"},  # KAFKAML_K8S_INFERENCE_MEMORY_LIMIT
    }
    assert training["containers"][0]["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }


def test_launch_inference_creates_a_deployment_with_replicas(launcher, fake_api):
    launcher.launch(inference_spec())

    (req,) = fake_api.sent("POST", "deployments")
    dep = req["body"]
    assert dep["apiVersion"] == "apps/v1" and dep["kind"] == "Deployment"
    assert dep["metadata"]["name"] == "inference-4"
    assert dep["spec"]["replicas"] == 3
    selector = dep["spec"]["selector"]["matchLabels"]
    assert selector == {WORKLOAD_LABEL: "inference-4"}
    pod = dep["spec"]["template"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert pod["metadata"]["labels"]["kafkaml.io/inference"] == "4"
    assert pod["spec"]["restartPolicy"] == "Always"
    assert "runtimeClassName" not in pod["spec"]  # no GPU asked
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "registry.example.org/ml/kafkaml-inference:1.2.3"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert WORKER_SECRET not in req["raw"]


def test_launch_twice_is_a_clear_error(launcher, fake_api):
    launcher.launch(inference_spec())
    with pytest.raises(LauncherError, match="already exists"):
        launcher.launch(inference_spec())


def test_names_are_sanitized_to_dns_1123(launcher, fake_api):
    launcher.launch(training_spec(name="Result_7 of Deployment #3"))
    job = fake_api.sent("POST", "jobs")[0]["body"]
    name = job["metadata"]["name"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 52
    assert name.startswith("result-7-of-deployment-3-")
    # the same original name finds the same object again
    assert launcher.status("Result_7 of Deployment #3").state == "pending"


# ---------------------------------------------------------------------------------------------
# scale / stop
# ---------------------------------------------------------------------------------------------


def test_scale_patches_replicas(launcher, fake_api):
    launcher.launch(inference_spec(replicas=1))
    launcher.scale("inference-4", 5)

    (req,) = fake_api.sent("PATCH", "deployments/scale")
    assert req["path"] == f"/apis/apps/v1/namespaces/{NS}/deployments/inference-4/scale"
    assert req["body"] == [{"op": "replace", "path": "/spec/replicas", "value": 5}]
    assert fake_api.objects[("deployments", NS, "inference-4")]["spec"]["replicas"] == 5

    launcher.scale("inference-4", 0)
    assert launcher.status("inference-4").state == "stopped"


def test_scale_unknown_or_training_is_an_error(launcher, fake_api):
    launcher.launch(training_spec())
    with pytest.raises(LauncherError, match="do not scale"):
        launcher.scale("result-7", 2)
    with pytest.raises(LauncherError):
        launcher.scale("inference-4", -1)


def test_stop_deletes_with_foreground_propagation(launcher, fake_api):
    launcher.launch(training_spec())
    launcher.launch(inference_spec())

    launcher.stop("result-7")
    launcher.stop("inference-4")
    launcher.stop("never-launched")  # not an error

    secrets_deleted = {r["path"].rsplit("/", 1)[1] for r in fake_api.sent("DELETE", "secrets")}
    assert secrets_deleted == {
        "result-7-credentials",
        "inference-4-credentials",
        "never-launched-credentials",
    }
    deletes = fake_api.sent("DELETE", "jobs") + fake_api.sent("DELETE", "deployments")
    assert {r["path"].rsplit("/", 1)[1] for r in deletes} == {
        "result-7",
        "inference-4",
        "never-launched",
    }
    for req in deletes:
        assert req["body"]["propagationPolicy"] == "Foreground"
    assert fake_api.objects == {}
    assert launcher.status("result-7").state == "unknown"


# ---------------------------------------------------------------------------------------------
# status mapping
# ---------------------------------------------------------------------------------------------


def test_status_job_succeeded(launcher, fake_api):
    launcher.launch(training_spec())
    assert launcher.status("result-7").state == "pending"
    fake_api.set_status(
        "jobs",
        "result-7",
        {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
    )
    st = launcher.status("result-7")
    assert (st.state, st.reason) == ("succeeded", "Complete")


def test_status_job_running(launcher, fake_api):
    launcher.launch(training_spec())
    fake_api.set_status("jobs", "result-7", {"active": 1, "ready": 1})
    fake_api.add_pod("result-7-abcde", "result-7", {"phase": "Running",
                     "containerStatuses": [_running()]})  # fmt: skip
    st = launcher.status("result-7")
    assert st.state == "running" and st.replicas_ready == 1


def test_status_job_failed_after_oom_kill(launcher, fake_api):
    launcher.launch(training_spec())
    fake_api.set_status(
        "jobs",
        "result-7",
        {
            "failed": 3,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ],
        },
    )
    terminated = {"reason": "OOMKilled", "exitCode": 137, "startedAt": None, "finishedAt": None}
    fake_api.add_pod("result-7-xyz12", "result-7", {"phase": "Failed", "containerStatuses": [
        {"name": "worker", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
         "state": {"terminated": terminated}}]})  # fmt: skip
    st = launcher.status("result-7")
    assert st.state == "failed"
    assert "BackoffLimitExceeded" in st.reason and "OOMKilled" in st.reason
    assert st.restarts == 3


def test_status_image_pull_error(launcher, fake_api):
    launcher.launch(training_spec())
    fake_api.set_status("jobs", "result-7", {"active": 1})
    waiting = {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nope:1"'}
    fake_api.add_pod("result-7-pull1", "result-7", {"phase": "Pending", "containerStatuses": [
        {"name": "worker", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
         "state": {"waiting": waiting}}]})  # fmt: skip
    st = launcher.status("result-7")
    assert st.state == "failed"
    assert st.reason.startswith("ImagePullBackOff") and "nope:1" in st.reason


def test_status_first_image_pull_error_is_still_pending(launcher, fake_api):
    launcher.launch(inference_spec(replicas=1))
    waiting = {"reason": "ErrImagePull", "message": "rpc error: not found"}
    fake_api.add_pod("inference-4-a", "inference-4", {"phase": "Pending", "containerStatuses": [
        {"name": "worker", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
         "state": {"waiting": waiting}}]})  # fmt: skip
    st = launcher.status("inference-4")
    assert st.state == "pending" and st.reason.startswith("ErrImagePull")


def test_status_deployment_running_and_oom_crash_loop(launcher, fake_api):
    launcher.launch(inference_spec(replicas=2))
    fake_api.set_status("deployments", "inference-4", {"replicas": 2, "readyReplicas": 2})
    fake_api.add_pod("inference-4-a", "inference-4", {"phase": "Running",
                     "containerStatuses": [_running()]})  # fmt: skip
    st = launcher.status("inference-4")
    assert (st.state, st.replicas_desired, st.replicas_ready) == ("running", 2, 2)

    fake_api.set_status("deployments", "inference-4", {"replicas": 2, "readyReplicas": 1})
    oom = {"reason": "OOMKilled", "exitCode": 137}
    fake_api.add_pod("inference-4-b", "inference-4", {"phase": "Running", "containerStatuses": [
        {"name": "worker", "ready": False, "restartCount": 4, "image": "x", "imageID": "",
         "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
         "lastState": {"terminated": oom}}]})  # fmt: skip
    st = launcher.status("inference-4")
    assert st.state == "failed"
    assert "CrashLoopBackOff" in st.reason and "OOMKilled" in st.reason
    assert st.restarts == 4 and st.replicas_ready == 1


def test_status_deployment_progress_deadline(launcher, fake_api):
    launcher.launch(inference_spec(replicas=1))
    fake_api.set_status("deployments", "inference-4", {"conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": "ReplicaSet has timed out progressing."}]})  # fmt: skip
    st = launcher.status("inference-4")
    assert st.state == "failed" and "ProgressDeadlineExceeded" in st.reason


def test_status_unknown_name(launcher):
    st = launcher.status("nothing-here")
    assert st.state == "unknown" and "nothing-here" in st.reason


# ---------------------------------------------------------------------------------------------
# logs
# ---------------------------------------------------------------------------------------------


def test_logs_come_from_the_pods(launcher, fake_api):
    launcher.launch(inference_spec(replicas=2))
    fake_api.add_pod("inference-4-a", "inference-4", {"phase": "Running"}, "2025-01-01T00:00:00Z")
    fake_api.add_pod("inference-4-b", "inference-4", {"phase": "Running"}, "2025-01-01T00:00:01Z")
    fake_api.add_pod("other-pod", "other", {"phase": "Running"})
    fake_api.pod_logs["inference-4-a"] = "".join(f"a line {i}\n" for i in range(10))
    fake_api.pod_logs["inference-4-b"] = "b only line\n"
    fake_api.pod_logs["other-pod"] = "not ours\n"

    text = launcher.logs("inference-4", tail=3)
    assert text == (
        "==> inference-4-a <==\na line 7\na line 8\na line 9\n==> inference-4-b <==\nb only line\n"
    )
    log_reqs = fake_api.sent("GET", "pods/log")
    assert all(r["query"]["tailLines"] == ["3"] for r in log_reqs)
    assert all(r["query"]["container"] == ["worker"] for r in log_reqs)
    (list_req,) = fake_api.sent("GET", "pods")
    assert list_req["query"]["labelSelector"] == [f"{WORKLOAD_LABEL}=inference-4"]


def test_logs_single_pod_and_not_started(launcher, fake_api):
    launcher.launch(training_spec())
    assert launcher.logs("result-7") == ""
    waiting = {"reason": "ContainerCreating"}
    fake_api.add_pod("result-7-p", "result-7", {"phase": "Pending", "containerStatuses": [
        {"name": "worker", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
         "state": {"waiting": waiting}}]})  # fmt: skip
    assert "ContainerCreating" in launcher.logs("result-7")
    fake_api.pod_logs["result-7-p"] = "epoch 1 loss 0.5\n"
    assert launcher.logs("result-7") == "epoch 1 loss 0.5\n"


# ---------------------------------------------------------------------------------------------
# RBAC: the launcher uses exactly RBAC_RULES
# ---------------------------------------------------------------------------------------------


def test_every_call_is_within_rbac_rules_and_every_rule_is_used(launcher, fake_api):
    launcher.launch(training_spec())
    launcher.launch(inference_spec())
    fake_api.add_pod("inference-4-a", "inference-4", {"phase": "Running"})
    fake_api.pod_logs["inference-4-a"] = "hello\n"
    launcher.status("result-7")
    launcher.status("inference-4")
    launcher.scale("inference-4", 2)
    launcher.logs("inference-4")
    launcher.stop("result-7")
    launcher.stop("inference-4")

    assert all(r["rule"] is not None for r in fake_api.requests), "a call outside the fake API"
    assert fake_api.used_rules() == set(RBAC_RULES)


# ---------------------------------------------------------------------------------------------
# configuration and pure builders
# ---------------------------------------------------------------------------------------------


def test_without_any_cluster_config_it_fails_loudly(monkeypatch, tmp_path):
    for key in ("KAFKAML_K8S_API_HOST", "KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(LauncherError, match="no cluster"):
        KubernetesLauncher()


def test_kubeconfig_is_used(fake_api, tmp_path, monkeypatch):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": fake_api.url}}],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    monkeypatch.delenv("KAFKAML_K8S_API_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("KAFKAML_K8S_NAMESPACE", NS)
    launcher = KubernetesLauncher()
    assert launcher.status("x").state == "unknown"
    assert fake_api.requests[-1]["headers"]["authorization"] == f"Bearer {TOKEN}"


def test_bad_integer_setting(monkeypatch):
    monkeypatch.setenv("KAFKAML_K8S_TTL_SECONDS", "soon")
    with pytest.raises(LauncherError, match="KAFKAML_K8S_TTL_SECONDS"):
        KubernetesSettings.from_env()


@pytest.mark.parametrize(
    "name",
    ["result-1", "Result_1", "a" * 80, "--x--", "ÜNÏCODE/name", "1", "_", "inference.42"],
)
def test_k8s_name_is_a_dns_label(name):
    out = k8s_name(name)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", out) and len(out) <= 52
    assert k8s_name(name) == out


def test_k8s_name_keeps_distinct_names_distinct():
    assert k8s_name("Result_1") != k8s_name("result-1")
    assert k8s_name("a" * 80) != k8s_name("a" * 81)
    assert k8s_name("result-1") == "result-1"


def test_label_helpers_and_secret_keys():
    assert label_value("x" * 70 + "!") == "x" * 63
    assert label_value("-a b-") == "a-b"
    assert label_key("result") == "kafkaml.io/result"
    assert label_key("example.com/owner") == "example.com/owner"
    assert label_key("Bad Prefix/x") == "kafkaml.io/x"
    assert secret_key_for("KAFKAML_API_TOKEN") == "api-token"
    assert secret_key_for("S3_SECRET_KEY") == "s3-secret-key"


def test_training_framework_picks_the_image():
    settings = KubernetesSettings(namespace=NS, image_prefix="", image_tag="dev")
    tf = build_job(training_spec(framework=None), settings)
    assert tf.spec.template.spec.containers[0].image == "kafkaml-training-tensorflow:dev"
    with pytest.raises(LauncherError, match="framework"):
        build_job(training_spec(framework="jax"), settings)


def test_built_objects_validate_against_kubernetes_schemas():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    from kubernetes.client import ApiClient

    settings = KubernetesSettings(namespace=NS, gpu_runtime_class="nvidia", image_pull_secret="r")
    for obj in (build_job(training_spec(), settings), build_deployment(inference_spec(), settings)):
        data = ApiClient().sanitize_for_serialization(obj)
        kubernetes_validate.validate(data, "1.30", strict=True)


def test_a_workloads_kafka_principal_travels_in_its_secret_only(launcher, fake_api):
    kafka = {  # what kafkaml.topics.principals.workload_principal_issue gives a launch
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "workload.inference-4",
        "KAFKA_SASL_PASSWORD": "kafka-pa55word-of-the-workload",
    }
    launcher.launch(inference_spec(secret_env={"KAFKAML_API_TOKEN": WORKER_SECRET, **kafka}))

    (secret,) = fake_api.sent("POST", "secrets")
    assert secret["body"]["stringData"] == {
        "api-token": WORKER_SECRET,
        "kafka-security-protocol": "SASL_SSL",
        "kafka-sasl-mechanism": "SCRAM-SHA-512",
        "kafka-sasl-username": "workload.inference-4",
        "kafka-sasl-password": "kafka-pa55word-of-the-workload",
    }
    (created,) = fake_api.sent("POST", "deployments")
    assert "kafka-pa55word-of-the-workload" not in created["raw"]
    (container,) = created["body"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    for name in kafka:
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": "inference-4-credentials",
            "key": secret_key_for(name),
        }


def test_worker_pods_expose_prometheus_metrics_when_a_port_is_set():
    from kubernetes.client import ApiClient

    off = ApiClient().sanitize_for_serialization(
        build_deployment(inference_spec(), KubernetesSettings(namespace=NS))
    )["spec"]["template"]
    assert "annotations" not in off["metadata"] and "ports" not in off["spec"]["containers"][0]
    settings = KubernetesSettings.from_env(
        {"KAFKAML_K8S_NAMESPACE": NS, "KAFKAML_K8S_METRICS_PORT": "9102"}
    )
    assert settings.metrics_port == 9102
    for obj in (build_deployment(inference_spec(), settings), build_job(training_spec(), settings)):
        pod = ApiClient().sanitize_for_serialization(obj)["spec"]["template"]
        assert pod["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "9102",
            "prometheus.io/path": "/metrics",
        }
        (container,) = pod["spec"]["containers"]
        assert container["ports"] == [{"name": "metrics", "containerPort": 9102}]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["KAFKAML_METRICS_PORT"] == "9102"
        kubernetes_validate = pytest.importorskip("kubernetes_validate")
        kubernetes_validate.validate(
            ApiClient().sanitize_for_serialization(obj), "1.30", strict=True
        )
