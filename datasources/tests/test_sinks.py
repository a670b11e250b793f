"""Sinks against the real embedded broker: records, control message, offsets, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datasources import AvroSink, JsonSink, OnlineRawSink, RawSink
from datasources.codecs import get_codec
from datasources.sink import DeliveryError, KafkaMLSink, deployment_key, parse_deployment_key

from .kafka_helpers import parse_ranges, read_control, read_ranges


def _check_stream(broker, control_topic, deployment_id, n):
    """The one control message is well-formed and its ranges hold exactly the sent records."""
    [(key, message)] = read_control(broker.bootstrap_servers, control_topic)
    assert len(key) == 8 and parse_deployment_key(key) == deployment_id
    assert message["total_msg"] == n and message["incremental"] is False
    records = read_ranges(broker.bootstrap_servers, message["topic"])
    assert len(records) == n
    return message, records


def test_raw_sink_original_call_and_exact_ranges(broker, unique_topic):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(300, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=300, dtype=np.uint8)
    control = f"{unique_topic}-control"
    # The exact call of the original library (misspelled keyword included).
    s = RawSink(
        boostrap_servers=broker.bootstrap_servers,
        topic=unique_topic,
        deployment_id=1,
        description="Mnist dataset",
        validation_rate=0.1,
        test_rate=0.1,
        data_type="uint8",
        label_type="uint8",
        data_reshape="28 28",
        control_topic=control,
    )
    for i in range(100):
        s.send(data=x[i], label=y[i])
    s.send_batch(x[100:], y[100:])
    sent = s.close()
    assert s.close() is sent  # idempotent

    message, records = _check_stream(broker, control, 1, 300)
    assert message == sent
    assert message["input_format"] == "RAW"
    assert message["input_config"] == {
        "data_type": "uint8",
        "label_type": "uint8",
        "data_reshape": "28 28",
        "label_reshape": "",
    }
    assert message["validation_rate"] == 0.1 and message["test_rate"] == 0.1
    assert message["description"] == "Mnist dataset"
    [(topic, partition, start, end)] = parse_ranges(message["topic"])
    assert (topic, partition, end - start) == (unique_topic, 0, 300)
    codec = get_codec(message["input_format"], message["input_config"])
    np.testing.assert_array_equal(codec.decode_batch([v for _, v in records]), x)
    np.testing.assert_array_equal(codec.decode_labels([k for k, _ in records]), y)


def test_second_stream_announces_only_its_own_offsets(broker, unique_topic):
    control = f"{unique_topic}-control"
    for deployment, n in ((7, 20), (8, 30)):
        with RawSink(
            bootstrap_servers=broker.bootstrap_servers,
            topic=unique_topic,
            deployment_id=deployment,
            control_topic=control,
        ) as s:
            s.send_batch(np.full((n, 3), deployment, dtype=np.float32), np.zeros(n, dtype=np.int64))
    found = read_control(broker.bootstrap_servers, control, expected=2)
    by_id = {parse_deployment_key(k): m for k, m in found}
    assert parse_ranges(by_id[7]["topic"]) == [(unique_topic, 0, 0, 20)]
    assert parse_ranges(by_id[8]["topic"]) == [(unique_topic, 0, 20, 50)]
    records = read_ranges(broker.bootstrap_servers, by_id[8]["topic"])
    codec = get_codec("RAW", by_id[8]["input_config"])
    assert (codec.decode_batch([v for _, v in records]) == 8).all()


def test_keyed_partitioning_across_partitions(broker, unique_topic):
    control = f"{unique_topic}-control"
    y = np.arange(200, dtype=np.int32) % 10
    x = np.arange(200 * 4, dtype=np.float64).reshape(200, 4)
    with RawSink(
        bootstrap_servers=broker.bootstrap_servers,
        topic=unique_topic,
        deployment_id=300,
        control_topic=control,
        partition=None,
    ) as s:
        for xi, yi in zip(x, y, strict=True):
            s.send(xi, yi)
    message, records = _check_stream(broker, control, 300, 200)
    assert len(parse_ranges(message["topic"])) > 1
    codec = get_codec("RAW", message["input_config"])
    assert message["input_config"]["data_type"] == "float64"
    got = codec.decode_batch([v for _, v in records])
    labels = codec.decode_labels([k for k, _ in records])
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, x.tolist()))
    np.testing.assert_array_equal(labels, got[:, 0].astype(np.int64) // 4 % 10)


def test_inferred_format_and_mismatch_refused(broker, unique_topic):
    s = RawSink(
        bootstrap_servers=broker.bootstrap_servers,
        topic=unique_topic,
        deployment_id=2,
        control_topic=f"{unique_topic}-control",
    )
    s.send(np.zeros((2, 3), dtype=np.float32), np.int64(1))
    assert s.input_config == {
        "data_type": "float32",
        "label_type": "int64",
        "data_reshape": "2 3",
        "label_reshape": "",
    }
    with pytest.raises(ValueError, match="shape"):
        s.send(np.zeros((3, 2), dtype=np.float32), np.int64(1))
    with pytest.raises(ValueError, match="dtype"):
        s.send(np.zeros((2, 3), dtype=np.float64), np.int64(1))
    with pytest.raises(ValueError, match="label"):
        s.send(np.zeros((2, 3), dtype=np.float32), np.array([1, 2]))
    with pytest.raises(ValueError, match="shape"):
        s.send_batch(np.zeros((4, 6), dtype=np.float32), np.zeros(4, dtype=np.int64))
    assert s.close()["total_msg"] == 1


def test_declared_format_casts_safely_and_refuses_wrong_size(broker, unique_topic):
    s = RawSink(
        bootstrap_servers=broker.bootstrap_servers,
        topic=unique_topic,
        deployment_id=2,
        data_type="uint8",
        label_type="uint8",
        data_reshape="2 2",
        control_topic=f"{unique_topic}-control",
    )
    s.send(np.array([[1, 2], [3, 4]]), 3)  # int64 values that fit uint8 are cast
    with pytest.raises(ValueError):
        s.send(np.array([[1, 2], [3, 400]]), 3)
    with pytest.raises(ValueError, match="needs 4"):
        s.send(np.zeros(5, dtype=np.uint8), 3)
    message = s.close()
    [(key, value)] = read_ranges(broker.bootstrap_servers, message["topic"])
    assert (key, value) == (b"\x03", bytes([1, 2, 3, 4]))


def test_delivery_failure_raises_and_sends_no_control_message():
    from kafkaml.broker import free_port

    s = RawSink(
        bootstrap_servers=f"127.0.0.1:{free_port()}",
        topic="nowhere",
        deployment_id=1,
        producer_config={"message.timeout.ms": 300, "log_level": 0},
    )
    s.send(np.zeros(3, dtype=np.uint8), 1)
    with pytest.raises(DeliveryError, match="not delivered"):
        s.close(timeout=10)
    assert s.control_message is None


def test_deployment_key_encoding():
    assert deployment_key(1) == b"\x00" * 7 + b"\x01"
    assert deployment_key("258") == (258).to_bytes(8, "big")
    assert parse_deployment_key(b"\x05") == 5  # one-byte keys of the original sinks
    assert parse_deployment_key(deployment_key(2**40 + 3)) == 2**40 + 3
    with pytest.raises(ValueError):
        deployment_key(-1)
    with pytest.raises(ValueError):
        deployment_key("abc")


def test_base_sink_sends_bytes(broker, unique_topic):
    control = f"{unique_topic}-control"
    s = KafkaMLSink(
        broker.bootstrap_servers, unique_topic, 4, "RAW", "bytes", control_topic=control
    )
    s.input_config = {"data_type": "uint8", "label_type": "uint8"}
    s.send(b"\x01\x02", 5)
    s.send_value(b"\x03\x04")
    s.close()
    _, records = _check_stream(broker, control, 4, 2)
    assert records == [(b"\x05", b"\x01\x02"), (None, b"\x03\x04")]


def test_avro_sink(broker, unique_topic, tmp_path):
    data_schema = {
        "type": "record",
        "name": "d",
        "fields": [{"name": "a", "type": "float"}, {"name": "b", "type": "int"}],
    }
    label_schema = {"type": "record", "name": "l", "fields": [{"name": "y", "type": "int"}]}
    data_file = tmp_path / "data.avsc"
    data_file.write_text(json.dumps(data_schema))
    label_file = tmp_path / "label.avsc"
    label_file.write_text(json.dumps(label_schema))
    control = f"{unique_topic}-control"
    # original positional file names
    with AvroSink(
        broker.bootstrap_servers,
        unique_topic,
        11,
        str(data_file),
        str(label_file),
        control_topic=control,
    ) as s:
        for i in range(10):
            s.send_avro({"a": i / 2, "b": i}, {"y": i % 3})
    message, records = _check_stream(broker, control, 11, 10)
    codec = get_codec("AVRO", message["input_config"])
    np.testing.assert_allclose(codec.decode_batch([v for _, v in records])[:, 1], np.arange(10))
    assert codec.decode_labels([k for k, _ in records]).tolist() == [i % 3 for i in range(10)]
    # schemas given directly
    s = AvroSink(
        bootstrap_servers=broker.bootstrap_servers,
        topic=unique_topic,
        deployment_id=12,
        data_scheme=data_schema,
        label_scheme=json.dumps(label_schema),
        control_topic=f"{control}-2",
    )
    s.send({"a": 1.0, "b": 2}, {"y": 1})
    assert s.close()["input_config"]["data_scheme"] == json.dumps(data_schema)


def test_json_sink(broker, unique_topic):
    control = f"{unique_topic}-control"
    with JsonSink(
        bootstrap_servers=broker.bootstrap_servers,
        topic=unique_topic,
        deployment_id=5,
        control_topic=control,
    ) as s:
        for i in range(6):
            s.send(np.full((2, 2), i, dtype=np.float32), i % 2)
        with pytest.raises(ValueError, match="shape"):
            s.send(np.zeros(3), 0)
    message, records = _check_stream(broker, control, 5, 6)
    assert message["input_format"] == "JSON"
    codec = get_codec("JSON", message["input_config"])
    out = codec.decode_batch([v for _, v in records])
    assert out.shape == (6, 2, 2) and out[5, 1, 1] == 5
    assert codec.decode_labels([k for k, _ in records]).tolist() == [0, 1, 0, 1, 0, 1]


def test_online_raw_sink_announces_at_start(broker, unique_topic):
    control = f"{unique_topic}-control"
    s = OnlineRawSink(
        boostrap_servers=broker.bootstrap_servers,
        topic=unique_topic,
        deployment_id=9,
        control_topic=control,
    )
    assert s.control_message is None  # format not known yet
    s.send(np.zeros(4, dtype=np.float32), np.uint8(1))
    [(key, message)] = read_control(broker.bootstrap_servers, control)  # before close
    assert parse_deployment_key(key) == 9
    assert message["topic"] == unique_topic
    assert message["incremental"] is True and message["total_msg"] is None
    assert message["input_config"]["data_type"] == "float32"
    for _ in range(5):
        s.send(np.ones(4, dtype=np.float32), np.uint8(0))
    s.online_close()
    assert len(read_control(broker.bootstrap_servers, control, expected=2, timeout=2)) == 1
    # with the format declared, the announcement goes out at construction
    s2 = OnlineRawSink(
        broker.bootstrap_servers,
        unique_topic,
        10,
        data_type="uint8",
        label_type="uint8",
        control_topic=f"{control}-2",
    )
    assert s2.control_message["incremental"] is True
    s2.close()


def test_refused_first_label_leaves_the_format_unannounced(broker, unique_topic):
    s = OnlineRawSink(
        bootstrap_servers=broker.bootstrap_servers,
        topic=unique_topic,
        deployment_id=13,
        label_type="uint8",
        control_topic=f"{unique_topic}-c",
    )
    with pytest.raises(ValueError):
        s.send(np.zeros(2, dtype=np.float32), 1000)  # does not fit uint8
    assert s.control_message is None
    s.send(np.zeros(2, dtype=np.float32), 1)
    assert s.control_message["input_config"]["data_type"] == "float32"
    s.close()
