"""Semi-supervised training on digits: only 10 % of the training images carry a label.

400 digits are held out; of the others 10 % go out labelled (``RawSink.send``) and 90 % without
a label (``RawSink.unsupervised_send``, to the sink's ``unsupervised_topic``). A first deployment
trains on the labelled share alone (``unsupervised_rounds`` 0); a second re-uses the same
datasource with three pseudo-labelling rounds: the model labels the unlabelled images it is
sure about (``confidence_threshold``) and trains again on them. Both are measured on the
held-out digits with their ONNX export.

    KAFKAML_PASSWORD=... python examples/digits_semi_supervised.py
"""

import time

from _platform import (
    call,
    create_model,
    deploy,
    digits,
    onnx_accuracy,
    raw_sink,
    session,
    topic,
    wait_results,
)

CODE = """model = tf.keras.Sequential([
    tf.keras.Input(shape=(8, 8)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""  # small on purpose: 140 labelled images leave room for the unlabelled ones to help
HELD_OUT = 400
SETTINGS = {"batch_size": 16, "training_kwargs": "epochs=60, verbose=0", "seed": 1}


def registered_datasource(http, result_id: int, timeout: float = 60) -> int:
    """The datasource the control logger registered for a result's deployment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        datasource = call(http, "GET", f"results/{result_id}/")["provenance"]["datasource"]
        if datasource:
            return datasource["id"]
        time.sleep(1)
    raise SystemExit("the datasource was not registered in time")


if __name__ == "__main__":
    http = session()
    x, y = digits()
    test_x, test_y = x[:HELD_OUT], y[:HELD_OUT]
    rest_x, rest_y = x[HELD_OUT:], y[HELD_OUT:]
    labelled = len(rest_x) // 10

    model = create_model(
        http, "digits-semi-supervised", "tensorflow", "import tensorflow as tf", CODE
    )
    alone = deploy(http, "digits-semi-labelled", [model["id"]], **SETTINGS)
    stream = topic(http, f"digits-semi-{alone['id']}")
    sink = raw_sink(
        alone["id"],
        stream,
        validation_rate=0,
        test_rate=0,
        unsupervised_topic=f"{stream}-unlabelled",
    )
    for sample, label in zip(rest_x[:labelled], rest_y[:labelled], strict=True):
        sink.send(data=sample, label=label)
    for sample in rest_x[labelled:]:
        sink.unsupervised_send(sample)
    sink.close()
    print(f"sent {labelled} labelled and {len(rest_x) - labelled} unlabelled digits to {stream}")

    (labelled_only,) = wait_results(http, alone)
    pseudo = deploy(
        http,
        "digits-semi-pseudo",
        [model["id"]],
        datasource=registered_datasource(http, labelled_only["id"]),
        unsupervised_rounds=3,
        confidence_threshold=0.7,
        **SETTINGS,
    )
    (semi,) = wait_results(http, pseudo)
    rounds = call(http, "GET", f"results/{semi['id']}/")["artifacts"][0]["metrics"]
    for entry in rounds.get("pseudo_labelling", []):
        print(f"round {entry['round']}: {entry['pseudo_labelled']} images pseudo-labelled")
    before = onnx_accuracy(http, labelled_only["id"], test_x, test_y)
    after = onnx_accuracy(http, semi["id"], test_x, test_y)
    print(f"accuracy on {HELD_OUT} held-out digits: labelled only {before:.1%}, ", end="")
    print(f"after pseudo-labelling {after:.1%}")
