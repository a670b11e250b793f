"""Fixtures shared by every package's tests."""

from __future__ import annotations

import os

import pytest

try:  # before any TensorFlow import: PyPI's CUDA torch build (its triton) segfaults when
    # torch._dynamo (pulled in by torch.optim) is first imported after TensorFlow
    import torch._dynamo  # noqa: F401
except ImportError:  # pragma: no cover - torch is pinned
    pass

# Which broker the broker-facing suites run on: the embedded Tansu (default), or Apache Kafka
# started from the Maven-resolved jars (`TEST_BROKER=apache-kafka`, see tests/apache_kafka.py);
# `TEST_KAFKA_BOOTSTRAP_SERVERS` points them at a broker that is already running instead.
TEST_BROKER = os.environ.get("TEST_BROKER", "tansu")


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A real Kafka broker: the embedded Tansu, Apache Kafka, or an external one."""
    external = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
    if external:

        class _External:
            bootstrap_servers = external

        yield _External()
        return
    if TEST_BROKER == "apache-kafka":
        from tests.apache_kafka import ApacheKafka

        with ApacheKafka(tmp_path_factory.mktemp("apache-kafka")) as kafka:
            yield kafka
        return
    if TEST_BROKER != "tansu":
        raise pytest.UsageError(f"TEST_BROKER={TEST_BROKER!r}: use tansu or apache-kafka")
    from kafkaml.broker import EmbeddedBroker

    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as embedded:
        yield embedded


@pytest.fixture(scope="session")
def sasl_kafka(tmp_path_factory):
    """Apache Kafka with SASL/SCRAM-SHA-512 and the StandardAuthorizer (deny unless an ACL
    allows); ``client_config()`` logs in as the super user ``admin``."""
    from tests.apache_kafka import ApacheKafka

    with ApacheKafka(tmp_path_factory.mktemp("sasl-kafka"), sasl=True) as kafka:
        yield kafka


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory):
    """Three Apache Kafka nodes (KRaft, each broker + controller), replication factor 3 and
    ``min.insync.replicas=2``, started once per session for the fault tests (``tests/faults``):
    ``kill(node_id)``, ``kill_leader(topic)``, ``restart(node_id)``, ``stop_all()`` /
    ``start_all()`` (same data, same ports). Skipped without Java, or without Maven and the jars.
    Tests that kill a node must leave the cluster whole (``start_all()``) for the next one."""
    from tests.apache_kafka import KafkaCluster, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with KafkaCluster(tmp_path_factory.mktemp("kafka-cluster")) as cluster:
        yield cluster


@pytest.fixture
def unique_topic(request):
    """A topic name no other test uses (the broker is shared by the session)."""
    import uuid

    return f"t-{request.node.name[:40].replace('[', '-').replace(']', '')}-{uuid.uuid4().hex[:8]}"


def pytest_collection_modifyitems(config, items):
    """``TEST_BROKER_ONLY=1`` keeps only the tests that talk to the ``broker`` fixture: the
    broker matrix (``make test-kafka``) reruns just those on Apache Kafka."""
    if os.environ.get("TEST_BROKER_ONLY") != "1":
        return
    keep = [
        item
        for item in items
        if "broker" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("embedded_broker_only") is None
    ]
    deselected = [item for item in items if item not in keep]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep
