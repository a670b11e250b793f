"""An online federated site (``OnlineFederatedRawSink``'s unbounded stream) on the embedded
broker with real PyTorch, next to a bounded site.

The online site reads its topic in windows (at most ``window_size`` records): round 1 trains on
its first window, each later round on the records that arrived since the previous window, and a
round without new records is skipped with a count of 0 (the coordinator records it and leaves it
out of the aggregate). Data arrives between rounds: the sink sends more after round 1.
"""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pytest

from datasources.codecs import get_codec
from datasources.federated_online_raw_sink import OnlineFederatedRawSink
from model_training.federated import messages
from model_training.federated.coordinator import Coordinator
from model_training.federated.site import Site, StreamWindows
from model_training.federated.tests.test_federated import job

pytestmark = pytest.mark.embedded_broker_only

WINDOW = 100


def updates_of(bootstrap: str, topic: str) -> list[tuple[dict, list[np.ndarray]]]:
    """Every message the sites sent to the coordinator."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    from model_training.dataset import consumer_for

    consumer = consumer_for(bootstrap, **{"fetch.message.max.bytes": messages.MAX_MESSAGE_BYTES})
    try:
        _, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        out = []
        while len(out) < end:
            out += [messages.decode(m.value()) for m in consumer.consume(100, 1) if not m.error()]
        return out
    finally:
        consumer.close()


def test_an_online_site_trains_each_round_on_the_records_that_arrived(broker, digits, unique_topic):
    x, y = digits
    deployment = f"t{uuid.uuid4().hex[:8]}"
    sink = OnlineFederatedRawSink(
        broker.bootstrap_servers,
        unique_topic,
        9,
        "uint8",
        "uint8",
        "an online site",
        "{}",
        "8 8",
        control_topic=f"{unique_topic}-control",
    )

    def send(start: int, stop: int) -> None:
        for i in range(start, stop):
            sink.send(x[i], y[i])
        sink.flush()

    send(0, 150)  # before the run: a first window of 100, 50 left for round 2
    arrivals = {1: (150, 180)}  # after round 1: 30 more; none after round 2

    stop = threading.Event()
    online = Site(
        bootstrap=broker.bootstrap_servers,
        deployment=deployment,
        name="online",
        job=job("pytorch"),
        x=np.empty((0,)),
        y=np.empty((0,)),
        prefix="alice.",
        test_rate=0.0,  # the online sink announces none
        epochs=1,
        should_stop=stop.is_set,
        windows=StreamWindows(
            broker.bootstrap_servers, unique_topic, get_codec("RAW", sink.input_config), WINDOW
        ),
    )
    bounded = Site(
        bootstrap=broker.bootstrap_servers,
        deployment=deployment,
        name="bounded",
        job=job("pytorch"),
        x=x[1000:1200],
        y=y[1000:1200],
        prefix="alice.",
        test_rate=0.1,
        epochs=1,
        should_stop=stop.is_set,
    )
    globals_after: list[list[np.ndarray]] = []

    def on_round(report) -> None:
        globals_after.append(coordinator.weights)
        if report.round in arrivals:
            send(*arrivals[report.round])

    coordinator = Coordinator(
        bootstrap=broker.bootstrap_servers,
        deployment=deployment,
        prefix="alice.",
        rounds=3,
        expected_sites=2,
        join_timeout_s=60,
        round_timeout_s=60,
        on_round=on_round,
    )
    threads = [online.start_thread(), bounded.start_thread()]
    try:
        coordinator.run()
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        sink.close()

    assert coordinator.announced["online"]["samples"] == WINDOW  # its first window
    assert [r.site_samples for r in coordinator.history] == [
        {"online": 100, "bounded": 180},
        {"online": 80, "bounded": 180},  # the 50 left over and the 30 that arrived
        {"online": 0, "bounded": 180},  # nothing new: skipped, still an answer
    ]
    assert [r.samples for r in coordinator.history] == [280, 260, 180]
    assert all(sorted(r.answered) == ["bounded", "online"] for r in coordinator.history)
    assert not coordinator.dropped
    assert online.trained == {1: 100, 2: 80, 3: 0}
    assert online.windows is not None and online.windows.records == 180

    # round 3's global model is the bounded site's update alone (the online site added nothing)
    sent = updates_of(broker.bootstrap_servers, coordinator.updates_topic)
    skipped = [m for m, _ in sent if m.get("kind") == "update" and m["samples"] == 0]
    assert [(m["site"], m["round"], m["skipped"]) for m in skipped] == [
        ("online", 3, "no new records")
    ]
    (last_bounded,) = [
        w
        for m, w in sent
        if m.get("kind") == "update" and (m["site"], m["round"]) == ("bounded", 3)
    ]
    for a, b in zip(globals_after[2], last_bounded, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not all(
        np.array_equal(a, b) for a, b in zip(globals_after[1], globals_after[2], strict=True)
    )
