"""A fake Kubernetes API server that really runs the workloads, as local processes.

It serves exactly what ``KubernetesLauncher`` calls (``batch/v1`` Jobs and ``apps/v1``
Deployments: create/get/delete, ``deployments/scale`` patch, pods list by label selector, pod
logs) plus Secrets create/get/patch/delete: the launcher gives each workload its own Secret.

Unlike the in-process fake of the launcher's unit tests, objects here have consequences:

* a Job runs its pod template's container once as a process (a pod); a non-zero exit makes a
  new pod until ``backoffLimit`` is spent, then the Job is ``Failed`` (exit 0: ``Complete``);
* a Deployment keeps ``spec.replicas`` pods running (``restartPolicy: Always``: a dead pod's
  container is restarted, with ``CrashLoopBackOff`` after repeated crashes), and a scale patch
  starts or terminates pods;
* a delete terminates the pods (SIGTERM, then SIGKILL after the grace period) before answering,
  and deletes the Secrets the workload owns (``ownerReferences``), as the garbage collector does;
* the container's environment is its ``env`` only (plus PATH/HOME/LANG/TMPDIR, as an image
  would set), with ``valueFrom.secretKeyRef`` resolved from the stored Secrets; a missing Secret
  or key leaves the pod waiting in ``CreateContainerConfigError``, as a kubelet does;
* ``command[0] == "python"`` runs the given interpreter (``--python``), standing in for the image.

Pod, Job and Deployment statuses are computed from the real processes, so the launcher's status
mapping sees what a cluster would report. Run it as a process::

    python tests/e2e_platform/fake_kube.py --token-file TOKEN --python .venv/bin/python \\
        --state-dir DIR [--port 0]

It prints ``listening on http://127.0.0.1:PORT`` once it serves, and stops every pod on
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

WORKLOAD_LABEL = "kafkaml.io/workload"
CRASH_LOOP_AFTER = 3  # consecutive quick crashes before a pod reports CrashLoopBackOff
TICK = 0.3  # seconds between two passes of the controller loop

_NS = r"namespaces/(?P<ns>[^/]+)"
_NAME = r"(?P<name>[^/]+)"
_JOBS = rf"/apis/batch/v1/{_NS}/jobs"
_DEPLOYMENTS = rf"/apis/apps/v1/{_NS}/deployments"
_PODS = rf"/api/v1/{_NS}/pods"
_SECRETS = rf"/api/v1/{_NS}/secrets"
ROUTES = [
    ("POST", _JOBS, "create_workload", "jobs"),
    ("GET", rf"{_JOBS}/{_NAME}", "get_workload", "jobs"),
    ("DELETE", rf"{_JOBS}/{_NAME}", "delete_workload", "jobs"),
    ("POST", _DEPLOYMENTS, "create_workload", "deployments"),
    ("GET", rf"{_DEPLOYMENTS}/{_NAME}", "get_workload", "deployments"),
    ("DELETE", rf"{_DEPLOYMENTS}/{_NAME}", "delete_workload", "deployments"),
    ("PATCH", rf"{_DEPLOYMENTS}/{_NAME}/scale", "scale", "deployments"),
    ("GET", _PODS, "list_pods", "pods"),
    ("GET", rf"{_PODS}/{_NAME}/log", "pod_log", "pods"),
    ("POST", _SECRETS, "create_secret", "secrets"),
    ("GET", rf"{_SECRETS}/{_NAME}", "get_secret", "secrets"),
    ("PATCH", rf"{_SECRETS}/{_NAME}", "patch_secret", "secrets"),
    ("DELETE", rf"{_SECRETS}/{_NAME}", "delete_secret", "secrets"),
]
BASE_ENV_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_status(code: int, message: str, reason: str = "") -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class ApiError(Exception):
    def __init__(self, code: int, message: str, reason: str = ""):
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason


class Pod:
    """One pod: one container, run as a process group (re-run in place when it restarts)."""

    def __init__(self, name, namespace, owner, template, restart_always, log_dir, python):
        self.name, self.namespace, self.owner = name, namespace, owner
        self.template = template
        self.restart_always = restart_always
        self.python = python
        self.log_path = Path(log_dir) / f"{namespace}_{name}.log"
        self.created = now()
        self.process: subprocess.Popen | None = None
        self.started_at = ""
        self.restart_count = 0
        self.quick_crashes = 0
        self.next_start = 0.0  # monotonic time before which a crashed container waits
        self.waiting: tuple[str, str] | None = ("ContainerCreating", "")
        self.terminated: dict | None = None  # the current container's end (Never restart)
        self.last_terminated: dict | None = None
        self.deleted = False

    @property
    def container(self) -> dict:
        return self.template["spec"]["containers"][0]

    def env(self, secrets_store: dict) -> dict[str, str]:
        env = {k: os.environ[k] for k in BASE_ENV_KEYS if k in os.environ}
        for item in self.container.get("env") or []:
            if "value" in item:
                env[item["name"]] = str(item["value"])
                continue
            ref = (item.get("valueFrom") or {}).get("secretKeyRef")
            if ref is None:
                raise ApiError(400, f"unsupported valueFrom in {item['name']}")
            data = secrets_store.get((self.namespace, ref["name"]))
            if data is None:
                raise ApiError(0, f'secret "{ref["name"]}" not found')
            if ref["key"] not in data:
                raise ApiError(0, f"couldn't find key {ref['key']} in Secret {ref['name']}")
            env[item["name"]] = data[ref["key"]]
        return env

    def argv(self) -> list[str]:
        argv = list(self.container.get("command") or []) + list(self.container.get("args") or [])
        if argv and argv[0] in ("python", "python3"):
            argv[0] = self.python
        return argv

    def start(self, secrets_store: dict) -> None:
        try:
            env = self.env(secrets_store)
        except ApiError as exc:
            self.waiting = ("CreateContainerConfigError", exc.message)
            return
        workdir = self.log_path.with_suffix("")
        workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(
                    self.argv(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=workdir,
                    start_new_session=True,
                )
            except OSError as exc:
                self.waiting = ("CreateContainerError", str(exc))
                return
        self.started_at = now()
        self.started_mono = time.monotonic()
        self.waiting = None
        self.terminated = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tick(self, secrets_store: dict) -> None:
        """Notice an exited container; restart it when the policy says so."""
        if self.deleted:
            return
        if self.process is None:
            if self.terminated is None and time.monotonic() >= self.next_start:
                self.start(secrets_store)
            return
        code = self.process.poll()
        if code is None:
            if time.monotonic() - self.started_mono > 10:
                self.quick_crashes = 0
            return
        ended = {
            "exitCode": code if code >= 0 else 128 - code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": self.started_at,
            "finishedAt": now(),
        }
        self.process = None
        if not self.restart_always:
            self.terminated = ended
            return
        self.last_terminated = ended
        self.restart_count += 1
        self.quick_crashes += 1
        delay = min(10.0, 0.5 * 2 ** (self.quick_crashes - 1))
        self.next_start = time.monotonic() + delay
        if self.quick_crashes >= CRASH_LOOP_AFTER:
            self.waiting = (
                "CrashLoopBackOff",
                f"back-off {delay:.0f}s restarting failed container",
            )
        else:
            self.waiting = ("ContainerCreating", "")

    def kill(self, grace: float) -> None:
        self.deleted = True
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(5)

    def phase(self) -> str:
        if self.terminated is not None:
            return "Succeeded" if self.terminated["exitCode"] == 0 else "Failed"
        return "Running" if self.running() else "Pending"

    def to_json(self) -> dict:
        ready = self.running()
        if ready:
            state = {"running": {"startedAt": self.started_at}}
        elif self.terminated is not None:
            state = {"terminated": self.terminated}
        else:
            reason, message = self.waiting or ("ContainerCreating", "")
            state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        flag = "True" if ready else "False"
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": dict(self.template.get("metadata", {}).get("labels") or {}),
                "creationTimestamp": self.created,
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1" if self.owner[0] == "ReplicaSet" else "batch/v1",
                        "kind": self.owner[0],
                        "name": self.owner[1],
                        "uid": self.owner[2],
                        "controller": True,
                    }
                ],
            },
            "spec": copy.deepcopy(self.template["spec"]),
            "status": {
                "phase": self.phase(),
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Initialized", "status": "True"},
                    {"type": "ContainersReady", "status": flag},
                    {"type": "Ready", "status": flag},
                ],
                "containerStatuses": [
                    {
                        "name": self.container["name"],
                        "image": self.container.get("image", ""),
                        "imageID": "",
                        "ready": ready,
                        "started": ready,
                        "restartCount": self.restart_count,
                        "state": state,
                        "lastState": (
                            {"terminated": self.last_terminated} if self.last_terminated else {}
                        ),
                    }
                ],
                **({"startTime": self.started_at} if self.started_at else {}),
            },
        }

    def logs(self, tail: int | None) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        if tail is None:
            return text
        lines = deque(text.splitlines(), maxlen=tail)
        return "\n".join(lines) + ("\n" if lines else "")


class Cluster:
    """The stored objects and the controllers that turn them into pods."""

    def __init__(self, state_dir: Path, python: str, grace: float = 10.0):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.python = python
        self.grace = grace
        self.lock = threading.RLock()
        self.objects: dict[tuple[str, str, str], dict] = {}  # (resource, ns, name) -> object
        self.pods: dict[tuple[str, str, str], list[Pod]] = {}  # same key -> its pods
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.secret_owners: dict[tuple[str, str], list[str]] = {}  # -> owners' uids
        self.failures: dict[tuple[str, str, str], int] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    # -- objects ---------------------------------------------------------------------------

    def create_workload(self, resource, body, ns):
        obj = copy.deepcopy(body)
        name = obj["metadata"]["name"]
        key = (resource, ns, name)
        with self.lock:
            if key in self.objects:
                raise ApiError(409, f'{resource} "{name}" already exists', "AlreadyExists")
            obj["metadata"].update(
                namespace=ns,
                uid=secrets.token_hex(8),
                resourceVersion="1",
                generation=1,
                creationTimestamp=now(),
            )
            obj["status"] = {}
            self.objects[key] = obj
            self.pods[key] = []
            self.failures[key] = 0
            self._reconcile(key)
            return 201, obj

    def get_workload(self, resource, ns, name):
        with self.lock:
            obj = self.objects.get((resource, ns, name))
            if obj is None:
                raise ApiError(404, f'{resource}.{_group(resource)} "{name}" not found', "NotFound")
            return 200, copy.deepcopy(obj)

    def delete_workload(self, resource, ns, name):
        key = (resource, ns, name)
        with self.lock:
            obj = self.objects.pop(key, None)
            pods = self.pods.pop(key, [])
            self.failures.pop(key, None)
        if obj is None:
            raise ApiError(404, f'{resource}.{_group(resource)} "{name}" not found', "NotFound")
        for pod in pods:  # Foreground: the pods go first
            pod.kill(self.grace)
        uid = obj["metadata"]["uid"]
        with self.lock:  # the garbage collector: what the workload owned goes with it
            for key, owners in list(self.secret_owners.items()):
                if uid in owners:
                    self.secrets.pop(key, None)
                    self.secret_owners.pop(key, None)
        return 200, api_status(200, "", "") | {"status": "Success"}

    def scale(self, resource, body, ns, name):
        key = ("deployments", ns, name)
        with self.lock:
            obj = self.objects.get(key)
            if obj is None:
                raise ApiError(404, f'deployments.apps "{name}" not found', "NotFound")
            for op in body if isinstance(body, list) else []:
                if op.get("op") != "replace" or op.get("path") != "/spec/replicas":
                    raise ApiError(422, f"unsupported patch {op}", "Invalid")
                obj["spec"]["replicas"] = int(op["value"])
            obj["metadata"]["generation"] += 1
            self._reconcile(key)
            replicas = obj["spec"]["replicas"]
        return 200, {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas},
        }

    def list_pods(self, resource, ns, selector: str):
        wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
        with self.lock:
            items = [
                pod.to_json()
                for (_, pns, _), pods in self.pods.items()
                if pns == ns
                for pod in pods
                if not pod.deleted
            ]
        items = [
            p for p in items if all(p["metadata"]["labels"].get(k) == v for k, v in wanted.items())
        ]
        return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}

    def pod_log(self, resource, ns, name, tail: int | None):
        with self.lock:
            for (_, pns, _), pods in self.pods.items():
                for pod in pods:
                    if pns == ns and pod.name == name:
                        if pod.process is None and not pod.log_path.exists():
                            raise ApiError(
                                400,
                                f'container "worker" in pod "{name}" is waiting to start',
                                "BadRequest",
                            )
                        return 200, pod.logs(tail)
        raise ApiError(404, f'pods "{name}" not found', "NotFound")

    def create_secret(self, resource, body, ns):
        name = body["metadata"]["name"]
        data = {k: base64.b64decode(v).decode() for k, v in (body.get("data") or {}).items()}
        data.update(body.get("stringData") or {})
        owners = [o["uid"] for o in body["metadata"].get("ownerReferences") or []]
        with self.lock:
            if (ns, name) in self.secrets:
                raise ApiError(409, f'secrets "{name}" already exists', "AlreadyExists")
            self.secrets[(ns, name)] = data
            self.secret_owners[(ns, name)] = owners
        return 201, self._secret_json(ns, name, data)

    def patch_secret(self, resource, body, ns, name):
        """JSON patch of ``/metadata/ownerReferences`` only (what the launcher sends)."""
        with self.lock:
            if (ns, name) not in self.secrets:
                raise ApiError(404, f'secrets "{name}" not found', "NotFound")
            for op in body if isinstance(body, list) else []:
                if op.get("op") != "add" or op.get("path") != "/metadata/ownerReferences":
                    raise ApiError(422, f"unsupported patch {op}", "Invalid")
                self.secret_owners[(ns, name)] = [o["uid"] for o in op["value"]]
            data = self.secrets[(ns, name)]
        return 200, self._secret_json(ns, name, data)

    def delete_secret(self, resource, ns, name):
        with self.lock:
            data = self.secrets.pop((ns, name), None)
            self.secret_owners.pop((ns, name), None)
        if data is None:
            raise ApiError(404, f'secrets "{name}" not found', "NotFound")
        return 200, api_status(200, "", "") | {"status": "Success"}

    def get_secret(self, resource, ns, name):
        with self.lock:
            data = self.secrets.get((ns, name))
        if data is None:
            raise ApiError(404, f'secrets "{name}" not found', "NotFound")
        return 200, self._secret_json(ns, name, data)

    @staticmethod
    def _secret_json(ns, name, data):
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": ns},
            "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }

    # -- controllers -----------------------------------------------------------------------

    def _new_pod(self, key) -> Pod:
        resource, ns, name = key
        obj = self.objects[key]
        template = copy.deepcopy(obj["spec"]["template"])
        suffix = secrets.token_hex(3)[:5]
        if resource == "deployments":
            pod_name = f"{name}-{obj['metadata']['uid'][:8]}-{suffix}"
            owner = ("ReplicaSet", f"{name}-{obj['metadata']['uid'][:8]}", obj["metadata"]["uid"])
        else:
            pod_name = f"{name}-{suffix}"
            owner = ("Job", name, obj["metadata"]["uid"])
        restart_always = template["spec"].get("restartPolicy", "Always") == "Always"
        pod = Pod(pod_name, ns, owner, template, restart_always, self.state_dir, self.python)
        pod.start(self.secrets)
        self.pods[key].append(pod)
        return pod

    def _reconcile(self, key) -> None:
        obj = self.objects[key]
        pods = [p for p in self.pods[key] if not p.deleted]
        for pod in pods:
            pod.tick(self.secrets)
        if key[0] == "jobs":
            self._reconcile_job(key, obj, pods)
        else:
            self._reconcile_deployment(key, obj, pods)

    def _reconcile_job(self, key, obj, pods) -> None:
        status = obj["status"]
        conditions = status.get("conditions") or []
        if any(c["status"] == "True" and c["type"] in ("Complete", "Failed") for c in conditions):
            return
        status.setdefault("startTime", now())
        succeeded = sum(1 for p in pods if p.phase() == "Succeeded")
        failed = sum(1 for p in pods if p.phase() == "Failed")
        backoff_limit = obj["spec"].get("backoffLimit", 6)
        live = [p for p in pods if p.phase() in ("Pending", "Running")]
        if succeeded:
            status["conditions"] = [
                _condition("SuccessCriteriaMet", "True", "CompletionsReached"),
                _condition("Complete", "True", "CompletionsReached"),
            ]
            status["completionTime"] = now()
        elif failed > backoff_limit:
            status["conditions"] = [
                _condition(
                    "FailureTarget", "True", "BackoffLimitExceeded", "reached the backoff limit"
                ),
                _condition(
                    "Failed",
                    "True",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                ),
            ]
        elif not live:
            self._new_pod(key)
            live = [p for p in self.pods[key] if p.phase() in ("Pending", "Running")]
        counts = {
            "active": len(live),
            "ready": sum(1 for p in live if p.running()),
            "succeeded": succeeded,
            "failed": failed,
        }
        for field, count in counts.items():  # the API server omits zero counts (but "ready")
            if count or field == "ready":
                status[field] = count
            else:
                status.pop(field, None)

    def _reconcile_deployment(self, key, obj, pods) -> None:
        desired = int(obj["spec"].get("replicas", 1))
        while len(pods) < desired:
            pods.append(self._new_pod(key))
        surplus = pods[desired:]
        for pod in surplus:
            pod.deleted = True
            threading.Thread(target=pod.kill, args=(self.grace,), daemon=True).start()
        self.pods[key] = [p for p in self.pods[key] if not p.deleted or p.running()]
        pods = pods[:desired]
        ready = sum(1 for p in pods if p.running())
        status = {
            "observedGeneration": obj["metadata"]["generation"],
            "replicas": len(pods),
            "updatedReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": len(pods) - ready,
            "conditions": [
                _condition(
                    "Available",
                    "True" if ready >= desired else "False",
                    "MinimumReplicasAvailable"
                    if ready >= desired
                    else "MinimumReplicasUnavailable",
                ),
                _condition("Progressing", "True", "NewReplicaSetAvailable"),
            ],
        }
        obj["status"] = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}

    def _loop(self) -> None:
        while not self.stopping.wait(TICK):
            with self.lock:
                for key in list(self.objects):
                    self._reconcile(key)

    def shutdown(self) -> None:
        self.stopping.set()
        with self.lock:
            pods = [pod for group in self.pods.values() for pod in group]
            self.objects.clear()
            self.pods.clear()
        for pod in pods:
            pod.kill(self.grace)


def _condition(kind: str, status: str, reason: str = "", message: str = "") -> dict:
    stamp = now()
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": stamp,
        "lastUpdateTime": stamp,
    }


def _group(resource: str) -> str:
    return {"jobs": "batch", "deployments": "apps"}.get(resource, "")


def make_server(cluster: Cluster, token: str, host: str = "127.0.0.1", port: int = 0):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self._dispatch()

        do_POST = do_DELETE = do_PATCH = do_PUT = do_GET

        def _dispatch(self):
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.headers.get("Authorization") != f"Bearer {token}":
                return self._reply(401, api_status(401, "Unauthorized", "Unauthorized"))
            for method, pattern, handler, resource in ROUTES:
                match = re.fullmatch(pattern, parts.path)
                if not match or method != self.command:
                    continue
                args = match.groupdict()
                try:
                    if method in ("POST", "PATCH"):
                        args["body"] = json.loads(raw or b"null")
                    if handler == "list_pods":
                        args["selector"] = query.get("labelSelector", [""])[0]
                    if handler == "pod_log":
                        tail = query.get("tailLines", [None])[0]
                        args["tail"] = int(tail) if tail else None
                    code, body = getattr(cluster, handler)(resource, **args)
                except ApiError as exc:
                    code, body = exc.code, api_status(exc.code, exc.message, exc.reason)
                return self._reply(code, body)
            return self._reply(404, api_status(404, f"no route {self.command} {parts.path}"))

        def _reply(self, code: int, body) -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(code)
            kind = "text/plain" if isinstance(body, str) else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-file", required=True, help="bearer token clients must send")
    parser.add_argument("--state-dir", required=True, help="pod logs and working directories")
    parser.add_argument("--python", default=sys.executable, help="runs command 'python'")
    parser.add_argument("--grace", type=float, default=10.0, help="termination grace period")
    args = parser.parse_args(argv)
    token = Path(args.token_file).read_text().strip()
    cluster = Cluster(Path(args.state_dir), args.python, args.grace)
    server = make_server(cluster, token, args.host, args.port)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        cluster.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
