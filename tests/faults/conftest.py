"""The fault tests run on the session's three-node Apache Kafka cluster (``kafka_cluster`` in the
root conftest), never on the ``broker`` fixture: they run once in the main ``pytest`` run and
``make test-kafka`` (which keeps only ``broker`` tests) leaves them out. Without Java, or without
Maven and the jars, ``kafka_cluster`` skips them with the reason.

Each test reports its lost and duplicated records with :func:`fault_report`; the figures are
printed, and listed again at the end of the run."""

from __future__ import annotations

import pytest

_REPORTS: list[str] = []


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cluster: runs on the three-node Apache Kafka cluster (kafka_cluster)"
    )


@pytest.fixture
def cluster(kafka_cluster):
    """The session's cluster, whole before the test and made whole again after it (a node the
    test killed is started again on its data folder and ports)."""
    kafka_cluster.start_all()
    yield kafka_cluster
    kafka_cluster.start_all()


@pytest.fixture
def fault_report(request):
    """``fault_report(lost=, duplicated=, **figures)``: print the test's counts (and keep them
    for the summary at the end of the run)."""

    def report(*, lost: int, duplicated: int, **figures) -> str:
        extra = "".join(f", {name} {value}" for name, value in figures.items())
        line = f"[{request.node.name}] lost {lost}, duplicated {duplicated}{extra}"
        print("\n" + line)
        _REPORTS.append(line)
        return line

    return report


def pytest_terminal_summary(terminalreporter):
    if _REPORTS:
        terminalreporter.section("Kafka cluster fault tests: lost / duplicated")
        for line in _REPORTS:
            terminalreporter.write_line(line)
