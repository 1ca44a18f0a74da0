"""Python wrappers over the Java Kinesis Data Streams source and the delivery stream sinks.

Each wrapper holds the Java object and offers a fluent builder whose setters return
``self``, in the manner of PyFlink's own connector modules.  The Java classes ship in the
project's single shaded jar; option names follow Flink's AWS connectors (``aws.region``,
``aws.endpoint``, ``source.init.position``, ...).
"""

from __future__ import annotations

from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream.connectors import Sink, Source
from pyflink.java_gateway import get_gateway

from job.config import DeliveryConfig, Endpoints, KinesisSourceConfig

__all__ = [
    "DeliveryStreamSink",
    "KinesisStreamSource",
    "KinesisStreamSourceBuilder",
    "delivery_sink",
    "kinesis_source",
]

_JAVA_PACKAGE = "dev.streamscoring.connectors"


def _java(name: str):  # type: ignore[no-untyped-def]
    package = get_gateway().jvm
    for part in f"{_JAVA_PACKAGE}.{name}".split("."):
        package = getattr(package, part)
    return package


class KinesisStreamSource(Source):
    """Reads a Kinesis data stream, addressed by ARN, as a stream of UTF-8 strings.

    Each element's timestamp is the record's approximate arrival time.
    """

    @staticmethod
    def builder() -> KinesisStreamSourceBuilder:
        return KinesisStreamSourceBuilder()


class KinesisStreamSourceBuilder:
    def __init__(self) -> None:
        self._stream_arn: str | None = None
        self._options: dict[str, str] = {}

    def set_stream_arn(self, stream_arn: str) -> KinesisStreamSourceBuilder:
        self._stream_arn = stream_arn
        return self

    def set_option(self, key: str, value: str) -> KinesisStreamSourceBuilder:
        self._options[key] = value
        return self

    def build(self) -> KinesisStreamSource:
        if self._stream_arn is None:
            raise ValueError("a stream ARN is required")
        gateway = get_gateway()
        j_config = gateway.jvm.org.apache.flink.configuration.Configuration()
        for key, value in self._options.items():
            j_config.setString(key, value)
        j_source = (
            _java("kinesis.KinesisStreamSource")
            .builder()
            .setStreamArn(self._stream_arn)
            .setSourceConfig(j_config)
            .setDeserializationSchema(SimpleStringSchema()._j_deserialization_schema)
            .build()
        )
        return KinesisStreamSource(j_source)


class DeliveryStreamSink(Sink):
    """Writes strings as newline-terminated UTF-8 records to Firehose or a Kinesis stream."""

    @staticmethod
    def firehose(delivery_stream_name: str, client_properties: dict[str, str]) -> DeliveryStreamSink:
        j_sink = (
            _java("firehose.FirehoseSink")
            .builder()
            .setDeliveryStreamName(delivery_stream_name)
            .setFirehoseClientProperties(_java_properties(client_properties))
            .setSerializationSchema(_java("serialization.NewlineTerminatedStringSchema")())
            .build()
        )
        return DeliveryStreamSink(j_sink)

    @staticmethod
    def kinesis(stream_name: str, client_properties: dict[str, str]) -> DeliveryStreamSink:
        j_sink = (
            _java("kinesis.KinesisStreamSink")
            .builder()
            .setStreamName(stream_name)
            .setKinesisClientProperties(_java_properties(client_properties))
            .setSerializationSchema(_java("serialization.NewlineTerminatedStringSchema")())
            .build()
        )
        return DeliveryStreamSink(j_sink)


def _java_properties(values: dict[str, str]):  # type: ignore[no-untyped-def]
    properties = get_gateway().jvm.java.util.Properties()
    for key, value in values.items():
        properties.setProperty(key, value)
    return properties


def _client_properties(region: str, endpoint: str | None) -> dict[str, str]:
    properties = {"aws.region": region}
    if endpoint:
        properties["aws.endpoint"] = endpoint
    return properties


def kinesis_source(config: KinesisSourceConfig, endpoints: Endpoints) -> KinesisStreamSource:
    """The source for the ``kinesis.source`` group, pointed at the Kinesis endpoint in use."""
    builder = (
        KinesisStreamSource.builder()
        .set_stream_arn(config.stream_arn)
        .set_option("source.init.position", config.init_position)
        .set_option("source.reader.type", config.reader_type)
    )
    for key, value in _client_properties(config.region, endpoints.kinesis).items():
        builder.set_option(key, value)
    if config.init_timestamp is not None:
        builder.set_option("source.init.timestamp", config.init_timestamp)
    return builder.build()


def delivery_sink(config: DeliveryConfig, region: str, endpoints: Endpoints) -> DeliveryStreamSink:
    """The sink for the ``sink.delivery`` group: a Firehose delivery stream or a Kinesis stream."""
    if config.type == "firehose":
        return DeliveryStreamSink.firehose(config.stream_name, _client_properties(region, endpoints.firehose))
    return DeliveryStreamSink.kinesis(config.stream_name, _client_properties(region, endpoints.kinesis))
