"""End to end through the real broker: stream digits, train, evaluate, export, report."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from datasources.raw_sink import RawSink  # noqa: F401 - imported before the worker threads
from model_training.job import ModelSpec, TrainingJob, TrainingSettings
from model_training.reporting import MemoryReporter
from model_training.tests.conftest import (
    KERAS_CODE,
    KERAS_IMPORTS,
    TORCH_CODE,
    TORCH_IMPORTS,
    stream_digits,
)
from model_training.worker import TrainingWorker


def run_worker(job, reporters, broker, backend=None, stop=None):
    worker = TrainingWorker(
        job, reporters, bootstrap=broker.bootstrap_servers, backend=backend, stop_event=stop
    )
    return worker.run()


@pytest.mark.django_db(transaction=True)
def test_keras_and_pytorch_train_from_one_stream(
    broker, user_topic, control_topic, control_logger, deployed, digits, tmp_path
):
    images, labels = digits
    deployment_id = deployed.id
    settings = dict(batch=32, kwargs_fit={"epochs": 4}, confusion_matrix=True, seed=1)
    jobs = {
        "keras": TrainingJob(
            models=(ModelSpec(KERAS_CODE, "tensorflow", KERAS_IMPORTS, name="keras"),),
            settings=TrainingSettings(**settings),
            deployment_id=deployment_id,
        ),
        "torch": TrainingJob(
            models=(ModelSpec(TORCH_CODE, "pytorch", TORCH_IMPORTS, name="torch"),),
            settings=TrainingSettings(**settings),
            deployment_id=deployment_id,
        ),
    }
    reporters = {name: MemoryReporter(keep_dir=tmp_path / name) for name in jobs}
    statuses = {}
    stop = threading.Event()
    # both workers wait for the datasource the backend registers for the same deployment
    # (from the sink's control message, through the control logger), like two results
    threads = [
        threading.Thread(
            target=lambda n=name: statuses.__setitem__(
                n, run_worker(jobs[n], [reporters[n]], broker, deployed.backend(), stop)
            ),
            daemon=True,
        )
        for name in jobs
    ]
    for t in threads:
        t.start()
    try:
        message = stream_digits(
            broker.bootstrap_servers,
            user_topic,
            deployment_id,
            images,
            labels,
            control_topic=control_topic,
        )
        assert message["total_msg"] == len(images)
        for t in threads:
            t.join(240)
    finally:
        stop.set()

    for name, reporter in reporters.items():
        assert statuses[name] == "finished", reporter.statuses
        assert [s for s, _ in reporter.statuses] == ["deployed", "finished"]
        assert [e for e, _ in reporter.epochs] == [1, 2, 3, 4]
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(reporter.epochs[-1][1])
        ((directory, summary),) = reporter.artifacts
        assert summary["test_metrics"]["accuracy"] > 0.5, summary  # chance is 0.1
        assert summary["seed"] == 1 and summary["version"] == 1
        matrix = np.array(summary["confusion_matrix"])
        assert matrix.shape == (10, 10) and matrix.sum() == round(len(images) * 0.2)
        meta = json.loads((directory / "metadata.json").read_text())
        assert meta["inputs"][0]["shape"] == [None, 8, 8]
        assert meta["outputs"][0]["shape"] == [None, 10]
        assert meta["input_format"] == "RAW" and meta["input_config"]["data_reshape"] == "8 8"
        assert meta["distributed"] is False and meta["version"] == 1
        assert meta["onnx_max_abs_diff"] < 1e-4
        # Keras ends in a softmax; the PyTorch template in nn.Linear (CrossEntropyLoss): logits
        assert meta["output_kind"] == {"keras": "probabilities", "torch": "logits"}[name]

    # the native files load without the user's code and agree with ONNX on a batch
    import onnxruntime as ort

    batch = images[:16].astype(np.float32)
    for name, native in (("keras", "model.keras"), ("torch", "model.pt")):
        directory = reporters[name].artifacts[0][0]
        meta = json.loads((directory / "metadata.json").read_text())
        assert {"native": native, "onnx": "model.onnx"}.items() <= meta["files"].items()
        session = ort.InferenceSession(str(directory / "model.onnx"))
        onnx_out = session.run(None, {meta["inputs"][0]["name"]: batch})[0]
        if name == "keras":
            import keras

            native_out = np.asarray(keras.saving.load_model(directory / native)(batch))
        else:
            import torch

            native_out = torch.jit.load(str(directory / native))(torch.from_numpy(batch))
            native_out = native_out.detach().numpy()
        assert np.allclose(onnx_out, native_out, atol=1e-4)


def test_wrong_size_record_fails_the_result_naming_the_offset(
    broker, unique_topic, control_topic, deployment_id, digits
):
    from confluent_kafka import Producer

    images, labels = digits
    stream_digits(
        broker.bootstrap_servers,
        unique_topic,
        deployment_id,
        images[:50],
        labels[:50],
        control_topic=f"{control_topic}-unused",
    )
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    offsets = []
    producer.produce(
        unique_topic,
        bytes(63),
        b"\x01",
        partition=0,
        on_delivery=lambda e, m: offsets.append(m.offset()),
    )
    producer.flush(10)
    bad = offsets[0]
    from model_training.job import DatasourceSpec

    source = DatasourceSpec(
        topic=f"{unique_topic}:0:0:{bad + 1}",
        input_config={"data_type": "uint8", "label_type": "uint8", "data_reshape": "8 8"},
        test_rate=0.2,
    )
    job = TrainingJob(
        models=(ModelSpec(KERAS_CODE, "tensorflow", KERAS_IMPORTS),),
        settings=TrainingSettings(kwargs_fit={"epochs": 1}),
        datasource=source,
    )
    reporter = MemoryReporter()
    assert run_worker(job, [reporter], broker) == "failed"
    assert reporter.status == "failed"
    assert f"{unique_topic}:0:{bad}" in reporter.error
    assert "offset" in reporter.error or "record at" in reporter.error
    assert reporter.log_tails[-1]


@pytest.mark.django_db(transaction=True)
def test_bad_model_code_fails_before_waiting_for_data(broker, deployed):
    job = TrainingJob(
        models=(ModelSpec("model = undefined_name", "tensorflow", ""),),
        deployment_id=deployed.id,
    )
    reporter = MemoryReporter()
    assert run_worker(job, [reporter], broker, deployed.backend()) == "failed"
    assert "undefined_name" in reporter.error


def test_without_a_datasource_or_a_backend_nothing_is_read(broker):
    job = TrainingJob(models=(ModelSpec(KERAS_CODE, "tensorflow", KERAS_IMPORTS),), deployment_id=7)
    reporter = MemoryReporter()
    assert run_worker(job, [reporter], broker) == "failed"
    assert "no backend" in reporter.error


def test_unknown_framework_is_rejected():
    from model_training.trainers import get_trainer

    with pytest.raises(ValueError, match="unknown framework"):
        get_trainer("sklearn")
    with pytest.raises(ValueError, match="unknown framework"):
        TrainingJob(models=(ModelSpec("model = 1", "mxnet"),))
