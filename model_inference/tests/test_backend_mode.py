"""``--inference-id``: settings, artifact and hot swap from the backend's worker API, metrics
posted back. The backend is a small HTTP server speaking the contract (docs/contracts.md)."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from model_inference.testing import write_mlp_artifact

from .conftest import ThreadWorker, images, outputs_by_key, produce, read_topics, topics, wait_for


def _tar(directory) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(directory, arcname="artifact")  # wrapped in a folder: the worker must find it
    return buf.getvalue()


class FakeBackend:
    def __init__(self, inference: dict, archives: dict):
        self.inference = inference
        self.archives = archives  # (result_id, version) -> tar.gz bytes
        self.metrics: list[dict] = []
        self.downloads: list[tuple] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body: bytes, ctype="application/json"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                assert self.headers["Authorization"] == "Workload secret"
                url = urlparse(self.path)
                parts = url.path.strip("/").split("/")
                if parts[:4] == ["api", "v1", "worker", "inferences"]:
                    return self._send(200, json.dumps(backend.inference).encode())
                if parts[:4] == ["api", "v1", "worker", "results"] and parts[5] == "artifacts":
                    version = int(parse_qs(url.query)["version"][0])
                    backend.downloads.append((int(parts[4]), version))
                    data = backend.archives[(int(parts[4]), version)]
                    return self._send(200, data, "application/gzip")
                self._send(404, b"{}")

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path.endswith("/metrics/"):
                    backend.metrics.append(json.loads(body))
                    return self._send(201, b"{}")
                self._send(404, b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def backend(tmp_path, mlp, mlp2):
    archives = {
        (3, 1): _tar(write_mlp_artifact(tmp_path / "r3v1", mlp, version=1)),
        (4, 1): _tar(write_mlp_artifact(tmp_path / "r4v1", mlp2, version=1)),
    }
    fake = FakeBackend({}, archives)
    yield fake
    fake.close()


def test_backend_mode_serves_swaps_and_reports(
    broker, unique_topic, backend, monkeypatch, mlp, mlp2
):
    from model_inference.__main__ import make_worker

    # the backend only serves inferences on topics of their owner's namespace (``alice.``)
    src, out = f"alice.{unique_topic}", f"alice.{unique_topic}.out"
    topics(broker, src, out)
    backend.inference.update(
        id=9, status="running", replicas=1, input_format="RAW",
        input_config={"data_type": "uint8", "data_reshape": "28 28"},
        input_topic=src, output_topic=out, upper_topic=None, limit=None,
        result_id=3, model_version=1, batch_size=32, max_wait_ms=5, runtime="onnx",
    )  # fmt: skip
    monkeypatch.setenv("KAFKAML_BACKEND_URL", backend.url)
    monkeypatch.setenv("KAFKAML_API_TOKEN", "secret")
    worker = make_worker(
        ["--inference-id", "9", "--bootstrap-servers", broker.bootstrap_servers,
         "--metrics-interval", "0.5", "--swap-poll", "0.2", "--replica", "rep-0"]
    )  # fmt: skip
    assert worker.config.group_id == "kafkaml-inference-9" and worker.config.batch_size == 32
    running = ThreadWorker(worker).start()
    try:
        x = images(300, seed=31)
        produce(broker, src, [s.tobytes() for s in x[:150]])
        assert wait_for(lambda: worker.metrics.records_out >= 150, timeout=60)
        backend.inference.update(result_id=4, model_version=1)  # the user swaps the model
        assert wait_for(lambda: worker.metrics.swaps == 1, timeout=30)
        produce(
            broker,
            src,
            [s.tobytes() for s in x[150:]],
            keys=[str(i).encode() for i in range(150, 300)],
        )
        records = read_topics(broker, [out], expected=300, timeout=60)
        assert wait_for(lambda: any(m["records_out"] >= 300 for m in backend.metrics), timeout=10)
    finally:
        running.stop()
    got = outputs_by_key(records)
    assert sorted(got) == list(range(300))
    for i in range(300):
        model, result = (mlp, 3) if i < 150 else (mlp2, 4)
        assert got[i]["result_id"] == result and got[i]["model_version"] == 1
        np.testing.assert_allclose(got[i]["values"], model(x[i : i + 1])[0], rtol=1e-5, atol=1e-6)
    assert backend.downloads == [(3, 1), (4, 1)]
    report = backend.metrics[-1]
    assert report["replica"] == "rep-0"
    assert {"records_in", "records_out", "errors", "batch_size_avg", "latency_ms", "lag"} <= set(
        report
    )
