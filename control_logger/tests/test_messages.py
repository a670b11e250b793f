import json

import pytest

from control_logger.messages import ControlMessageError, parse_control_message


def value(**fields):
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


def test_keys_of_any_length_are_big_endian():
    assert parse_control_message(bytes([7]), value())["deployment_id"] == 7
    assert parse_control_message((300).to_bytes(8, "big"), value())["deployment_id"] == 300


def test_optional_fields_take_defaults_and_unknown_ones_are_ignored():
    parsed = parse_control_message(
        b"\x01", json.dumps({"topic": "t:0:0:1", "input_format": "json", "extra": 1}).encode()
    )
    assert parsed["input_format"] == "JSON"
    assert parsed["incremental"] is False and parsed["total_msg"] is None
    assert "extra" not in parsed


@pytest.mark.parametrize(
    "key,raw,message",
    [
        (b"", value(), "key"),
        (b"\x01", b"\xff\xfe", "JSON"),
        (b"\x01", b"[1, 2]", "object"),
        (b"\x01", value(topic=""), "topic"),
        (b"\x01", value(input_format="XML"), "input_format"),
        (b"\x01", value(validation_rate=2), "validation_rate"),
        (b"\x01", value(validation_rate=0.5, test_rate=0.5), "below 1"),
        (b"\x01", value(topic="digits:0:10"), "topic:partition:start:end"),
        (b"\x01", value(topic="digits:0:10:5"), "ends before"),
    ],
)
def test_malformed_messages_name_the_problem(key, raw, message):
    with pytest.raises(ControlMessageError, match=message):
        parse_control_message(key, raw)


def test_incremental_streams_announce_a_bare_topic():
    parsed = parse_control_message(b"\x02", value(topic="live", incremental=True, total_msg=None))
    assert parsed["topic"] == "live" and parsed["incremental"] is True
