"""An incremental, time-limited training run publishing improved versions while an inference
that opted in (``follow_latest``) serves each of them, on a real platform (local launcher).

The training stream arrives in bursts, one window each (``window_size``), every burst sent once
the previous window's epochs were reported: each improvement of ``val_loss`` is a new version. Keyed records
flow into the inference the whole time; every key gets an output (at least once: repeats
allowed), the replica process is the same one from the first version to the last (no restart:
same pid, no supervisor restart), its outputs carry the later versions, and once no data came
for ``stream_timeout`` seconds the run ends and its result is ``finished``.

Local launcher only: the swap happens inside the replica, the launcher plays no part in it,
and the Kubernetes fake would double the time (the journey covers both launchers).
"""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from .test_journey import CODE, FINAL, IMPORTS, consume_predictions, digits, poll

pytestmark = pytest.mark.slow

WINDOW = 300  # records per training window (= per burst)
BURSTS = 4
EPOCHS = 4
STREAM_TIMEOUT = 8  # s: closes a window early, and ends the time-limited run after silence
RATE = 0.02  # s between inference records


def window_trained(platform, result_id: int, windows: int) -> dict:
    """The result once ``windows`` windows were trained on (their epochs reported)."""
    return poll(
        lambda: platform.api("GET", f"results/{result_id}/"),
        lambda r: len(r["epoch_metrics"]) >= windows * EPOCHS or r["status"] in FINAL,
        timeout=90,
        interval=0.5,
    )


class KeyedStream:
    """Keyed records into the inference's input topic, one every ``RATE`` s, until stopped."""

    def __init__(self, bootstrap: str, topic: str, images):
        from confluent_kafka import Producer

        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self.topic, self.images, self.sent = topic, images, 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def send(self, count: int) -> None:
        for _ in range(count):
            image = self.images[self.sent % len(self.images)]
            self.producer.produce(self.topic, key=str(self.sent).encode(), value=image.tobytes())
            self.sent += 1
        self.producer.poll(0)

    def _run(self) -> None:
        while not self.stopped.wait(RATE):
            self.send(1)

    def stop(self) -> int:
        self.stopped.set()
        self.thread.join(10)
        assert self.producer.flush(30) == 0
        return self.sent


def replica_pids(platform, workload: str) -> dict:
    """The replica processes as the local supervisor records them."""
    path = platform.data_dir / "workloads" / workload / "status.json"
    return json.loads(path.read_text())["pids"]


@pytest.mark.parametrize("platform", ["local"], indirect=True)
def test_a_following_inference_serves_each_new_version_without_restart_or_loss(platform):
    from datasources.online_raw_sink import OnlineRawSink

    tag = uuid.uuid4().hex[:8]
    prefix = platform.api("GET", "auth/me/")["kafka"]["topic_prefix"]
    x, y = digits()
    deployment = platform.deploy(
        f"inc-{tag}",
        "tensorflow",
        IMPORTS,
        CODE,
        batch_size=32,
        training_kwargs=f"epochs={EPOCHS}",
        incremental=True,
        incremental_mode="time_limited",
        window_size=WINDOW,
        stream_timeout=STREAM_TIMEOUT,
        seed=3,
    )
    (result_id,) = [r["id"] for r in deployment["results"]]

    # -- burst 1: version 1, then an inference that follows the result ---------------------
    sink = OnlineRawSink(
        boostrap_servers=platform.bootstrap_servers,
        topic=f"{prefix}inc-{tag}",
        deployment_id=deployment["id"],
        data_type="float32",
        label_type="uint8",
        data_reshape="8 8",
        validation_rate=0.2,
    )

    def burst(index: int) -> dict:
        rows = slice(index * WINDOW, (index + 1) * WINDOW)
        sink.send_batch(x[rows], y[rows])
        sink.flush()
        return window_trained(platform, result_id, index + 1)

    burst(0)
    result = poll(  # version 1 is uploaded after the window's epochs
        lambda: platform.api("GET", f"results/{result_id}/"),
        lambda r: r["artifacts"] or r["status"] in FINAL,
        timeout=60,
        interval=0.5,
    )
    assert result["status"] not in FINAL, (result["status"], result["error"], result["log_tail"])
    assert [a["version"] for a in result["artifacts"]] == [1], result["status_history"]
    inference = platform.api(
        "POST",
        "inferences/",
        json={
            "result": result_id,
            "input_format": "RAW",
            "input_config": {"data_type": "float32", "data_reshape": "8 8"},
            "input_topic": f"{prefix}inc-in-{tag}",
            "output_topic": f"{prefix}inc-out-{tag}",
            "follow_latest": True,
            "batch_size": 16,
        },
    )
    assert inference["follow_latest"] is True and inference["model_version"] == 1
    serving = f"inference-{inference['id']}"
    platform.wait_workload(serving, lambda s: s.state == "running" and s.replicas_ready == 1)
    pids = replica_pids(platform, serving)

    # -- bursts 2..n while keyed records keep flowing into the inference --------------------
    stream = KeyedStream(platform.bootstrap_servers, inference["input_topic"], x[BURSTS * WINDOW :])
    stream.thread.start()
    poll(  # version 1 answers records before version 2 is trained (a loaded machine is slow)
        lambda: platform.api("GET", f"inferences/{inference['id']}/"),
        lambda i: i["live"]["records_out"] > 0,
        timeout=60,
        interval=0.5,
    )
    for index in range(1, BURSTS):
        burst(index)
    result = poll(  # no more data: after stream_timeout s of silence the run ends
        lambda: platform.api("GET", f"results/{result_id}/"),
        lambda r: r["status"] in FINAL,
        timeout=STREAM_TIMEOUT + 60,
    )
    assert result["status"] == "finished", result
    artifacts = sorted(result["artifacts"], key=lambda a: a["version"])  # the API: newest first
    versions = [a["version"] for a in artifacts]
    assert len(versions) >= 3 and versions == list(range(1, len(versions) + 1)), versions
    losses = [a["metrics"]["monitored"]["val_loss"] for a in artifacts]
    assert losses == sorted(losses, reverse=True), losses  # each version an improvement
    assert len(result["epoch_metrics"]) == BURSTS * EPOCHS
    last = versions[-1]

    # the replica applies the last version; only then the stream stops, with a tail after it
    following = poll(
        lambda: platform.api("GET", f"inferences/{inference['id']}/"),
        lambda i: [r["model_version"] for r in i["replica_models"].values()] == [last],
        timeout=60,
        interval=0.5,
    )
    assert following["model_version"] == last
    assert [h["to"]["version"] for h in following["swap_history"]] == versions[1:]
    (replica,) = following["replica_models"].values()
    assert replica["model_update"]["status"] == "applied", replica
    assert replica["model_update"]["version"] == last
    tail_from = stream.sent
    stream.send(50)
    sent = stream.stop()

    outputs = consume_predictions(
        platform.bootstrap_servers,
        inference["output_topic"],
        sent,
        timeout=60,
        keep=lambda body: body["model_version"],
    )
    lost = sorted(set(range(sent)) - set(outputs))
    assert not lost, f"{len(lost)} of {sent} records without an output: {lost[:20]}"
    assert {outputs[k] for k in range(tail_from, sent)} == {last}
    served = set(outputs.values())  # records flowed the whole time: each version answered
    assert served == set(versions), f"outputs from versions {served} of {versions}"

    # one replica process from the first version to the last: swapped, never restarted
    assert replica_pids(platform, serving) == pids
    assert platform.workload(serving).restarts == 0
    log = (platform.data_dir / "workloads" / serving / "replica-0.log").read_text()
    for version in versions[1:]:
        assert f"switched to model version {version} " in log, log[-3000:]
    platform.wait_workload(f"training-result-{result_id}", lambda s: s.state == "succeeded")
    sink.close()
    platform.api("POST", f"inferences/{inference['id']}/stop/")
