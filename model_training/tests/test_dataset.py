import numpy as np
import pytest
from confluent_kafka import Producer

from model_training.dataset import OffsetRange, parse_ranges, read_ranges
from model_training.errors import DataError


def produce(bootstrap, topic, values, keys, partition=0):
    from kafkaml.broker import ensure_topics

    ensure_topics(bootstrap, [topic])
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    offsets = []

    def on_delivery(err, msg):
        assert err is None, err
        offsets.append(msg.offset())

    for value, key in zip(values, keys, strict=True):
        producer.produce(topic, value, key, partition=partition, on_delivery=on_delivery)
    producer.flush(30)
    return offsets


def raw_codec():
    from datasources.codecs import get_codec

    return get_codec("RAW", {"data_type": "uint8", "label_type": "uint8", "data_reshape": "4"})


def test_parse_ranges():
    assert parse_ranges("a.b-c:0:5:10, t:3:0:2") == [
        OffsetRange("a.b-c", 0, 5, 10),
        OffsetRange("t", 3, 0, 2),
    ]
    with pytest.raises(DataError):
        parse_ranges("t:0:5")
    with pytest.raises(DataError):
        parse_ranges("t:0:9:5")


def test_reads_exactly_the_announced_range(broker, unique_topic):
    values = [bytes([i, i, i, i]) for i in range(30)]
    keys = [bytes([i % 10]) for i in range(30)]
    offsets = produce(broker.bootstrap_servers, unique_topic, values, keys)
    start, end = offsets[5], offsets[25]
    data = read_ranges(
        broker.bootstrap_servers,
        [OffsetRange(unique_topic, 0, start, end)],
        raw_codec(),
        timeout=20,
    )
    assert data.x.shape == (20, 4) and data.x.dtype == np.uint8
    assert sorted(data.x[:, 0].tolist()) == list(range(5, 25))
    assert np.array_equal(data.y, data.x[:, 0] % 10)  # labels stay with their samples

    shuffled = read_ranges(
        broker.bootstrap_servers, [OffsetRange(unique_topic, 0, start, end)], raw_codec(), seed=7
    )
    again = read_ranges(
        broker.bootstrap_servers,
        [OffsetRange(unique_topic, 0, start, end)],
        raw_codec(),
        seed=7,
        memmap_threshold=0,  # memory-mapped cache
    )
    assert again.path is not None
    assert np.array_equal(shuffled.x, again.x) and np.array_equal(shuffled.y, again.y)
    assert not np.array_equal(shuffled.x, data.x)
    train, val, test = again.split(0.1, 0.2)
    assert (len(train), len(val), len(test)) == (14, 2, 4)
    again.close()


def test_wrong_size_record_names_its_offset(broker, unique_topic):
    values = [bytes(4)] * 5 + [bytes(3)] + [bytes(4)] * 4
    offsets = produce(broker.bootstrap_servers, unique_topic, values, [b"\x01"] * 10)
    with pytest.raises(DataError) as err:
        read_ranges(
            broker.bootstrap_servers,
            [OffsetRange(unique_topic, 0, offsets[0], offsets[-1] + 1)],
            raw_codec(),
            timeout=20,
        )
    assert f"{unique_topic}:0:{offsets[5]}" in str(err.value)


def test_missing_records_time_out_naming_the_range(broker, unique_topic):
    offsets = produce(broker.bootstrap_servers, unique_topic, [bytes(4)] * 3, [b"\x01"] * 3)
    with pytest.raises(DataError, match="incomplete ranges"):
        read_ranges(
            broker.bootstrap_servers,
            [OffsetRange(unique_topic, 0, offsets[0], offsets[0] + 10)],
            raw_codec(),
            timeout=2,
        )


def test_reads_ranges_across_partitions(broker, unique_topic):
    from kafkaml.broker import ensure_topics

    ensure_topics(broker.bootstrap_servers, [unique_topic], partitions=2)
    a = produce(broker.bootstrap_servers, unique_topic, [bytes([1] * 4)] * 40, [b"\x01"] * 40, 0)
    b = produce(broker.bootstrap_servers, unique_topic, [bytes([2] * 4)] * 30, [b"\x02"] * 30, 1)
    ranges = parse_ranges(f"{unique_topic}:0:{a[0]}:{a[-1] + 1},{unique_topic}:1:{b[10]}:{b[-1]}")
    data = read_ranges(broker.bootstrap_servers, ranges, raw_codec(), seed=3, timeout=20)
    assert len(data) == 40 + 19
    assert (data.x[:, 0] == 1).sum() == 40 and (data.x[:, 0] == 2).sum() == 19
    assert np.array_equal(data.x[:, 0], data.y)
