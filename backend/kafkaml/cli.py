"""``kafkaml``: run the whole platform on one machine.

``kafkaml up`` starts, supervises and cleanly stops the embedded broker (unless
``KAFKA_BOOTSTRAP_SERVERS`` is set), migrates the database, creates the first admin account,
and runs the web server, the model-code executor, the Celery worker and the control logger.
If any of them dies, everything is stopped and the exit code is non-zero.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kafkaml.accounts import cli as users_cli
from kafkaml.broker import (
    BrokerError,
    EmbeddedBroker,
    ensure_topics,
    port_is_open,
    terminate_with_parent,
)


class UpError(RuntimeError):
    pass


@dataclass
class Component:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    def start(self, env: dict, log_dir: Path) -> None:
        self.log_path = log_dir / f"{self.name}.log"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=terminate_with_parent,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _say(message: str) -> None:
    print(f"[kafkaml] {message}", flush=True)


def _setup_django(data_dir: Path, bootstrap: str) -> None:
    os.environ["KAFKAML_DATA_DIR"] = str(data_dir)
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kafkaml.settings.base")
    import django

    django.setup()


def _prepare_database() -> str:
    """Migrate, make the admin account on first run, and return the control logger's key (a
    credential that can only register datasources and control errors, new at each start)."""
    from django.core.management import call_command

    from kafkaml.accounts.services import admin_ensure
    from kafkaml.workloads.credentials import control_logger_credential_ensure

    call_command("migrate", interactive=False, verbosity=0)
    password = admin_ensure()
    if password:
        _say("created the admin account (shown only this once):")
        _say(f"    username: admin    password: {password}")
    return control_logger_credential_ensure()


def _private_data_dir(data_dir: Path) -> None:
    """Close a data dir made before the umask (by an older version): no group or other
    permission on anything in it that is ours."""
    uid = os.geteuid()
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            if info.st_uid == uid and not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
                os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
    if data_dir.stat().st_uid == uid:
        data_dir.chmod(0o700)


def _warn_single_user_mode() -> None:
    from kafkaml.accounts.mode import single_user_mode, single_user_reason

    if single_user_mode():
        _say(f"WARNING: {single_user_reason()}")


def _wait_healthy(url: str, components: list[Component], timeout: float) -> dict:
    import requests

    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        for component in components:
            if not component.alive():
                raise UpError(_died(component))
        try:
            response = requests.get(url, timeout=5)
            body = response.json()
            if response.status_code == 200:
                return body
        except (requests.RequestException, ValueError):
            pass
        time.sleep(1)
    states = ", ".join(f"{k}={v.get('status')}" for k, v in body.get("components", {}).items())
    raise UpError(
        f"the platform did not become healthy in {timeout:.0f}s ({states or 'no answer'})"
    )


def _died(component: Component) -> str:
    code = component.process.returncode if component.process else "?"
    return (
        f"{component.name} exited with code {code}. Last lines of {component.log_path}:\n"
        f"{component.log_tail()}"
    )


def up(args: argparse.Namespace) -> int:
    # What the platform and its components write (database and its WAL, logs, artifacts,
    # workload state, secret key) is for this account only; the data dir is 0700
    # (docs/security.md). The sandbox sets its jobs' modes itself.
    os.umask(0o077)
    data_dir = Path(args.data_dir).resolve()
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    _private_data_dir(data_dir)
    host, port, executor_port = args.host, args.port, args.executor_port
    for name, taken in (("web server", port), ("executor", executor_port)):
        if port_is_open(host, taken):
            raise UpError(
                f"port {taken} for the {name} is already taken; stop what uses it or choose "
                f"another port (--port / --executor-port)"
            )

    broker = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    components: list[Component] = []
    try:
        if bootstrap:
            _say(f"broker: using KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
        else:
            broker = EmbeddedBroker(port=args.broker_port, log_path=log_dir / "broker.log")
            broker.start()
            bootstrap = broker.bootstrap_servers
            # settings.KAFKAML_EMBEDDED_BROKER: what Tansu cannot do is refused (exactly-once)
            os.environ["KAFKAML_EMBEDDED_BROKER"] = "1"
            _say(f"broker: embedded Tansu on {bootstrap} (topics live in memory only)")
        _setup_django(data_dir, bootstrap)
        from django.conf import settings

        ensure_topics(bootstrap, [settings.KAFKAML_CONTROL_TOPIC])
        token = _prepare_database()
        _say(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} ready")
        _warn_single_user_mode()

        base_url = f"http://{host}:{port}"
        env = {
            **os.environ,
            "KAFKAML_DATA_DIR": str(data_dir),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKAML_BACKEND_URL": os.environ.get("KAFKAML_BACKEND_URL", base_url),
            "MLCODE_EXECUTOR_URL": f"http://127.0.0.1:{executor_port}",
            "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
            "PYTHONUNBUFFERED": "1",
        }
        python = sys.executable
        components = [
            Component(
                "executor",
                [
                    python,
                    "-m",
                    "mlcode_executor",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(executor_port),
                ],
            ),
            Component(
                "web",
                [
                    python,
                    "-m",
                    "uvicorn",
                    "kafkaml.asgi:application",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "5",
                ],
            ),
            Component(
                "celery",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "kafkaml.celery",
                    "worker",
                    "--beat",
                    "--pool",
                    "solo",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(data_dir / "celerybeat-schedule"),
                ],
            ),
            Component("control_logger", [python, "-m", "control_logger"]),
        ]
        # one executor secret per run: only the components that call the executor get it
        executor_secret = secrets.token_urlsafe(32)
        for component in components:
            component_env = env
            if component.name in ("executor", "web", "celery"):
                component_env = {**env, "MLCODE_EXECUTOR_SECRET": executor_secret}
            if component.name == "control_logger":
                component_env = {**env, "KAFKAML_API_TOKEN": token}
            component.start(component_env, log_dir)
        _say(f"starting web server, executor, Celery worker and control logger (logs: {log_dir})")
        health = _wait_healthy(f"{base_url}/api/v1/health", components, args.ready_timeout)
        for name, state in health.get("components", {}).items():
            _say(f"  {name:15s} {state.get('status')}")
        from kafkaml.inference.services import inference_resume_all

        resumed = inference_resume_all()
        if resumed:
            _say(f"resumed {resumed} inference deployment(s) that were running")
        _say(f"Kafka-ML is up: {base_url}/  (API docs: {base_url}/api/docs/)  Ctrl-C stops it.")

        stop = {"requested": False}

        def request_stop(*_):
            stop["requested"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop["requested"]:
            for component in components:
                if not component.alive():
                    raise UpError(_died(component))
            if broker and broker.process and broker.process.poll() is not None:
                raise UpError(f"the embedded broker exited; see {log_dir / 'broker.log'}")
            time.sleep(0.5)
        _say("stopping…")
        return 0
    finally:
        if components:
            from kafkaml.workloads.services import local_workloads_stop_all

            stopped = local_workloads_stop_all()
            if stopped:
                _say(f"stopped {stopped} training/inference workload(s)")
        for component in reversed(components):
            component.stop()
        if broker:
            broker.stop()
        if components:
            _say("stopped.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kafkaml", description="Kafka-ML platform")
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="run the whole platform locally")
    up_parser.add_argument("--data-dir", default=os.environ.get("KAFKAML_DATA_DIR", ".kafkaml"))
    up_parser.add_argument("--host", default="127.0.0.1")
    up_parser.add_argument("--port", type=int, default=int(os.environ.get("KAFKAML_PORT", 8000)))
    up_parser.add_argument(
        "--executor-port", type=int, default=int(os.environ.get("MLCODE_EXECUTOR_PORT", 8001))
    )
    up_parser.add_argument(
        "--broker-port", type=int, default=int(os.environ.get("KAFKA_BROKER_PORT", 9092))
    )
    up_parser.add_argument("--ready-timeout", type=float, default=120)
    users_cli.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "users":
        return users_cli.run(args)
    try:
        return up(args)
    except (UpError, BrokerError) as exc:
        _say(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
