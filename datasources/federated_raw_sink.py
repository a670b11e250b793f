"""Federated RAW sink: a site's training data, announced with its dataset restrictions.

Written from the original Kafka-ML's documented API (module ``datasources.federated_raw_sink``,
class ``FederatedRawSink``, same argument names and order). A federated site streams its own
data into its own (site-local) topic with it; the control message carries
``dataset_restrictions`` (JSON text or a dict: what the site's data is, e.g. its shape and
labels), which the federated coordinator matches against the deployment's restrictions
(``model_training.federated.coordinator.qualifies``). The data itself never leaves the site:
``model_training.federated.site`` reads it there and sends only weights.
"""

from __future__ import annotations

import json
from typing import Any

from .raw_sink import RawSink


def parse_restrictions(value: Any) -> dict:
    """``'{}'`` / a dict / None → a dict (the original passes JSON text)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        parsed = json.loads(value)
    else:
        parsed = dict(value)
    if not isinstance(parsed, dict):
        raise ValueError("dataset_restrictions must be a JSON object")
    return parsed


class FederatedRawSink(RawSink):
    """RAW sink of a federated site.

    Args (the original's names and order): boostrap_servers, topic, deployment_id, data_type,
    label_type, description, dataset_restrictions (JSON text or dict, default ``'{}'``),
    data_reshape, label_reshape, validation_rate, test_rate, control_topic, group_id. Other
    keywords as :class:`~datasources.raw_sink.RawSink` (security, ``bootstrap_servers``...).
    """

    def __init__(
        self,
        boostrap_servers: str | None = None,
        topic: str | None = None,
        deployment_id: int | str | None = None,
        data_type: str | None = None,
        label_type: str | None = None,
        description: str = "",
        dataset_restrictions: Any = "{}",
        data_reshape: str | None = None,
        label_reshape: str | None = None,
        validation_rate: float = 0,
        test_rate: float = 0,
        control_topic: str | None = None,
        group_id: str = "sink",
        **kwargs: Any,
    ):
        kwargs["dataset_restrictions"] = parse_restrictions(dataset_restrictions)
        super().__init__(
            boostrap_servers,
            topic,
            deployment_id,
            data_type,
            label_type,
            description,
            data_reshape,
            label_reshape,
            validation_rate,
            test_rate,
            control_topic,
            group_id,
            **kwargs,
        )
