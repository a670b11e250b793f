"""Training reads TELEGRAF_STR_JSON datasources through the one decoder (datasources.codecs)."""

import json

import numpy as np

from datasources import control
from datasources.codecs import get_codec
from model_training.dataset import OffsetRange, read_ranges

from .test_dataset import produce


def test_telegraf_metrics_become_training_samples(broker, unique_topic):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).round(3)
    values = [
        json.dumps(
            {
                "fields": {"temp": row[0], "hum": str(row[1]), "co2": row[2], "note": "ok"},
                "name": "room",
                "tags": {"host": "edge-1"},
                "timestamp": 1700000000 + i,
            }
        ).encode()
        for i, row in enumerate(x)
    ]
    labels = [json.dumps(int(row[0] > 0)).encode() for row in x]
    offsets = produce(broker.bootstrap_servers, unique_topic, values, labels)
    config = {"fields": ["temp", "hum", "co2"], "name": "room", "label_type": "uint8"}
    # the control message a sink sends for such a stream is valid
    message = control.from_dict(
        7,
        {
            "topic": f"{unique_topic}:0:{offsets[0]}:{offsets[-1] + 1}",
            "input_format": "telegraf_str_json",
            "input_config": config,
            "validation_rate": 0.1,
            "test_rate": 0.1,
            "total_msg": 40,
        },
    )
    assert message.input_format == "TELEGRAF_STR_JSON"
    data = read_ranges(
        broker.bootstrap_servers,
        [OffsetRange(unique_topic, 0, offsets[0], offsets[-1] + 1)],
        get_codec(message.input_format, message.input_config),
        timeout=20,
    )
    assert data.x.shape == (40, 3) and data.x.dtype == np.float32
    np.testing.assert_allclose(data.x, x, rtol=1e-6)
    assert data.y.dtype == np.uint8 and data.y.tolist() == [int(v > 0) for v in x[:, 0]]
