"""Training worker benchmark: prints one JSON object.

1. ``read_records_per_s``: records per second from Kafka into the training arrays
   (``model_training.dataset.read_ranges``: consume, decode with the RAW codec, seeded-shuffle
   write into the preallocated array) for 784-byte (28x28 uint8) records. Target >= 100,000/s.
2. ``platform_over_fit``: the time to train 20,000 digit-like 28x28 records for 5 epochs through
   the platform (``TrainingWorker.run``: start the sandboxed trainer in the jail, read the
   announced ranges, hand them over as .npy files, fit with per-epoch reports, evaluate,
   export native + ONNX, upload) divided by the same Keras ``fit`` on in-memory arrays of the
   same split, in this (warm) process. Target <= 1.3.
   ``trainer_start_s`` is the sandboxed trainer's start (a fresh Python importing TensorFlow
   and building the model: the cost of the process split), and
   ``platform_over_fit_without_trainer_start`` the ratio without it, i.e. what the same run
   costs when the user code runs in the worker's own warm process, as before the split.

    python bench/training.py [--read-records 200000] [--train-records 20000] [--epochs 5]

Uses the embedded broker unless KAFKA_BOOTSTRAP_SERVERS is set.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
import uuid

os.environ.setdefault("KAFKAML_TRAINING_THREADS", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

MODEL_IMPORTS = "import tensorflow as tf"
MODEL_CODE = """
model = tf.keras.Sequential([
    tf.keras.layers.Input((28, 28)),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Rescaling(1 / 255),
    tf.keras.layers.Dense(128, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""
RAW_CONFIG = {"data_type": "uint8", "label_type": "uint8", "data_reshape": "28 28"}


def digit_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn digits upscaled from 8x8 to 28x28 (0..255) plus noise."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(digits.images), n)
    idx = (np.arange(28) * 8) // 28
    big = digits.images[pick][:, idx][:, :, idx] * (255 / 16)
    noisy = big + rng.normal(0, 20, big.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8), digits.target[pick].astype(np.uint8)


def send(bootstrap: str, topic: str, images, labels, **kwargs) -> dict:
    from kafkaml.broker import ensure_topics

    from datasources.raw_sink import RawSink

    ensure_topics(bootstrap, [topic])
    sink = RawSink(
        bootstrap_servers=bootstrap,
        topic=topic,
        deployment_id=1,
        data_type="uint8",
        label_type="uint8",
        data_reshape="28 28",
        control_topic=f"{topic}-control",
        **kwargs,
    )
    for start in range(0, len(images), 10000):
        sink.send_batch(images[start : start + 10000], labels[start : start + 10000])
    return sink.close()


def bench_read(bootstrap: str, n: int, repeats: int) -> dict:
    from datasources.codecs import get_codec
    from model_training.dataset import parse_ranges, read_ranges

    images, labels = digit_like(n, seed=1)
    message = send(bootstrap, f"bench-read-{uuid.uuid4().hex[:8]}", images, labels)
    codec = get_codec("RAW", RAW_CONFIG)
    rates = []
    for i in range(repeats):
        started = time.perf_counter()
        data = read_ranges(bootstrap, parse_ranges(message["topic"]), codec, seed=i)
        elapsed = time.perf_counter() - started
        assert len(data) == n and data.x.shape == (n, 28, 28)
        rates.append(n / elapsed)
    return {
        "read_records": n,
        "read_record_bytes": 784,
        "read_records_per_s": round(max(rates)),
        "read_records_per_s_runs": [round(r) for r in rates],
        "read_mb_per_s": round(max(rates) * 784 / 1e6, 1),
    }


def bench_train(bootstrap: str, n: int, epochs: int, batch: int) -> dict:
    from mlcode_executor.usercode import build_model
    from model_training.job import DatasourceSpec, ModelSpec, TrainingJob, TrainingSettings
    from model_training.reporting import MemoryReporter
    from model_training.worker import TrainingWorker

    images, labels = digit_like(n, seed=2)
    message = send(
        bootstrap,
        f"bench-train-{uuid.uuid4().hex[:8]}",
        images,
        labels,
        validation_rate=0.1,
        test_rate=0.1,
    )
    source = DatasourceSpec.from_message(message)
    n_test, n_val = round(n * 0.1), round(n * 0.1)
    n_train = n - n_val - n_test
    order = np.random.default_rng(0).permutation(n)
    x, y = images[order], labels[order]
    fit_kwargs = {"epochs": epochs, "batch_size": batch, "verbose": 0}

    # warm up TensorFlow (first graph building) so neither side pays for it
    warm = build_model("tensorflow", MODEL_IMPORTS, MODEL_CODE)
    warm.fit(x[:256], y[:256], epochs=1, batch_size=batch, verbose=0)

    model = build_model("tensorflow", MODEL_IMPORTS, MODEL_CODE)
    started = time.perf_counter()
    model.fit(
        x[:n_train],
        y[:n_train],
        validation_data=(x[n_train : n_train + n_val], y[n_train : n_train + n_val]),
        **fit_kwargs,
    )
    fit_time = time.perf_counter() - started
    baseline_acc = model.evaluate(x[n_train + n_val :], y[n_train + n_val :], verbose=0)[1]

    job = TrainingJob(
        models=(ModelSpec(MODEL_CODE, "tensorflow", MODEL_IMPORTS),),
        settings=TrainingSettings(batch=batch, kwargs_fit=fit_kwargs, seed=0),
        datasource=source,
    )
    reporter = MemoryReporter()
    started = time.perf_counter()
    worker = TrainingWorker(job, [reporter], bootstrap=bootstrap)
    status = worker.run()
    platform_time = time.perf_counter() - started
    if status != "finished":
        raise RuntimeError(f"platform training {status}: {reporter.error}")
    summary = reporter.artifacts[0][1]
    return {
        "train_records": n,
        "epochs": epochs,
        "batch_size": batch,
        "fit_in_memory_s": round(fit_time, 2),
        "platform_total_s": round(platform_time, 2),
        "platform_read_s": round(summary["read_time"], 2),
        "platform_fit_s": round(summary["training_time"], 2),
        "trainer_start_s": round(worker.timings["trainer_start"], 2),
        "platform_over_fit": round(platform_time / fit_time, 3),
        "platform_over_fit_without_trainer_start": round(
            (platform_time - worker.timings["trainer_start"]) / fit_time, 3
        ),
        "platform_fit_over_fit": round(summary["training_time"] / fit_time, 3),
        "test_accuracy_platform": round(summary["test_metrics"]["accuracy"], 4),
        "test_accuracy_in_memory": round(float(baseline_acc), 4),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--read-records", type=int, default=200_000)
    parser.add_argument("--read-repeats", type=int, default=3)
    parser.add_argument("--train-records", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING)
    from model_training.settings import configure_threads

    configure_threads()
    with contextlib.ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            from kafkaml.broker import EmbeddedBroker

            bootstrap = stack.enter_context(EmbeddedBroker()).bootstrap_servers
        result = {
            "benchmark": "training",
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "threads": int(os.environ["KAFKAML_TRAINING_THREADS"]),
            "broker": "embedded (tansu)"
            if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ
            else bootstrap,
        }
        result.update(bench_read(bootstrap, args.read_records, args.read_repeats))
        result.update(bench_train(bootstrap, args.train_records, args.epochs, args.batch))
        result["targets"] = {"read_records_per_s": ">= 100000", "platform_over_fit": "<= 1.3"}
        result["targets_met"] = {
            "read": result["read_records_per_s"] >= 100_000,
            "train": result["platform_over_fit"] <= 1.3,
        }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
