"""The broker a benchmark runs against: ``--broker embedded`` (Tansu, the default),
``--broker kafka`` (one Apache Kafka node, KRaft, started from the Maven-resolved jars by
``tests.apache_kafka.ApacheKafka``), or an existing cluster named by ``KAFKA_BOOTSTRAP_SERVERS``
when no ``--broker`` is given."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHOICES = ("embedded", "kafka")


def add_argument(parser) -> None:
    parser.add_argument(
        "--broker",
        choices=CHOICES,
        default=None,
        help="embedded: the embedded Tansu broker (default, unless KAFKA_BOOTSTRAP_SERVERS is "
        "set); kafka: a one-node Apache Kafka started for the run (needs Java and Maven)",
    )


@contextlib.contextmanager
def broker(kind: str | None, work_dir: Path | None = None) -> Iterator[tuple[str, str]]:
    """``(bootstrap servers, description)`` of a broker running for the ``with`` block."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if kind is None and external:
        yield external, f"external ({external})"
        return
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="kafkaml-bench-broker-"))
    if kind == "kafka":
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        from tests.apache_kafka import ApacheKafka

        # a bigger heap than the test fixture's: the benchmark pushes hundreds of MB through it
        with ApacheKafka(work_dir / "apache-kafka", heap_mb=1024) as kafka:
            yield kafka.bootstrap_servers, "Apache Kafka (1 KRaft node, loopback)"
        return
    from kafkaml.broker import EmbeddedBroker

    with EmbeddedBroker(log_path=work_dir / "tansu.log") as embedded:
        yield embedded.bootstrap_servers, "embedded Tansu"
