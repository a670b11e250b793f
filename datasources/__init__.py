"""Kafka-ML data sources: sinks that stream training data into Kafka, and the record codecs.

``from datasources import RawSink`` (or the original module paths, ``datasources.raw_sink``,
``datasources.avro_sink``, ``datasources.online_raw_sink``, ``datasources.sink``) to send data;
``datasources.codecs`` to encode/decode records (used by every Kafka-ML worker).
"""

from .avro_sink import AvroSink
from .codecs import DecodedBatch, RecordDecodeError, get_codec
from .json_sink import JsonSink
from .online_raw_sink import OnlineRawSink
from .raw_sink import RawSink
from .sink import DeliveryError, KafkaMLSink

__version__ = "0.1.0"

__all__ = [
    "AvroSink",
    "DecodedBatch",
    "DeliveryError",
    "JsonSink",
    "KafkaMLSink",
    "OnlineRawSink",
    "RawSink",
    "RecordDecodeError",
    "get_codec",
]
