"""The inference worker's Prometheus /metrics: scraped over HTTP after real traffic on the
embedded broker, parsed with prometheus_client's own parser."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from .conftest import ThreadWorker, images, make_worker, produce, read_topics, topics, wait_for

parser = pytest.importorskip("prometheus_client.parser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def samples(families, name, replica):
    return [
        s
        for f in families.values()
        for s in f.samples
        if s.name == name and s.labels.get("replica") == replica
    ]


def value(families, name, replica, **labels):
    found = [
        s.value
        for s in samples(families, name, replica)
        if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert found, f"{name} missing for {replica}"
    return found[0]


def test_worker_metrics_endpoint_carries_the_documented_series(
    broker, unique_topic, onnx_artifact, monkeypatch
):
    from worker_common.prometheus import start_metrics_server

    port = free_port()
    monkeypatch.setenv("KAFKAML_METRICS_ADDR", "127.0.0.1")
    assert start_metrics_server(port) == port
    src, out = unique_topic, f"{unique_topic}.out"
    topics(broker, src, out)
    n = 300
    produce(broker, src, [x.tobytes() for x in images(n, seed=5)] + [b"garbage"])
    worker = make_worker(broker, onnx_artifact, src, out, batch_size=64, replica="prom-r1")
    worker.metrics.inference = "7"
    runner = ThreadWorker(worker).start()
    try:
        assert len(read_topics(broker, [out], expected=n, timeout=60)) == n
        assert wait_for(lambda: worker.metrics.records_out + worker.metrics.errors >= n + 1)
        assert wait_for(lambda: worker.metrics.model_version is not None, timeout=10)
        families = scrape(port)
    finally:
        runner.stop()

    r = "prom-r1"
    assert value(families, "kafkaml_inference_records_in_total", r) == n + 1
    assert value(families, "kafkaml_inference_records_out_total", r) == n
    assert value(families, "kafkaml_inference_errors_total", r) == 1
    assert value(families, "kafkaml_inference_upper_records_total", r) == 0
    assert value(families, "kafkaml_inference_model_swaps_total", r) == 0
    assert value(families, "kafkaml_inference_model_version_info", r, version="1") == 1
    assert value(families, "kafkaml_inference_consumer_lag", r) >= 0
    assert families["kafkaml_inference_records_in"].type == "counter"
    # histograms: counts and sums add up, buckets are cumulative
    assert families["kafkaml_inference_batch_size"].type == "histogram"
    batches = value(families, "kafkaml_inference_batch_size_count", r)
    assert 1 <= batches <= n + 1
    assert value(families, "kafkaml_inference_batch_size_sum", r) == n + 1
    assert value(families, "kafkaml_inference_batch_size_bucket", r, le="64.0") == batches
    latency = samples(families, "kafkaml_inference_latency_seconds_bucket", r)
    counts = [s.value for s in sorted(latency, key=lambda s: float(s.labels["le"]))]
    assert counts == sorted(counts) and counts[-1] == n + 1
    assert value(families, "kafkaml_inference_latency_seconds_count", r) == n + 1
    assert 0 < value(families, "kafkaml_inference_latency_seconds_sum", r) < 60 * (n + 1)
    assert all(s.labels["inference"] == "7" for s in latency)


def test_metrics_port_setting(monkeypatch):
    from worker_common.prometheus import metrics_port, start_metrics_server

    assert metrics_port({}) == 0
    assert metrics_port({"KAFKAML_METRICS_PORT": "0"}) == 0
    assert metrics_port({"KAFKAML_METRICS_PORT": "x"}) == 0
    assert metrics_port({"KAFKAML_METRICS_PORT": "9102"}) == 9102
    monkeypatch.delenv("KAFKAML_METRICS_PORT", raising=False)
    assert start_metrics_server() == 0  # off by default
