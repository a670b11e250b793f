"""A data-source script as a user of the original Kafka-ML wrote it for semi-supervised
training: ``RawSink`` from the original's module path with an ``unsupervised_topic``, labelled
samples with ``send``, unlabelled ones with ``unsupervised_send``, then ``close``. Only the
connection details come from the command line (the original's examples had them written in):
bootstrap servers, topic, unsupervised topic, deployment id, labelled and unlabelled counts.
"""

import sys

from sklearn.datasets import load_digits

from datasources.raw_sink import RawSink

bootstrap_servers, topic, unsupervised_topic, deployment_id, labelled, unlabelled = sys.argv[1:7]
labelled, unlabelled = int(labelled), int(unlabelled)

digits = load_digits()
x = (digits.images / 16.0).astype("float32")
y = digits.target.astype("uint8")

raw = RawSink(
    boostrap_servers=bootstrap_servers,
    topic=topic,
    deployment_id=int(deployment_id),
    description="Digits, partly labelled",
    validation_rate=0.1,
    test_rate=0.2,
    data_type="float32",
    label_type="uint8",
    data_reshape="8 8",
    unsupervised_topic=unsupervised_topic,
)
for i in range(labelled):
    raw.send(data=x[i], label=y[i])
for data in x[labelled : labelled + unlabelled]:
    raw.unsupervised_send(data)
raw.close()
print(f"sent {labelled} labelled and {unlabelled} unlabelled samples")
