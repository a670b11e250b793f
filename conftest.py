"""Fixtures shared by every package's tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    """A real Kafka-compatible broker: the embedded Tansu, or KAFKA_BOOTSTRAP_SERVERS if set."""
    external = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
    if external:

        class _External:
            bootstrap_servers = external

        yield _External()
        return
    from kafkaml.broker import EmbeddedBroker

    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as embedded:
        yield embedded


@pytest.fixture
def unique_topic(request):
    """A topic name no other test uses (the broker is shared by the session)."""
    import uuid

    return f"t-{request.node.name[:40].replace('[', '-').replace(']', '')}-{uuid.uuid4().hex[:8]}"
