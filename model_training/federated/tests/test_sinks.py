"""The original's federated sinks, written against its call signatures, on the real broker; a
site reads its stream back (only there) with ``read_stream``."""

from __future__ import annotations

import numpy as np

from datasources.federated_online_raw_sink import OnlineFederatedRawSink
from datasources.federated_raw_sink import FederatedRawSink
from model_training.federated.site import read_stream


def test_federated_raw_sink_as_the_original_calls_it(broker, digits, unique_topic):
    x, y = digits
    sink = FederatedRawSink(
        broker.bootstrap_servers,
        unique_topic,
        7,
        "uint8",
        "uint8",
        "site A digits",
        '{"data_shape": [8, 8], "labels": [0, 1, 2, 3]}',
        "8 8",
        "",
        0.1,
        0.1,
        f"{unique_topic}-control",
    )
    keep = y < 4
    for sample, label in zip(x[keep][:200], y[keep][:200], strict=True):
        sink.send(sample, label)
    sink.close()
    message = sink.control_message  # as the broker acknowledged it
    assert message["dataset_restrictions"] == {"data_shape": [8, 8], "labels": [0, 1, 2, 3]}
    xs, ys = read_stream(broker.bootstrap_servers, unique_topic, "RAW", sink.input_config, idle_s=1)
    assert xs.shape == (200, 8, 8) and np.array_equal(ys, y[keep][:200])


def test_online_federated_raw_sink_announces_from_a_sample(broker, digits, unique_topic):
    x, y = digits
    sink = OnlineFederatedRawSink(
        broker.bootstrap_servers,
        unique_topic,
        8,
        description="site B stream",
        dataset_restrictions={"labels": list(range(10))},
        validation_rate=0.1,
        control_topic=f"{unique_topic}-control",
    )
    sink.send_online_control_msg(x[0], y[0])
    for sample, label in zip(x[:50], y[:50], strict=True):
        sink.send(sample, label)
    sink.online_close()
    message = sink.control_message  # as the broker acknowledged it
    assert message["incremental"] is True
    assert message["dataset_restrictions"] == {"labels": list(range(10))}
    assert message["test_rate"] == 0
    xs, _ = read_stream(broker.bootstrap_servers, unique_topic, "RAW", sink.input_config, idle_s=1)
    assert len(xs) == 50
