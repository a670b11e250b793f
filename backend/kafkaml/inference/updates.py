"""Models as data: the API's swap publishes a version descriptor to the inference's model-updates
topic; its replicas read it and switch between batches (``model_inference.updates``,
docs/inference.md "Models as data")."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings

from kafkaml.errors import ServiceUnavailableError
from kafkaml.topics.namespace import topic_prefix
from kafkaml.training.models import ModelArtifact
from model_inference.updates import Descriptor, descriptor, publish, updates_topic

log = logging.getLogger(__name__)


def models_topic(inference) -> str:
    """``<owner prefix>models.inference-<id>``: in the owner's namespace."""
    return updates_topic(topic_prefix(inference.owner), inference.pk)


def artifact_sha256(artifact: ModelArtifact) -> str:
    digest = hashlib.sha256()
    with artifact.archive.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_descriptor(inference, artifact: ModelArtifact) -> Descriptor:
    return descriptor(
        inference=inference.pk,
        result_id=artifact.result_id,
        version=artifact.version,
        # the worker API's download; the replica's credential may read the served result
        location=f"/api/v1/worker/results/{artifact.result_id}/artifacts/?version={artifact.version}",
        sha256=artifact_sha256(artifact),
    )


def publish_model_update(inference, artifact: ModelArtifact) -> Descriptor | None:
    """Publish the descriptor and wait for the broker's acknowledgement (None: no broker
    configured). Raises a 503 ApplicationError when the broker does not take it, so the swap
    that calls this inside its transaction is not recorded either."""
    if not settings.KAFKA_BOOTSTRAP_SERVERS:
        log.warning("no KAFKA_BOOTSTRAP_SERVERS: model update of inference %s not published",
                    inference.pk)  # fmt: skip
        return None
    from confluent_kafka import Producer

    from kafkaml.broker import ensure_topics
    from worker_common.kafka import producer_config

    topic = models_topic(inference)
    desc = model_descriptor(inference, artifact)
    try:
        ensure_topics(settings.KAFKA_BOOTSTRAP_SERVERS, [topic], config=settings.KAFKA_SECURITY)
        producer = Producer(
            producer_config(settings.KAFKA_BOOTSTRAP_SERVERS, **settings.KAFKA_SECURITY)
        )
        publish(producer, topic, desc, key=inference.pk)
    except Exception as exc:  # noqa: BLE001 - BrokerError, UpdateError, KafkaException...
        log.warning("could not publish the model update of inference %s: %s", inference.pk, exc)
        raise ServiceUnavailableError(
            "Kafka did not take the model update; the inference keeps its model.",
            errors={"result": [str(exc)[:500]]},
        ) from exc
    return desc
