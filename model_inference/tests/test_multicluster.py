"""Edge, fog and cloud on different Kafka clusters: an inference reads its input from one
cluster and writes its outputs and upper topic to another (two embedded brokers)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_inference.testing import MLP, write_mlp_artifact
from model_inference.worker import WorkerConfig

from .conftest import ThreadWorker, make_worker, outputs_by_key, produce, read_topics, topics

FIELDS = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def edge_cluster(tmp_path_factory):
    from kafkaml.broker import EmbeddedBroker

    log = tmp_path_factory.mktemp("edge-broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as broker:
        yield broker


@pytest.fixture(scope="module")
def cloud_cluster(tmp_path_factory):
    from kafkaml.broker import EmbeddedBroker

    log = tmp_path_factory.mktemp("cloud-broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as broker:
        yield broker


def telegraf(x: np.ndarray, i: int) -> bytes:
    fields = {name: float(v) for name, v in zip(FIELDS, x, strict=True)}
    return json.dumps(
        {"fields": fields, "name": "sensor", "tags": {"site": "edge"}, "timestamp": i}
    ).encode()


@pytest.mark.parametrize("upper_on", ["cloud", "edge"])
def test_edge_on_one_cluster_answers_on_another(edge_cluster, cloud_cluster, tmp_path, upper_on):
    """The edge reads Telegraf metrics on the edge cluster; its outputs are on the cloud cluster,
    its upper topic on the cloud cluster too or (a producer of its own) on the edge cluster,
    where the upper model reads it and answers on the cloud. Every record is answered."""
    src, up, out = f"sensors-{upper_on}.in", f"sensors-{upper_on}.upper", f"sensors-{upper_on}.out"
    upper_cluster = cloud_cluster if upper_on == "cloud" else edge_cluster
    topics(edge_cluster, src)
    topics(cloud_cluster, out)
    topics(upper_cluster, up)
    edge_mlp = MLP.random(input_shape=(4,), hidden=16, seed=31)
    edge_mlp.scale = 1.0
    cloud_mlp = MLP.random(input_shape=(16,), hidden=32, seed=32)
    cloud_mlp.scale = 1.0
    edge_art = write_mlp_artifact(
        tmp_path / "edge", edge_mlp, distributed=True, version=1, data_type="float32"
    )
    cloud_art = write_mlp_artifact(tmp_path / "cloud", cloud_mlp, version=1, data_type="float32")
    n = 300
    x = np.random.default_rng(5).normal(size=(n, 4)).astype(np.float32)
    conf = edge_mlp(x).max(axis=1)
    limit = float(np.quantile(conf, 0.4))
    produce(edge_cluster, src, [telegraf(x[i], i) for i in range(n)])
    edge = ThreadWorker(
        make_worker(
            edge_cluster,  # the platform's cluster here is the edge's
            edge_art,
            src,
            out,
            upper_topic=up,
            limit=limit,
            batch_size=40,
            input_format="TELEGRAF_STR_JSON",
            input_config={"fields": FIELDS, "name": "sensor"},
            output_bootstrap_servers=cloud_cluster.bootstrap_servers,
            upper_bootstrap_servers=upper_cluster.bootstrap_servers,
        )
    ).start()
    assert edge.worker.config.separate_upper == (upper_on == "edge")
    cloud = ThreadWorker(
        make_worker(
            cloud_cluster,
            cloud_art,
            up,
            out,
            input_config={"data_type": "float32", "data_reshape": "16"},
            input_bootstrap_servers=upper_cluster.bootstrap_servers,
        )
    ).start()
    try:
        records = read_topics(cloud_cluster, [out], expected=n, timeout=90, settle=1.0)
        on_edge = read_topics(edge_cluster, [out], expected=1, timeout=2)
    finally:
        edge_totals = edge.stop()
        cloud.stop()
    got = outputs_by_key(records)
    assert len(records) == n and sorted(got) == list(range(n))
    assert on_edge == []  # no output written to the edge cluster
    low = conf < limit
    assert edge_totals["upper"] == int(low.sum()) > 0
    want = np.where(low[:, None], cloud_mlp(edge_mlp.hidden(x)), edge_mlp(x))
    for i in range(n):
        np.testing.assert_allclose(got[i]["values"], want[i], rtol=1e-4, atol=1e-5)


def test_exactly_once_refuses_clusters_that_differ():
    base = dict(bootstrap_servers="a:9092", input_topic="i", output_topic="o", group_id="g")
    with pytest.raises(ValueError, match="cannot span clusters"):
        WorkerConfig(**base, delivery="exactly_once", output_bootstrap_servers="b:9092")
    with pytest.raises(ValueError, match="cannot span clusters"):
        WorkerConfig(
            **base,
            delivery="exactly_once",
            upper_topic="u",
            upper_bootstrap_servers="b:9092",
        )
    same = WorkerConfig(**base, delivery="exactly_once", input_bootstrap_servers="a:9092")
    assert same.input_servers == same.output_servers == "a:9092"
    split = WorkerConfig(**base, upper_topic="u", upper_bootstrap_servers="c:9092")
    assert split.separate_upper and split.output_servers == "a:9092"
