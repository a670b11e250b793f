"""Formats besides native + ONNX, exported by the sandboxed trainer (real jail, real frameworks,
real broker): TensorFlow Lite float and int8 (calibrated on training rows, both evaluated on the
test split), Keras ``.h5`` and PyTorch ``state_dict``; and each one downloaded from the backend
(``?kind=tflite``, ``tflite_int8``, ``h5``, ``state_dict``) loads.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import numpy as np
import pytest
from kafkaml.conftest import training_client, workload_client  # noqa: F401

from model_training.job import DatasourceSpec, ModelSpec, TrainingJob, TrainingSettings
from model_training.reporting import MemoryReporter
from model_training.tests.conftest import (
    KERAS_CODE,
    KERAS_IMPORTS,
    TORCH_CODE,
    TORCH_IMPORTS,
    stream_digits,
)
from model_training.worker import TrainingWorker

# Heavy training runs: the embedded broker only (make test-kafka does not rerun them).
pytestmark = pytest.mark.embedded_broker_only


@pytest.fixture(scope="module")
def source(broker, digits):
    topic = f"t-exports-{uuid.uuid4().hex[:8]}"
    images, labels = digits
    message = stream_digits(
        broker.bootstrap_servers, topic, 1, images, labels, control_topic=f"{topic}-control"
    )
    return DatasourceSpec.from_message(message)


def _train(broker, source, tmp_path_factory, framework, code, imports, epochs):
    job = TrainingJob(
        models=(ModelSpec(code, framework, imports, name=framework),),
        settings=TrainingSettings(kwargs_fit={"epochs": epochs}, seed=1),
        datasource=source,
    )
    reporter = MemoryReporter(keep_dir=tmp_path_factory.mktemp(framework))
    status = TrainingWorker(job, [reporter], bootstrap=broker.bootstrap_servers).run()
    assert status == "finished", reporter.statuses
    ((directory, summary),) = reporter.artifacts
    return directory, summary, json.loads((directory / "metadata.json").read_text())


@pytest.fixture(scope="module")
def keras_run(broker, source, tmp_path_factory):
    return _train(broker, source, tmp_path_factory, "tensorflow", KERAS_CODE, KERAS_IMPORTS, 15)


@pytest.fixture(scope="module")
def torch_run(broker, source, tmp_path_factory):
    return _train(broker, source, tmp_path_factory, "pytorch", TORCH_CODE, TORCH_IMPORTS, 3)


def test_keras_exports_tflite_float_and_int8_with_their_test_accuracies(keras_run, digits):
    import tensorflow as tf

    from model_training import tinyml

    directory, summary, meta = keras_run
    assert meta["files"]["tflite"] == "model.tflite"
    assert meta["files"]["tflite_int8"] == "model_int8.tflite"
    lite = meta["tflite"]
    keras_accuracy = summary["test_metrics"]["accuracy"]
    float_accuracy = lite["tflite"]["test_accuracy"]
    int8_accuracy = lite["tflite_int8"]["test_accuracy"]
    print(f"keras {keras_accuracy:.4f} tflite {float_accuracy:.4f} int8 {int8_accuracy:.4f}")
    assert keras_accuracy > 0.8, summary
    # the float TFLite model is the Keras model: same test rows, same predictions
    assert abs(float_accuracy - keras_accuracy) < 0.005
    assert abs(int8_accuracy - float_accuracy) <= 0.02
    assert lite["tflite_int8"]["calibration_rows"] == 300

    images, labels = digits
    for filename, dtype in (("model.tflite", np.float32), ("model_int8.tflite", np.int8)):
        content = (directory / filename).read_bytes()
        interpreter = tf.lite.Interpreter(model_content=content)
        interpreter.allocate_tensors()
        assert interpreter.get_input_details()[0]["dtype"] == dtype
        # loads and classifies the whole data set (mostly training rows) well
        scores = tinyml.predict(content, images.astype(np.float32))
        assert scores.shape == (len(images), 10)
        assert tinyml.accuracy(labels, scores) > 0.8


def test_keras_exports_a_loadable_h5(keras_run, digits):
    import keras

    directory, _, meta = keras_run
    assert meta["files"]["h5"] == "model.h5"
    batch = digits[0][:16].astype(np.float32)
    native = keras.saving.load_model(directory / "model.keras")
    h5 = keras.models.load_model(directory / "model.h5")
    assert np.allclose(np.asarray(h5(batch)), np.asarray(native(batch)), atol=1e-5)


def test_pytorch_exports_a_state_dict_that_loads_into_a_fresh_model(torch_run, digits):
    import torch
    from torch import nn  # noqa: F401 (the model code's imports)

    directory, _, meta = torch_run
    assert meta["files"]["state_dict"] == "model_state_dict.pt"
    assert "tflite" not in meta["files"] and "h5" not in meta["files"]
    state = torch.load(directory / "model_state_dict.pt", weights_only=True)
    namespace: dict = {}
    exec(TORCH_IMPORTS + TORCH_CODE, namespace)  # the same code, a fresh (untrained) model
    fresh = namespace["model"]
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        k: tuple(v.shape) for k, v in fresh.state_dict().items()
    }
    fresh.load_state_dict(state)
    fresh.eval()
    batch = torch.from_numpy(digits[0][:16].astype(np.float32))
    native = torch.jit.load(str(directory / "model.pt"))
    with torch.no_grad():
        assert torch.allclose(fresh(batch), native(batch), atol=1e-5)


def _archive(directory) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(directory.iterdir()):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


@pytest.mark.django_db(transaction=True)
def test_each_format_downloads_from_the_backend(
    keras_run,
    torch_run,
    client,
    training_client,  # noqa: F811
    make_deployment,
    make_model,
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    runs = {"tensorflow": keras_run, "pytorch": torch_run}
    kinds = {"tensorflow": ["h5", "tflite", "tflite_int8"], "pytorch": ["state_dict"]}
    for framework, (directory, summary, meta) in runs.items():
        result_id = make_deployment(models=[make_model(framework=framework)])["results"][0]["id"]
        response = training_client(result_id).post(
            f"/api/v1/worker/results/{result_id}/artifacts/",
            {
                "archive": SimpleUploadedFile("model.tar.gz", _archive(directory)),
                "summary": json.dumps(summary),
            },
            format="multipart",
        )
        assert response.status_code == 201, response.content
        artifact = client.get(f"/api/v1/results/{result_id}/").json()["artifacts"][0]
        if framework == "tensorflow":
            assert artifact["metadata"]["tflite"]["tflite_int8"]["test_accuracy"] > 0.8
        for kind in kinds[framework]:
            download = client.get(f"/api/v1/results/{result_id}/download/?kind={kind}")
            assert download.status_code == 200, (kind, download.content)
            body = b"".join(download.streaming_content)
            assert body == (directory / meta["files"][kind]).read_bytes()
            assert download["Content-Disposition"].endswith(f'{meta["files"][kind]}"')
        missing = "state_dict" if framework == "tensorflow" else "tflite"
        response = client.get(f"/api/v1/results/{result_id}/download/?kind={missing}")
        assert response.status_code == 404
