"""Online federated RAW sink: a site's unbounded stream (original module
``datasources.federated_online_raw_sink``, class ``OnlineFederatedRawSink``).

Written from the original Kafka-ML's documented API: arguments boostrap_servers, topic,
deployment_id, data_type, label_type, description, dataset_restrictions, data_reshape,
label_reshape, validation_rate, control_topic, group_id, unsupervised_topic (no test share:
an unbounded stream has none). ``send_online_control_msg(data, label)`` announces the stream,
taking the format from that sample when it was not declared.
"""

from __future__ import annotations

from typing import Any

from .federated_raw_sink import parse_restrictions
from .online_raw_sink import OnlineRawSink


class OnlineFederatedRawSink(OnlineRawSink):
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
        control_topic: str | None = None,
        group_id: str = "sink",
        unsupervised_topic: str | None = None,
        **kwargs: Any,
    ):
        kwargs["dataset_restrictions"] = parse_restrictions(dataset_restrictions)
        if unsupervised_topic is not None:
            kwargs["unsupervised_topic"] = unsupervised_topic
        kwargs.pop("test_rate", None)
        super().__init__(
            boostrap_servers,
            topic,
            deployment_id,
            data_type,
            label_type,
            description,
            data_reshape,
            label_reshape,
            control_topic,
            group_id,
            validation_rate=validation_rate,
            test_rate=0,
            **kwargs,
        )

    def send_online_control_msg(self, data: Any = None, label: Any = None) -> dict[str, Any]:
        """Announce the stream (original signature: a sample and its label fix the format
        when it was not declared; the sample is not sent)."""
        if self.control_message is not None:
            return self.control_message
        if data is not None and self.data_type is None:
            import numpy as np

            self._format.data.check(np.asarray(data))
            if label is not None:
                self._format.label.check(np.asarray(label))
            self.input_config = self._format.input_config()
        return super().send_online_control_msg()
