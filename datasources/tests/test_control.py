"""The control message module: one rule for every side of the wire (no broker needed)."""

from __future__ import annotations

import json

import pytest

from datasources import control
from datasources.control import ControlMessage, ControlMessageError, Range


def _value(**fields) -> bytes:
    body = {
        "topic": "digits:0:0:100,digits:1:0:50",
        "input_format": "RAW",
        "input_config": {"data_type": "uint8"},
        "validation_rate": 0.1,
        "test_rate": 0.2,
        "total_msg": 150,
        **fields,
    }
    return json.dumps(body).encode()


def test_encode_parse_round_trip():
    message = ControlMessage(
        deployment_id=2**40 + 3,
        input_format="avro",
        ranges=(Range("a", 0, 5, 10), Range("b", 2, 0, 3)),
        input_config={"data_scheme": "{}"},
        description="two topics",
        validation_rate=0.25,
        test_rate=0.25,
        total_msg=8,
        unsupervised_topic="u",
        dataset_restrictions={"x": 1},
    )
    key, value = control.encode_key(message.deployment_id), control.encode(message)
    assert len(key) == 8
    parsed = control.parse(key, value)
    assert parsed == control.validate(message)
    assert parsed.input_format == "AVRO"
    assert parsed.topic_spec == "a:0:5:10,b:2:0:3"
    assert parsed.announced_records == 8
    assert json.loads(value)["topic"] == "a:0:5:10,b:2:0:3"


def test_incremental_round_trip_and_bare_topic():
    message = ControlMessage(deployment_id=9, topic="live", incremental=True)
    parsed = control.parse(b"\x09", control.encode(message))
    assert parsed.incremental and parsed.topic == "live" and parsed.ranges == ()
    assert parsed.total_msg is None and parsed.announced_records is None
    assert json.loads(control.encode(message))["topic"] == "live"


def test_old_one_byte_keys_and_any_length():
    assert control.parse_key(b"\x07") == 7
    assert control.parse_key((300).to_bytes(8, "big")) == 300
    assert control.parse_key(b"\x00" * 12 + b"\x01") == 1
    assert control.parse(bytes([7]), _value()).deployment_id == 7
    with pytest.raises(ControlMessageError) as err:
        control.parse_key(b"\x01" * 9)
    assert err.value.field == "key"


def test_original_sink_message_and_defaults():
    """What the original Kafka-ML RawSink sends; missing optional fields take defaults and
    unknown ones are ignored."""
    raw = json.dumps(
        {
            "topic": "mnist:0:0:70000",
            "input_format": "RAW",
            "input_config": {"data_type": "uint8", "label_type": "uint8", "data_reshape": "28 28"},
            "description": "Mnist dataset",
            "validation_rate": 0.1,
            "total_msg": 70000,
            "some_future_field": True,
        }
    ).encode()
    parsed = control.parse(b"\x01", raw)
    assert parsed.ranges == (Range("mnist", 0, 0, 70000),)
    assert parsed.test_rate == 0.0 and parsed.incremental is False
    assert parsed.unsupervised_topic is None and parsed.dataset_restrictions is None
    minimal = control.parse(b"\x01", b'{"topic": "t:0:0:1", "input_format": "json"}')
    assert minimal.input_format == "JSON" and minimal.input_config == {}
    assert minimal.description == "" and minimal.total_msg is None


def test_ranges_format_and_parse():
    assert control.format_ranges("t", {1: (3, 4), 0: (0, 2)}) == "t:0:0:2,t:1:3:4"
    assert control.parse_ranges("t:0:0:2, u.v-w_x:3:5:5") == (
        Range("t", 0, 0, 2),
        Range("u.v-w_x", 3, 5, 5),
    )


@pytest.mark.parametrize(
    "key,raw,field,text",
    [
        (b"", _value(), "key", "key"),
        (None, _value(), "key", "key"),
        (b"\x01", b"\xff\xfe", "value", "JSON"),
        (b"\x01", b"[1, 2]", "value", "object"),
        (b"\x01", _value(topic=""), "topic", "missing"),
        (b"\x01", _value(topic=None), "topic", "missing"),
        (b"\x01", _value(input_format="XML"), "input_format", "input_format"),
        (b"\x01", _value(input_format=None), "input_format", "input_format"),
        (b"\x01", _value(input_config=[1]), "input_config", "object"),
        (b"\x01", _value(validation_rate=2), "validation_rate", "between 0 and 1"),
        (b"\x01", _value(test_rate="0.1"), "test_rate", "number"),
        (b"\x01", _value(test_rate=True), "test_rate", "number"),
        (b"\x01", _value(validation_rate=0.5, test_rate=0.5), "validation_rate", "below 1"),
        (b"\x01", _value(total_msg=-1), "total_msg", "non-negative"),
        (b"\x01", _value(total_msg="10"), "total_msg", "non-negative"),
        (b"\x01", _value(incremental="false"), "incremental", "true or false"),
        (b"\x01", _value(description=3), "description", "string"),
        (b"\x01", _value(topic="digits:0:10"), "topic", "topic:partition:start:end"),
        (b"\x01", _value(topic="digits:0:10:5"), "topic", "ends before"),
        (b"\x01", _value(topic="digits:-1:0:5"), "topic", "non-negative integers"),
        (b"\x01", _value(topic="digits:0:0:5.5"), "topic", "non-negative integers"),
        (b"\x01", _value(topic="digits:x:0:5"), "topic", "non-negative integers"),
        (b"\x01", _value(topic="bad topic:0:0:5"), "topic", "not a valid topic name"),
        (b"\x01", _value(topic="d:0:0:5,d:0:5:9"), "topic", "twice"),
        (b"\x01", _value(topic="d:0:0:5", incremental=True), "topic", "bare topic"),
        (b"\x01", _value(topic="live"), "topic", "topic:partition:start:end"),
        (b"\x01", _value(unsupervised_topic="a b"), "unsupervised_topic", "valid topic"),
    ],
)
def test_malformed_messages_name_the_field(key, raw, field, text):
    with pytest.raises(ControlMessageError, match=text) as err:
        control.parse(key, raw)
    assert err.value.field == field
    assert isinstance(err.value, ValueError)  # callers that caught ValueError still do


def test_validate_refuses_inconsistent_messages():
    with pytest.raises(ControlMessageError, match="bare topic"):
        control.validate(
            ControlMessage(deployment_id=1, ranges=(Range("t", 0, 0, 1),), incremental=True)
        )
    with pytest.raises(ControlMessageError, match="ranges"):
        control.validate(ControlMessage(deployment_id=1, topic="t"))
    with pytest.raises(ControlMessageError, match="missing"):
        control.encode(ControlMessage(deployment_id=1))  # no ranges at all
    with pytest.raises(ControlMessageError) as err:
        control.encode_key(-1)
    assert err.value.field == "deployment_id"
    with pytest.raises(ControlMessageError):
        control.encode_key("abc")
    with pytest.raises(ControlMessageError):
        control.encode_key(1.5)


def test_announced_topics():
    bounded = control.parse(b"\x01", _value(topic="a:0:0:1,a:1:0:1,b:0:2:3"))
    assert control.announced_topics(bounded) == {"a", "b"}
    live = control.parse(b"\x01", _value(topic="live", incremental=True, total_msg=None))
    assert control.announced_topics(live) == {"live"}
    extra = control.parse(b"\x01", _value(topic="a:0:0:1", unsupervised_topic="u"))
    assert control.announced_topics(extra) == {"a", "u"}


def test_sink_module_keeps_its_names():
    from datasources.sink import (
        DEFAULT_CONTROL_TOPIC,
        default_control_topic,
        deployment_key,
        format_ranges,
        parse_deployment_key,
    )

    assert deployment_key(1) == b"\x00" * 7 + b"\x01"
    assert parse_deployment_key(b"\x05") == 5
    assert format_ranges("t", {0: (1, 2)}) == "t:0:1:2"
    assert DEFAULT_CONTROL_TOPIC == "KAFKA_ML_CONTROL_TOPIC" and default_control_topic()
    with pytest.raises(ValueError):
        deployment_key(-1)


# The control logger's parsing cases (it parses with this module's `parse`).


def test_logger_keys_of_any_length_are_big_endian():
    assert control.parse(bytes([7]), _value()).deployment_id == 7
    assert control.parse((300).to_bytes(8, "big"), _value()).deployment_id == 300


def test_logger_optional_fields_take_defaults_and_unknown_ones_are_ignored():
    parsed = control.parse(
        b"\x01", json.dumps({"topic": "t:0:0:1", "input_format": "json", "extra": 1}).encode()
    )
    assert parsed.input_format == "JSON"
    assert parsed.incremental is False and parsed.total_msg is None
    assert "extra" not in parsed.as_dict()


@pytest.mark.parametrize(
    "key,raw,message",
    [
        (b"", _value(), "key"),
        (b"\x01", b"\xff\xfe", "JSON"),
        (b"\x01", b"[1, 2]", "object"),
        (b"\x01", _value(topic=""), "topic"),
        (b"\x01", _value(input_format="XML"), "input_format"),
        (b"\x01", _value(validation_rate=2), "validation_rate"),
        (b"\x01", _value(validation_rate=0.5, test_rate=0.5), "below 1"),
        (b"\x01", _value(topic="digits:0:10"), "topic:partition:start:end"),
        (b"\x01", _value(topic="digits:0:10:5"), "ends before"),
    ],
)
def test_logger_malformed_messages_name_the_problem(key, raw, message):
    with pytest.raises(ControlMessageError, match=message):
        control.parse(key, raw)


def test_logger_incremental_streams_announce_a_bare_topic():
    parsed = control.parse(b"\x02", _value(topic="live", incremental=True, total_msg=None))
    assert parsed.as_dict()["topic"] == "live" and parsed.incremental is True
