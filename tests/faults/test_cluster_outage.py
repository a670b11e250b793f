"""The whole three-node cluster stops for 30 s while an inference (at-least-once, backend
mode: settings, model and metrics through a live backend) is streaming, then starts again on
the same data: the API shows the inference degraded ("cluster unreachable since ...") while the
cluster is away and running again once it is back; the worker reconnects and drains with
nothing lost (duplicates are allowed at-least-once and printed)."""

from __future__ import annotations

import io
import tarfile
import time
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kafkaml.conftest import (  # noqa: F401 - the backend's fixtures
    client,
    make_deployment,
    make_model,
    training_client,
    user,
    workload_client,
)

from .streams import INPUT_CONFIG, Feeder, Replica, count, create_topics, mlp_artifact, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

N = 6000
RATE = 400.0  # records/s: a 15 s stream, the outage in the middle of it
OUTAGE_S = 30.0


def _finished_result(make_deployment, training_client, tmp_path) -> int:  # noqa: F811
    """A training result with a real (small ONNX) model uploaded through the worker API."""
    result_id = make_deployment()["results"][0]["id"]
    artifact = mlp_artifact(tmp_path / "model")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(artifact, arcname="artifact")
    response = training_client(result_id).post(
        f"/api/v1/worker/results/{result_id}/artifacts/",
        {
            "archive": SimpleUploadedFile("model.tar.gz", buf.getvalue()),
            "summary": '{"test_metrics": {"accuracy": 0.5}}',
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return result_id


def test_whole_cluster_away_for_30s_shows_degraded_then_drains_with_nothing_lost(
    cluster,
    fault_report,
    live_server,
    launcher,
    client,  # noqa: F811
    make_deployment,  # noqa: F811
    training_client,  # noqa: F811
    tmp_path,
):
    tag = uuid.uuid4().hex[:6]
    src, out = f"alice.outage-{tag}", f"alice.outage-{tag}.out"
    bootstrap = cluster.bootstrap_servers
    create_topics(bootstrap, {src: 4, out: 3})
    result_id = _finished_result(make_deployment, training_client, tmp_path)
    response = client.post(
        "/api/v1/inferences/",
        {
            "result": result_id,
            "input_format": "RAW",
            "input_config": INPUT_CONFIG,
            "input_topic": src,
            "output_topic": out,
            "batch_size": 128,
            "max_wait_ms": 5,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    inference = response.json()
    assert inference["delivery"] == "at_least_once"
    url = f"/api/v1/inferences/{inference['id']}/"
    spec = next(s for s in launcher.launched if s.component == "inference")
    replica = Replica(
        tmp_path,
        "r0",
        ["--inference-id", str(inference["id"]), "--cluster-timeout", "2"],
        env={
            "KAFKAML_BACKEND_URL": live_server.url,
            "KAFKAML_API_TOKEN": spec.secret_env["KAFKAML_API_TOKEN"],
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        },
    )
    try:
        assert wait_for(lambda: replica.partitions() == [0, 1, 2, 3], 90), replica.tail()
        assert wait_for(lambda: client.get(url).json()["live"]["replicas_reporting"] == 1, 30)
        assert client.get(url).json()["degraded"] is None

        feeder = Feeder(bootstrap, src, N, RATE).start()
        assert wait_for(lambda: replica.totals().get("records_out", 0) > 500, 30), replica.tail()
        stopped_at = time.monotonic()
        cluster.stop_all()
        sent_before = feeder.sent

        degraded = {}

        def shown_degraded():
            degraded.update(client.get(url).json()["degraded"] or {})
            return bool(degraded)

        assert wait_for(shown_degraded, 25, interval=0.5), replica.tail()
        seen_after = time.monotonic() - stopped_at
        assert degraded["reason"] == "cluster_unreachable"
        shown = client.get(url).json()
        assert shown["status"] == "running" and shown["degraded"]["since"] == degraded["since"]

        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
        cluster.start_all()
        away = time.monotonic() - stopped_at
        assert wait_for(lambda: client.get(url).json()["degraded"] is None, 60), replica.tail()
        back_after = time.monotonic() - stopped_at - away

        feeder.join()
        assert len(feeder.acked) == N, feeder.failed[:5]
        from .streams import read_committed

        keys = read_committed(bootstrap, out, feeder.acked, 120, settle=2)
        lost, duplicated = count(feeder.acked, keys)
        fault_report(
            lost=lost,
            duplicated=duplicated,
            cluster_away_s=round(away),
            degraded_shown_after_s=round(seen_after, 1),
            running_again_after_start_s=round(back_after, 1),
            sent_before_stop=sent_before,
            outputs=len(keys),
        )
        assert lost == 0, replica.tail()
        assert replica.stop() == 0, replica.tail()
    finally:
        replica.stop(10)
