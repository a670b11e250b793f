"""Incremental training that ends by itself, served by an inference that follows it.

A time-limited incremental deployment trains on a stream of digits arriving in windows of 300
(``OnlineRawSink``); each window that improves ``val_loss`` becomes a new model version. After
version 1 an inference is deployed with ``follow_latest``: it switches to each newer version
without a restart. After each later window the example sends held-out digits to the inference
and prints which versions answered and how well; the next window follows within
``stream_timeout`` seconds, since a time-limited run ends after that long without data. With no more data the run ends after
``stream_timeout`` seconds and its result finishes.

    KAFKAML_PASSWORD=... python examples/digits_incremental.py
"""

import time
from collections import Counter

import numpy as np
from _platform import (
    call,
    create_model,
    deploy,
    deploy_inference,
    digits,
    raw_sink,
    read_outputs,
    send_images,
    session,
    topic,
)
from digits_keras import CODE  # the same small Keras classifier

WINDOW, WINDOWS, EPOCHS, STREAM_TIMEOUT = 300, 4, 5, 15
HELD_OUT = 200


def result(http, result_id: int, done, timeout: float = 300) -> dict:
    """The result once ``done`` (or final); after ``timeout`` s, as it is then."""
    deadline = time.monotonic() + timeout
    while True:
        current = call(http, "GET", f"results/{result_id}/")
        final = current["status"] in ("finished", "failed", "stopped")
        if done(current) or final or time.monotonic() > deadline:
            return current
        time.sleep(0.5)


def ask(http, inference: dict, images, labels, first_key: int) -> None:
    """Held-out digits through the inference: which versions answered, and how well."""
    send_images(inference["input_topic"], images, first_key)
    outputs = read_outputs(http, inference["output_topic"], first_key + len(images))
    answers = [outputs[first_key + i] for i in range(len(images)) if first_key + i in outputs]
    versions = Counter(answer["model_version"] for answer in answers)
    correct = sum(int(np.argmax(answer["values"])) == labels[i] for i, answer in enumerate(answers))
    print(
        f"  inference: {len(answers)}/{len(images)} answered by versions {dict(versions)}, "
        f"accuracy {correct / max(len(answers), 1):.1%}"
    )


if __name__ == "__main__":
    http = session()
    x, y = digits()
    test_x, test_y = x[-HELD_OUT:], y[-HELD_OUT:]
    model = create_model(http, "digits-incremental", "tensorflow", "import tensorflow as tf", CODE)
    deployment = deploy(
        http,
        "digits-incremental",
        [model["id"]],
        batch_size=32,
        training_kwargs=f"epochs={EPOCHS}",
        incremental=True,
        incremental_mode="time_limited",
        window_size=WINDOW,
        stream_timeout=STREAM_TIMEOUT,
    )
    (result_id,) = [r["id"] for r in deployment["results"]]
    stream = topic(http, f"digits-incremental-{deployment['id']}")
    sink = raw_sink(deployment["id"], stream, online=True, validation_rate=0.2, test_rate=0)

    def send_window(window: int) -> None:
        rows = slice(window * WINDOW, (window + 1) * WINDOW)
        sink.send_batch(x[rows], y[rows])
        sink.flush()
        print(f"window {window + 1}: sent {WINDOW} digits")

    def epochs(count: int) -> dict:
        return result(http, result_id, lambda r: len(r["epoch_metrics"]) >= count)

    def serving(version: int, timeout: float = 60) -> None:
        """Wait for the replica to switch to ``version`` (between two batches)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replicas = call(http, "GET", f"inferences/{inference['id']}/")["replica_models"]
            if [r["model_version"] for r in replicas.values()] == [version]:
                return
            time.sleep(0.5)

    send_window(0)
    epochs(EPOCHS)
    result(http, result_id, lambda r: r["artifacts"])  # version 1 is uploaded
    inference = deploy_inference(
        http, result_id, f"digits-incremental-{deployment['id']}", follow_latest=True
    )
    serving(1)
    print(f"inference {inference['id']} serves version 1 and follows result {result_id}")
    for window in range(1, WINDOWS):
        send_window(window)
        epochs((window + 1) * EPOCHS)
        # an improvement is uploaded just after the window's epochs (none: 10 s in vain)
        current = result(
            http,
            result_id,
            lambda r, n=window + 1: any(a["metrics"].get("window") == n for a in r["artifacts"]),
            timeout=10,
        )
        serving(max(a["version"] for a in current["artifacts"]))
        ask(http, inference, test_x, test_y, first_key=(window - 1) * HELD_OUT)
    sink.close()

    print(f"no more data: the run ends {STREAM_TIMEOUT} s after its last window")
    final = result(http, result_id, lambda r: False)
    for artifact in sorted(final["artifacts"], key=lambda a: a["version"]):
        print(f"  version {artifact['version']}: {artifact['metrics']['monitored']}")
    print(f"result {result_id}: {final['status']}")
    serving(max(a["version"] for a in final["artifacts"]))
    ask(http, inference, test_x, test_y, first_key=(WINDOWS - 1) * HELD_OUT)
    following = call(http, "GET", f"inferences/{inference['id']}/")
    swaps = [entry["to"]["version"] for entry in following["swap_history"]]
    print(f"inference {inference['id']} swapped to versions {swaps} without a restart")
    call(http, "POST", f"inferences/{inference['id']}/stop/")
