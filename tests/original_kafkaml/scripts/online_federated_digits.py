"""A site's data-source script as a user of the original Kafka-ML wrote it for online federated
training: ``OnlineFederatedRawSink`` from the original's module path, its constructor arguments
(the dataset restrictions as JSON text), ``send`` per sample, ``close``. Only the connection
details come from the command line: bootstrap servers, topic, deployment id, number of samples.
"""

import json
import sys

from sklearn.datasets import load_digits

from datasources.federated_online_raw_sink import OnlineFederatedRawSink

bootstrap_servers, topic, deployment_id, samples = sys.argv[1:5]

digits = load_digits()
x = digits.images[: int(samples)].astype("uint8")
y = digits.target[: int(samples)].astype("uint8")

online_federated_raw = OnlineFederatedRawSink(
    boostrap_servers=bootstrap_servers,
    topic=topic,
    deployment_id=int(deployment_id),
    data_type="uint8",
    label_type="uint8",
    description="Digits of an online site",
    dataset_restrictions=json.dumps({"labels": list(range(10))}),
    data_reshape="8 8",
    validation_rate=0,
)
for i in range(len(x)):
    online_federated_raw.send(data=x[i], label=y[i])
online_federated_raw.close()
print(f"sent {len(x)} samples to {topic}")
