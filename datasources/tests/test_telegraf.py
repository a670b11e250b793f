"""TELEGRAF_STR_JSON: Telegraf's JSON metrics decoded into vectors of the configured fields."""

import json

import numpy as np
import pytest

from datasources.codecs import RecordDecodeError, TelegrafJsonCodec, get_codec
from datasources.control import FORMATS


def metric(fields, name="sensor", tags=None, timestamp=1700000000):
    return json.dumps(
        {"fields": fields, "name": name, "tags": tags or {"host": "edge-1"}, "timestamp": timestamp}
    ).encode()


def test_fields_in_the_configured_order_with_string_and_bool_values():
    codec = get_codec("telegraf_str_json", {"fields": "temp, hum  ok", "name": "sensor"})
    assert isinstance(codec, TelegrafJsonCodec) and codec.sample_shape == (3,)
    batch = codec.decode_batch(
        [
            metric({"hum": 40, "temp": 21.5, "ok": True, "other": "x"}),
            metric({"temp": "19.25", "hum": "55", "ok": False}),
        ]
    )
    assert batch.dtype == np.float32
    np.testing.assert_allclose(batch, [[21.5, 40, 1], [19.25, 55, 0]])


def test_default_fields_are_all_sorted_and_reshape_and_dtype_apply():
    codec = get_codec("TELEGRAF_STR_JSON", {"data_type": "float64", "data_reshape": "2 2"})
    out = codec.decode(metric({"d": 4, "a": 1, "c": 3, "b": 2}))
    assert out.dtype == np.float64 and out.tolist() == [[1, 2], [3, 4]]


def test_bad_metrics_are_reported_per_record():
    codec = get_codec("TELEGRAF_STR_JSON", {"fields": ["temp"], "name": "sensor"})
    part = codec.decode_batch_partial(
        [
            metric({"temp": 1}),
            b"[1, 2]",
            metric({"hum": 3}),
            metric({"temp": "warm"}),
            metric({"temp": 2}, name="cpu"),
            b"{not json",
            metric({"temp": 5}),
        ]
    )
    assert part.indices.tolist() == [0, 6] and part.array.ravel().tolist() == [1, 5]
    assert set(part.errors) == {1, 2, 3, 4, 5}
    assert "fields" in part.errors[1] and "['temp']" in part.errors[2]
    assert "not numeric" in part.errors[3] and "'cpu'" in part.errors[4]
    with pytest.raises(RecordDecodeError) as info:
        codec.decode_batch([metric({"temp": 1}), metric({"hum": 1})])
    assert info.value.index == 1


def test_encode_round_trip_and_labels_in_the_key():
    codec = get_codec(
        "TELEGRAF_STR_JSON", {"fields": ["x", "y"], "name": "m", "label_type": "int64"}
    )
    value = codec.encode(np.array([0.5, 2.0]))
    obj = json.loads(value)
    assert obj["fields"] == {"x": 0.5, "y": 2.0} and obj["name"] == "m"
    assert codec.decode(value).tolist() == [0.5, 2.0]
    assert codec.decode_labels([codec.encode_label(3), b"7"]).tolist() == [3, 7]
    with pytest.raises(ValueError):
        codec.encode([1, 2, 3])


def test_control_messages_and_the_api_accept_the_format():
    assert "TELEGRAF_STR_JSON" in FORMATS
    with pytest.raises(ValueError):
        get_codec("TELEGRAF_STR_JSON", {"name": 5})
