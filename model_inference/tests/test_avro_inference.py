"""The AvroInference client: Avro records to an inference's input topic, its predictions back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datasources.avro_inference import AvroInference
from model_inference.testing import MLP, write_mlp_artifact

from .conftest import ThreadWorker, make_worker, topics

SCHEMA = {
    "type": "record",
    "name": "Sensor",
    "fields": [{"name": n, "type": "float"} for n in ("a", "b", "c", "d")],
}


def test_avro_inference_sends_records_and_reads_their_predictions(broker, unique_topic, tmp_path):
    src, out = unique_topic, f"{unique_topic}.out"
    topics(broker, src, out)
    mlp = MLP.random(input_shape=(4,), hidden=8, classes=3, seed=41)
    mlp.scale = 1.0
    art = write_mlp_artifact(tmp_path / "m", mlp, version=1, data_type="float32")
    schema_file = tmp_path / "data.avsc"
    schema_file.write_text(json.dumps(SCHEMA))
    worker = ThreadWorker(
        make_worker(
            broker, art, src, out, input_format="AVRO", input_config={"data_scheme": SCHEMA}
        )
    ).start()
    x = np.random.default_rng(3).normal(size=(50, 4)).astype(np.float32)
    try:
        # the original's positional arguments: boostrap_servers, topic, data_scheme_filename
        client = AvroInference(broker.bootstrap_servers, src, str(schema_file), output_topic=out)
        with client:
            first = client.send(dict(zip("abcd", x[0].tolist(), strict=True)))
            answers = client.predict([row.tolist() for row in x[1:]], timeout=60)
            everything = client.receive(timeout=5)
    finally:
        worker.stop()
    assert len(answers) == 49 and len(everything) == 50 and everything[0]["key"] == first
    got = np.array([a["values"] for a in everything], dtype=np.float32)
    np.testing.assert_allclose(got, mlp(x), rtol=1e-4, atol=1e-5)


def test_avro_inference_needs_a_schema_and_an_output_topic(broker):
    with pytest.raises(ValueError, match="data_scheme"):
        AvroInference(broker.bootstrap_servers, "t")
    client = AvroInference(broker.bootstrap_servers, "t", data_scheme=SCHEMA)
    try:
        with pytest.raises(ValueError, match="output_topic"):
            client.receive(timeout=1)
        with pytest.raises(ValueError):
            client.send({"a": 1.0})  # fields missing
    finally:
        client.close()
