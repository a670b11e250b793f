import json
import threading

from confluent_kafka import Producer

from model_training.control import deployment_of, wait_for_control_message


def send(bootstrap, topic, key, message):
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, json.dumps(message).encode(), key)
    producer.flush(10)


def test_key_is_big_endian_of_any_length():
    assert deployment_of(b"\x05") == 5
    assert deployment_of((300).to_bytes(8, "big")) == 300
    assert deployment_of(b"") is None


def test_finds_the_deployments_message_among_others(broker, unique_topic):
    from kafkaml.broker import ensure_topics

    bootstrap = broker.bootstrap_servers
    ensure_topics(bootstrap, [unique_topic])
    base = {"input_format": "RAW", "input_config": {"data_type": "uint8"}, "total_msg": 10}
    send(bootstrap, unique_topic, (7).to_bytes(8, "big"), {**base, "topic": "other:0:0:10"})
    send(bootstrap, unique_topic, b"\x08", b"not json" and {"no": "topic"})
    found = {}

    def wait():
        found["spec"] = wait_for_control_message(bootstrap, unique_topic, 8, timeout=30)

    thread = threading.Thread(target=wait)
    thread.start()
    send(bootstrap, unique_topic, b"\x08", {**base, "topic": "mine:0:0:10", "test_rate": 0.2})
    thread.join(40)
    spec = found["spec"]
    assert spec.topic == "mine:0:0:10"
    assert spec.test_rate == 0.2 and spec.input_config == {"data_type": "uint8"}
