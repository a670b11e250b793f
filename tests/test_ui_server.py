"""What the UI relies on from a real ``kafkaml up`` (issue 13): the API docs' Swagger UI files
are served, every unknown /api/ path answers JSON, and the inference page's "How to send
records" snippet, rendered by the UI's own code, runs against the embedded broker."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.e2e_platform.harness import local_platform

ROOT = Path(__file__).resolve().parents[1]
RENDER = Path(__file__).with_name("render_snippet.mjs")
BUNDLE = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"

pytestmark = pytest.mark.slow


def render_snippet(name: str, argument: dict) -> str:
    if not shutil.which("node") or not (ROOT / "frontend/node_modules/typescript").is_dir():
        pytest.skip("node and the frontend's node_modules are needed to render the snippet")
    result = subprocess.run(
        ["node", str(RENDER), name, json.dumps(argument)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with local_platform(tmp_path_factory.mktemp("ui")) as running:
        yield running


def test_swagger_ui_page_and_its_javascript_are_served(platform):
    page = platform.http.get(f"{platform.url}/api/docs/", timeout=30)
    assert page.status_code == 200, page.text[:500]
    assert BUNDLE in page.text
    # The files themselves need no login (the page that uses them does).
    for path in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        response = requests.get(f"{platform.url}{path}", timeout=30)
        assert response.status_code == 200, path
    bundle = requests.get(f"{platform.url}{BUNDLE}", timeout=30)
    assert bundle.status_code == 200
    assert "javascript" in bundle.headers["Content-Type"]
    assert b"SwaggerUIBundle" in bundle.content


@pytest.mark.parametrize("path", ["/api/v1/health/", "/api/v1/no-such-thing/", "/api/x"])
def test_unknown_api_paths_answer_json_on_the_real_server(platform, path):
    response = requests.get(f"{platform.url}{path}", timeout=30)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["detail"].startswith("Not found")


def test_the_inference_snippet_compiles():
    code = render_snippet(
        "inferenceSnippet",
        {
            "bootstrapServers": "localhost:9092",
            "inputTopic": "a.in",
            "outputTopic": "a.out",
            "inputFormat": "RAW",
            "inputConfig": {"data_type": "float32"},
            "groupPrefix": "alice.",
            "security": {"protocol": "SASL_SSL", "mechanism": "SCRAM-SHA-512", "username": "u"},
        },
    )
    compile(code, "snippet.py", "exec")


def test_the_inference_snippet_waits_for_an_output_topic_created_after_it_starts(
    platform, tmp_path
):
    """The reader subscribes before the output topic exists (UNKNOWN_TOPIC_OR_PART must not
    crash it), and a new consumer group may take tens of seconds to get its first record."""
    out_topic = f"admin.snippet-{int(time.time())}-out"
    code = render_snippet(
        "inferenceSnippet",
        {
            "bootstrapServers": platform.bootstrap_servers,
            "inputTopic": "admin.snippet-in",
            "outputTopic": out_topic,
            "inputFormat": "RAW",
            "inputConfig": {"data_type": "float32"},
            "groupPrefix": "admin.",
            "deadlineSeconds": 90,
        },
    )
    script = tmp_path / "snippet.py"
    script.write_text(code)
    reader = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )

    def predictions_later():
        from confluent_kafka import Producer

        time.sleep(5)
        producer = Producer({"bootstrap.servers": platform.bootstrap_servers})
        for i in range(100):
            producer.produce(out_topic, json.dumps({"prediction": i % 10}).encode())
        producer.flush(30)

    writer = threading.Thread(target=predictions_later, daemon=True)
    writer.start()
    try:
        output, _ = reader.communicate(timeout=150)
    finally:
        reader.kill()
    assert reader.returncode == 0, output
    assert "{'prediction': 0}" in output, output
    assert "Traceback" not in output and "no prediction" not in output, output
