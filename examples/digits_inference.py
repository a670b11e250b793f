"""Deploy a finished result for inference, send the digits test images to its input topic,
and read the predictions back.

    KAFKAML_PASSWORD=... python examples/digits_inference.py RESULT_ID
"""

import json
import sys
import time

import numpy as np
from _platform import BOOTSTRAP, call, session, topic
from confluent_kafka import Consumer, Producer
from sklearn.datasets import load_digits

if __name__ == "__main__":
    http = session()
    result_id = int(sys.argv[1])
    stamp = int(time.time())
    inference = call(
        http,
        "POST",
        "inferences/",
        json={
            "result": result_id,
            "input_format": "RAW",
            "input_config": {"data_type": "float32", "data_reshape": "8 8"},
            "input_topic": topic(http, f"digits-in-{stamp}"),
            "output_topic": topic(http, f"digits-out-{stamp}"),
            "replicas": 1,
        },
    )
    print(f"inference {inference['id']} running; sending 200 digits")
    digits = load_digits()
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    for i, image in enumerate((digits.data[:200] / 16.0).astype(np.float32)):
        producer.produce(inference["input_topic"], key=str(i).encode(), value=image.tobytes())
    producer.flush()
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": topic(http, f"example-{stamp}"),  # groups are owned like topics
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([inference["output_topic"]])
    correct = seen = 0
    deadline = time.monotonic() + 120
    while seen < 200 and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is None or message.error():
            continue
        predicted = int(np.argmax(json.loads(message.value())["values"]))
        correct += predicted == digits.target[int(message.key())]
        seen += 1
    consumer.close()
    print(f"{seen} predictions, accuracy {correct / max(seen, 1):.2%}")
