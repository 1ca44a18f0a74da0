"""The Python wrappers build the Java connectors with the options of the configuration."""

from __future__ import annotations

import pytest
from py4j.protocol import Py4JJavaError

from config import DeliveryConfig, Endpoints, KinesisSourceConfig
from connectors.kinesis import DeliveryStreamSink, KinesisStreamSource, delivery_sink, kinesis_source
from tests.flink_local import local_environment

ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/trips"


def source_config(**overrides: str | None) -> KinesisSourceConfig:
    values: dict[str, str | None] = {
        "init_position": "TRIM_HORIZON",
        "init_timestamp": None,
        "reader_type": "POLLING",
        **overrides,
    }
    return KinesisSourceConfig(
        stream_arn=ARN,
        stream_name="trips",
        region="eu-west-1",
        init_position=str(values["init_position"]),
        init_timestamp=values["init_timestamp"],
        reader_type=str(values["reader_type"]),
        efo_consumer_name=None,
    )


@pytest.fixture(scope="module", autouse=True)
def jvm_with_connector_jar() -> None:
    local_environment(connector_jar=True)


def test_source_is_built_from_the_source_group() -> None:
    source = kinesis_source(source_config(), Endpoints(kinesis="http://127.0.0.1:4567"))
    assert isinstance(source, KinesisStreamSource)
    assert source.get_java_function().getClass().getName() == "dev.streamscoring.connectors.kinesis.KinesisStreamSource"


def test_source_options_reach_the_java_validation() -> None:
    with pytest.raises(Py4JJavaError, match="AT_TIMESTAMP"):
        kinesis_source(source_config(init_position="AT_TIMESTAMP"), Endpoints())


def test_source_builder_requires_a_stream_arn() -> None:
    with pytest.raises(ValueError, match="a stream ARN is required"):
        KinesisStreamSource.builder().set_region("eu-west-1").build()


@pytest.mark.parametrize(
    ("kind", "java_class"),
    [
        ("firehose", "dev.streamscoring.connectors.firehose.FirehoseSink"),
        ("kinesis", "dev.streamscoring.connectors.kinesis.KinesisStreamSink"),
    ],
)
def test_delivery_sink_of_each_kind(kind: str, java_class: str) -> None:
    sink = delivery_sink(DeliveryConfig(kind, "deliveries"), "eu-west-1", Endpoints(firehose="http://127.0.0.1:1"))
    assert isinstance(sink, DeliveryStreamSink)
    assert sink.get_java_function().getClass().getName() == java_class
