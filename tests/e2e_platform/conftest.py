"""The ``platform`` fixture: a real ``kafkaml up`` per launcher (``local``, ``kubernetes``)."""

from __future__ import annotations

import pytest

from .harness import kubernetes_platform, local_platform

PLATFORMS = {"local": local_platform, "kubernetes": kubernetes_platform}


@pytest.fixture(params=list(PLATFORMS))
def platform(request, tmp_path):
    with PLATFORMS[request.param](tmp_path) as running:
        yield running


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed journey's report carries the platform's and the workers' last log lines."""
    report = yield
    running = getattr(item, "funcargs", {}).get("platform")
    if report.when == "call" and report.failed and running is not None:
        try:
            report.sections.append(("platform logs", running.logs()))
        except OSError as exc:
            report.sections.append(("platform logs", f"unavailable: {exc}"))
    return report
