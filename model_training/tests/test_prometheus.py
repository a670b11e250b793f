"""The training worker's Prometheus /metrics: a real (small) PyTorch run on the embedded broker,
scraped over HTTP and parsed with prometheus_client's parser."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from model_training.job import DatasourceSpec, ModelSpec, TrainingJob, TrainingSettings
from model_training.metrics import instrumented
from model_training.reporting import MemoryReporter
from model_training.tests.conftest import TORCH_CODE, TORCH_IMPORTS, stream_digits
from model_training.worker import TrainingWorker

parser = pytest.importorskip("prometheus_client.parser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return [s for f in parser.text_string_to_metric_families(text) for s in f.samples]


def value(samples, series, **labels):
    found = [
        s.value
        for s in samples
        if s.name == series and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert found, f"{series} {labels} missing"
    return found[0]


def test_training_metrics_after_a_run(broker, unique_topic, deployment_id, digits, monkeypatch):
    from worker_common.prometheus import start_metrics_server

    monkeypatch.setenv("KAFKAML_METRICS_ADDR", "127.0.0.1")
    port = start_metrics_server(free_port())
    assert port
    images, labels = digits
    n = 300
    stream_digits(
        broker.bootstrap_servers,
        unique_topic,
        deployment_id,
        images[:n],
        labels[:n],
        control_topic=f"{unique_topic}-control-unused",
    )
    job = TrainingJob(
        models=(ModelSpec(TORCH_CODE, "pytorch", TORCH_IMPORTS, name="torch"),),
        settings=TrainingSettings(batch=32, kwargs_fit={"epochs": 3}, seed=1),
        datasource=DatasourceSpec(
            topic=f"{unique_topic}:0:0:{n}",
            input_config={"data_type": "uint8", "label_type": "uint8", "data_reshape": "8 8"},
            validation_rate=0.1,
            test_rate=0.2,
        ),
    )
    memory = MemoryReporter()
    reporters = instrumented([memory], ["prom-41"])
    worker = TrainingWorker(job, reporters, bootstrap=broker.bootstrap_servers)
    assert worker.run() == "finished", memory.statuses
    assert [e for e, _ in reporters[0].epochs] == [1, 2, 3]  # delegation to the reporter

    samples = scrape(port)
    r = "prom-41"
    assert value(samples, "kafkaml_training_epochs_total", result=r) == 3
    assert value(samples, "kafkaml_training_epoch", result=r) == 3
    last = memory.epochs[-1][1]
    assert value(samples, "kafkaml_training_metric", result=r, name="loss") == pytest.approx(
        last["loss"]
    )
    assert 0 <= value(samples, "kafkaml_training_metric", result=r, name="accuracy") <= 1
    assert value(samples, "kafkaml_training_status", result=r, status="finished") == 1
    assert value(samples, "kafkaml_training_status", result=r, status="deployed") == 0
    assert value(samples, "kafkaml_training_artifacts_total", result=r) == 1
