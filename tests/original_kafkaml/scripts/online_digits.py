"""A data-source script as a user of the original Kafka-ML wrote it for online (incremental)
training: ``OnlineRawSink`` from the original's module path, the original's constructor
arguments, ``send`` per sample, ``close``. Only the connection details come from the command
line (the original's examples had them written in): bootstrap servers, topic, deployment id,
number of samples.
"""

import sys

from sklearn.datasets import load_digits

from datasources.online_raw_sink import OnlineRawSink

bootstrap_servers, topic, deployment_id, samples = sys.argv[1:5]

digits = load_digits()
x = (digits.images[: int(samples)] / 16.0).astype("float32")
y = digits.target[: int(samples)].astype("uint8")

online_raw = OnlineRawSink(
    boostrap_servers=bootstrap_servers,
    topic=topic,
    deployment_id=int(deployment_id),
    description="Digits online dataset",
    validation_rate=0.1,
    test_rate=0.1,
    data_type="float32",
    label_type="uint8",
    data_reshape="8 8",
)
for i in range(len(x)):
    online_raw.send(data=x[i], label=y[i])
online_raw.close()
print(f"sent {len(x)} samples to {topic}")
