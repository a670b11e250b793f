"""A model that cannot be reached for a while (an external model server that is away): the
batches are read again later, nothing is lost — across every partition, including those of the
batch that was consumed while the unavailable one was being predicted."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Producer

from model_inference.runtimes import RuntimeUnavailable

from .conftest import ThreadWorker, images, make_worker, read_topics, topics


class Intermittent:
    """The real runtime, unreachable on the calls numbered in ``away`` (1-based)."""

    def __init__(self, runtime, away: set[int]):
        self.runtime = runtime
        self.away = away
        self.calls = 0
        self.refused = 0
        self._lock = threading.Lock()

    def predict(self, x):
        with self._lock:
            self.calls += 1
            down = self.calls in self.away
            self.refused += down
        if down:
            raise RuntimeUnavailable("model server away (test)")
        return self.runtime.predict(x)

    def __getattr__(self, name):
        return getattr(self.runtime, name)


@pytest.mark.timeout(180)
def test_unavailable_batches_are_read_again_on_every_partition(broker, unique_topic, onnx_artifact):
    src, out = unique_topic, f"{unique_topic}.out"
    topics(broker, src, out, f"{src}.dlq", partitions=4)
    n = 2000
    values = [v.tobytes() for v in images(n, seed=11)]
    # batches of one producer batch (20 records of one partition): small fetches take the
    # partitions in turn, so consecutive batches hold different partitions
    worker = make_worker(
        broker,
        onnx_artifact,
        src,
        out,
        batch_size=20,
        consumer_overrides={"max.partition.fetch.bytes": 4096},
    )
    worker.load_initial_model()
    # one batch in four refused for a while: some refusals fall where the batch consumed
    # meanwhile holds a partition the refused one has none of
    flaky = Intermittent(worker.model.runtime, away=set(range(4, 120, 4)))
    worker.model.runtime = flaky
    running = ThreadWorker(worker).start()
    try:
        # each piece of 20 on one partition, the partitions in turn
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 0})
        for start in range(0, n, 20):
            for i in range(start, start + 20):
                producer.produce(src, values[i], str(i).encode(), (start // 20) % 4)
            producer.flush(10)
            time.sleep(0.01)
        records = read_topics(
            broker,
            [out],
            expected=n,
            timeout=120,
            until=lambda got: {int(m.key()) for m in got} >= set(range(n)),
        )
    finally:
        running.stop()
    assert flaky.refused >= 10 and worker.unavailable_batches >= 10
    assert {int(m.key()) for m in records} == set(range(n))  # 0 lost, repeats allowed
