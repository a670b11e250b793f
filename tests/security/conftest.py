"""A real platform (``kafkaml up``, local launcher) shared by the attack tests of this folder,
with two ordinary users, ``alice`` (the attacker in most tests) and ``bob`` (the victim).

Each test performs one attack against it and asserts that the attack was harmless. The
platform is started once per session: the attacks do not depend on each other's leftovers
(each creates what it needs under fresh names).
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from dataclasses import dataclass

import pytest
import requests
from kafkaml.conftest import (  # noqa: F401 - the backend's fixtures, for backend-level attacks
    client,
    make_deployment,
    make_model,
    other_client,
    other_user,
    training_client,
    user,
    workload_client,
)

from tests.e2e_platform.harness import KAFKAML, Platform, clean_env, local_platform


@dataclass
class User:
    username: str
    password: str
    http: requests.Session  # authenticated with an API token of this user
    token: str

    def api(self, platform: Platform, method: str, path: str, **kwargs) -> requests.Response:
        """Call ``/api/v1/<path>`` as this user; returns the response, whatever its status."""
        return self.http.request(method, f"{platform.url}/api/v1/{path}", timeout=120, **kwargs)


def create_user(platform: Platform, username: str, *, staff: bool = False) -> User:
    """Create a user with the admin CLI (``kafkaml users create``) and log it in for a token."""
    password = f"{secrets.token_urlsafe(12)}-Aa1!"
    args = [KAFKAML, "users", "create", username, "--data-dir", str(platform.data_dir)]
    if staff:
        args.append("--staff")
    done = subprocess.run(
        [*args, "--password-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return login(platform, username, password)


def login(platform: Platform, username: str, password: str) -> User:
    response = requests.post(
        f"{platform.url}/api/v1/auth/token/",
        json={"username": username, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    http = requests.Session()
    http.headers["Authorization"] = f"Token {token}"
    return User(username, password, http, token)


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    with local_platform(tmp_path_factory.mktemp("security")) as running:
        yield running


@pytest.fixture(scope="session")
def alice(platform) -> User:
    return create_user(platform, "alice")


@pytest.fixture(scope="session")
def bob(platform) -> User:
    return create_user(platform, "bob")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed attack's report carries the platform's last log lines."""
    report = yield
    running = getattr(item, "funcargs", {}).get("platform")
    if report.when == "call" and report.failed and running is not None:
        with contextlib.suppress(OSError):
            report.sections.append(("platform logs", running.logs()))
    return report
