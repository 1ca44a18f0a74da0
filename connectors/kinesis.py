"""Python wrappers over the project's Java Kinesis Data Streams source and delivery stream sinks.

Each wrapper holds the Java object and offers a fluent builder whose setters return ``self``,
in the manner of PyFlink's own connector modules.  The Java classes ship in the project's
single shaded jar; option names follow Flink's AWS connectors (``aws.region``,
``aws.endpoint``, ``source.init.position``, ...).

The source emits one row per user record (KPL aggregates are de-aggregated): ``payload``
(the record's text), ``arrival_ms`` (its approximate arrival time) and ``source_error`` (set,
with the raw record as base64 in ``payload``, for a corrupt aggregate).  Its watermark strategy
(:func:`event_time_watermarks`) reads each record's event time in Java and keeps one watermark
per shard, so a shard read ahead of another never makes the other's records late.

Delivery guarantees: the source is exactly once into Flink's state (each shard's position is
checkpointed with the records emitted before it); the delivery sinks are at least once (a
request in flight at a failure is sent again after the restore), so consumers drop
duplicates by ``window_id``.
"""

from __future__ import annotations

from pyflink.common import WatermarkStrategy
from pyflink.datastream.connectors import Sink, Source

from config import AwsCredentials, DeliveryConfig, Endpoints, KinesisSourceConfig, RecordsConfig, WindowConfig
from connectors.jvm import java_configuration, java_properties, java_strings, project_class

__all__ = [
    "DeliveryStreamSink",
    "KinesisStreamSource",
    "KinesisStreamSourceBuilder",
    "delivery_sink",
    "event_time_watermarks",
    "kinesis_source",
]


class KinesisStreamSource(Source):
    """Reads a Kinesis data stream, addressed by ARN, by polling, as payload rows (see the module).

    Exactly once into Flink's state: a restored job resumes each shard right after the last user
    record it emitted, inside a KPL aggregate too.
    """

    @staticmethod
    def builder() -> KinesisStreamSourceBuilder:
        return KinesisStreamSourceBuilder()


class KinesisStreamSourceBuilder:
    """Builds a :class:`KinesisStreamSource`; the stream ARN and the region are required."""

    def __init__(self) -> None:
        self._stream_arn: str | None = None
        self._options: dict[str, str] = {}

    def set_stream_arn(self, stream_arn: str) -> KinesisStreamSourceBuilder:
        """The stream to read, ``arn:aws:kinesis:<region>:<account>:stream/<name>``."""
        self._stream_arn = stream_arn
        return self

    def set_region(self, region: str) -> KinesisStreamSourceBuilder:
        """``aws.region``: the region of the stream and of the Kinesis client."""
        return self._set("aws.region", region)

    def set_endpoint(self, endpoint: str | None) -> KinesisStreamSourceBuilder:
        """``aws.endpoint``: an endpoint URL in place of the region's (an emulator); None keeps AWS's."""
        return self._set("aws.endpoint", endpoint) if endpoint else self

    def set_initial_position(self, position: str) -> KinesisStreamSourceBuilder:
        """``source.init.position``: ``LATEST``, ``TRIM_HORIZON`` or ``AT_TIMESTAMP``, for shards of a first start."""
        return self._set("source.init.position", position)

    def set_initial_timestamp(self, timestamp: str | None) -> KinesisStreamSourceBuilder:
        """``source.init.timestamp``: where ``AT_TIMESTAMP`` starts, ISO-8601 or epoch seconds."""
        return self._set("source.init.timestamp", timestamp) if timestamp is not None else self

    def set_reader_type(self, reader_type: str) -> KinesisStreamSourceBuilder:
        """``source.reader.type``: ``POLLING`` (the only one this source has)."""
        return self._set("source.reader.type", reader_type)

    def set_shard_discovery_interval_ms(self, interval_ms: int) -> KinesisStreamSourceBuilder:
        """``source.shard.discovery.interval``: how often ListShards looks for new shards (after a reshard)."""
        return self._set("source.shard.discovery.interval", f"{interval_ms} ms")

    def set_get_records_max_record_count(self, count: int) -> KinesisStreamSourceBuilder:
        """``source.shard.get-records.max-record-count``: the GetRecords limit, 1 to 10,000."""
        return self._set("source.shard.get-records.max-record-count", str(count))

    def set_empty_records_fetch_interval_ms(self, interval_ms: int) -> KinesisStreamSourceBuilder:
        """``source.reader.empty-records-fetch-interval``: the pause before a caught-up shard is read again."""
        return self._set("source.reader.empty-records-fetch-interval", f"{interval_ms} ms")

    def set_credentials(self, credentials: AwsCredentials) -> KinesisStreamSourceBuilder:
        """``aws.credentials.provider.*``: a role to assume (a stream of another account); the default chain without."""
        for key, value in credentials.client_properties().items():
            self._set(key, value)
        return self

    def _set(self, key: str, value: str) -> KinesisStreamSourceBuilder:
        self._options[key] = value
        return self

    def build(self) -> KinesisStreamSource:
        if self._stream_arn is None:
            raise ValueError("a stream ARN is required")
        j_source = (
            project_class("kinesis.KinesisStreamSource")
            .builder()
            .setStreamArn(self._stream_arn)
            .setSourceConfig(java_configuration(self._options))
            .setDeserializer(project_class("kinesis.PayloadRows")())
            .build()
        )
        return KinesisStreamSource(j_source)


class DeliveryStreamSink(Sink):
    """Writes strings as newline-terminated UTF-8 records to Firehose or a Kinesis stream.

    At least once: records in flight at a failure are sent again after the restore, and
    records a partially failed request refused are retried.
    """

    @staticmethod
    def firehose(delivery_stream_name: str, client_properties: dict[str, str]) -> DeliveryStreamSink:
        j_sink = (
            project_class("firehose.FirehoseSink")
            .builder()
            .setDeliveryStreamName(delivery_stream_name)
            .setFirehoseClientProperties(java_properties(client_properties))
            .setSerializationSchema(project_class("serialization.NewlineTerminatedStringSchema")())
            .build()
        )
        return DeliveryStreamSink(j_sink)

    @staticmethod
    def kinesis(
        stream_name: str, client_properties: dict[str, str], partition_key_fields: tuple[str, ...] = ()
    ) -> DeliveryStreamSink:
        """A Kinesis stream sink; records are partitioned by the values of ``partition_key_fields`` of each JSON
        record (one key's records stay on one shard), or by the MD5 of the record without them."""
        j_sink = (
            project_class("kinesis.KinesisStreamSink")
            .builder()
            .setStreamName(stream_name)
            .setKinesisClientProperties(java_properties(client_properties))
            .setSerializationSchema(project_class("serialization.NewlineTerminatedStringSchema")())
            .setPartitionKeyFields(java_strings(partition_key_fields))
            .build()
        )
        return DeliveryStreamSink(j_sink)


def _client_properties(region: str, endpoint: str | None, credentials: AwsCredentials) -> dict[str, str]:
    properties = {"aws.region": region, **credentials.client_properties()}
    if endpoint:
        properties["aws.endpoint"] = endpoint
    return properties


def event_time_watermarks(records: RecordsConfig, window: WindowConfig, per_record: bool = False) -> WatermarkStrategy:
    """Event time and watermarks of payload rows, per shard, as the ``records`` and ``window`` groups set them.

    ``per_record`` emits a watermark after every record that advances it, not only every
    auto-watermark interval: deterministic lateness over bounded input, for tests.
    """
    j_strategy = project_class("eventtime.EventTimeWatermarks").create(
        records.format,
        ",".join(records.csv_columns),
        records.event_time_field,
        records.event_time_format,
        records.watermark_out_of_orderness_ms,
        records.watermark_idleness_ms,
        window.close_when_idle_ms,
    )
    return WatermarkStrategy(j_strategy.perRecord() if per_record else j_strategy)


def kinesis_source(config: KinesisSourceConfig, endpoints: Endpoints) -> KinesisStreamSource:
    """The source for the ``kinesis.source`` group, pointed at the Kinesis endpoint in use."""
    return (
        KinesisStreamSource.builder()
        .set_stream_arn(config.stream_arn)
        .set_region(config.region)
        .set_endpoint(endpoints.kinesis)
        .set_initial_position(config.init_position)
        .set_initial_timestamp(config.init_timestamp)
        .set_reader_type(config.reader_type)
        .set_shard_discovery_interval_ms(config.shard_discovery_interval_ms)
        .set_get_records_max_record_count(config.get_records_max_record_count)
        .set_empty_records_fetch_interval_ms(config.empty_records_fetch_interval_ms)
        .set_credentials(config.credentials)
        .build()
    )


def delivery_sink(
    config: DeliveryConfig, region: str, endpoints: Endpoints, key_fields: tuple[str, ...] = ()
) -> DeliveryStreamSink:
    """The sink for the ``sink.delivery`` group: a Firehose delivery stream, or a Kinesis stream partitioned by the
    window's ``key_fields``."""
    if config.type == "firehose":
        properties = _client_properties(region, endpoints.firehose, config.credentials)
        return DeliveryStreamSink.firehose(config.stream_name, properties)
    properties = _client_properties(region, endpoints.kinesis, config.credentials)
    return DeliveryStreamSink.kinesis(config.stream_name, properties, key_fields)
