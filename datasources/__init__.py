"""Kafka-ML data sources: sinks that stream training data into Kafka, and the record codecs.

``from datasources import RawSink`` (or the original module paths, ``datasources.raw_sink``,
``datasources.avro_sink``, ``datasources.online_raw_sink``, ``datasources.sink``) to send data;
``datasources.codecs`` to encode/decode records (used by every Kafka-ML worker);
``datasources.control`` for the control message and ``datasources.kafka_config`` for client
settings (security included), both shared with the platform.
"""

from .avro_inference import AvroInference
from .avro_sink import AvroSink
from .codecs import DecodedBatch, RecordDecodeError, get_codec
from .control import ControlMessage, ControlMessageError
from .json_sink import JsonSink
from .kafka_config import KafkaConfigError
from .online_raw_sink import OnlineRawSink
from .raw_sink import RawSink
from .sink import DeliveryError, KafkaMLSink

__version__ = "0.1.0"

__all__ = [
    "AvroInference",
    "AvroSink",
    "ControlMessage",
    "ControlMessageError",
    "DecodedBatch",
    "DeliveryError",
    "JsonSink",
    "KafkaConfigError",
    "KafkaMLSink",
    "OnlineRawSink",
    "RawSink",
    "RecordDecodeError",
    "get_codec",
]
