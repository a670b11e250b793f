"""A site's data-source script as a user of the original Kafka-ML wrote it for federated
training: ``FederatedRawSink`` from the original's module path, its constructor arguments (the
dataset restrictions as JSON text), ``send`` per sample, ``close``. Only the connection details
come from the command line: bootstrap servers, topic, deployment id, the digits to send (comma
separated labels).
"""

import json
import sys

from sklearn.datasets import load_digits

from datasources.federated_raw_sink import FederatedRawSink

bootstrap_servers, topic, deployment_id, labels = sys.argv[1:5]
labels = [int(label) for label in labels.split(",")]

digits = load_digits()
keep = [i for i in range(len(digits.target)) if digits.target[i] in labels]
x = digits.images[keep].astype("uint8")
y = digits.target[keep].astype("uint8")

federated_raw = FederatedRawSink(
    boostrap_servers=bootstrap_servers,
    topic=topic,
    deployment_id=int(deployment_id),
    data_type="uint8",
    label_type="uint8",
    description="Digits of one site",
    dataset_restrictions=json.dumps({"labels": labels}),
    data_reshape="8 8",
    validation_rate=0,
    test_rate=0.1,
)
for i in range(len(x)):
    federated_raw.send(data=x[i], label=y[i])
federated_raw.close()
print(f"sent {len(x)} samples to {topic}")
