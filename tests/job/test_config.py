from __future__ import annotations

import json
from pathlib import Path

import pytest

from config import (
    AppConfig,
    CodecConfig,
    ConfigError,
    DeadLetterConfig,
    DeliveryConfig,
    EndpointConfig,
    Endpoints,
    KinesisSourceConfig,
    RecordsConfig,
    S3Location,
    S3SinkConfig,
    ShadowConfig,
    WindowConfig,
    build_config,
    load_property_groups,
)

ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/trips"


def groups(**overrides: dict[str, str] | None) -> dict[str, dict[str, str]]:
    base: dict[str, dict[str, str]] = {
        "kinesis.source": {"stream.arn": ARN},
        "records": {"format": "csv", "csv.columns": "vendor,t,fare", "key.fields": "vendor", "event.time.field": "t"},
        "window": {"size.seconds": "30", "aggregate.fields": "fare"},
        "sink.s3": {"path": "s3://out-bucket/windows"},
        "sink.delivery": {"type": "firehose", "stream.name": "deliver"},
        "sink.dlq": {"path": "s3://out-bucket/dlq/"},
    }
    for name, value in overrides.items():
        group = name.replace("_", ".")
        if value is None:
            base.pop(group)
        else:
            base[group] = value
    return base


def test_valid_configuration_with_defaults() -> None:
    config = build_config(groups(), {})
    assert config == AppConfig(
        source=KinesisSourceConfig(
            stream_arn=ARN,
            stream_name="trips",
            region="eu-west-1",
            init_position="LATEST",
            init_timestamp=None,
            reader_type="POLLING",
            efo_consumer_name=None,
        ),
        records=RecordsConfig(
            format="csv",
            csv_columns=("vendor", "t", "fare"),
            key_fields=("vendor",),
            event_time_field="t",
            event_time_format="epoch_ms",
            watermark_out_of_orderness_ms=5000,
            watermark_idleness_ms=60000,
        ),
        window=WindowConfig(size_seconds=30, aggregate_fields=("fare",)),
        sink_s3=S3SinkConfig(S3Location("out-bucket", "windows"), "json"),
        delivery=DeliveryConfig("firehose", "deliver"),
        dead_letter=DeadLetterConfig(S3Location("out-bucket", "dlq")),
        endpoints=Endpoints(),
    )


def test_parquet_windows_partitioned_by_processing_time() -> None:
    config = build_config(
        groups(sink_s3={"path": "s3://out-bucket/w", "format": "Parquet", "partition.time": "processing"}), {}
    )
    assert config.sink_s3 == S3SinkConfig(S3Location("out-bucket", "w"), "parquet", "processing")


def test_endpoints_come_from_the_standard_variables() -> None:
    config = build_config(
        groups(),
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566/", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"},
    )
    assert config.endpoints == Endpoints(
        kinesis="http://127.0.0.1:4566",
        firehose="http://127.0.0.1:4566",
        s3="http://127.0.0.1:9000",
        sagemaker_runtime="http://127.0.0.1:4566",
    )


def test_service_groups_are_allowed_and_delivery_is_optional() -> None:
    properties = groups(sink_delivery=None)
    properties["kinesis.analytics.flink.run.options"] = {"python": "job/main.py"}
    config = build_config(properties, {})
    assert config.delivery is None


def test_explicit_source_settings() -> None:
    config = build_config(
        groups(
            kinesis_source={
                "stream.arn": ARN,
                "aws.region": "us-east-2",
                "init.position": "at_timestamp",
                "init.timestamp": "2026-11-23T10:00:00Z",
            }
        ),
        {},
    )
    assert (config.source.region, config.source.init_position, config.source.init_timestamp) == (
        "us-east-2",
        "AT_TIMESTAMP",
        "2026-11-23T10:00:00Z",
    )


RECORDS = {"format": "json", "key.fields": "k"}


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (
            groups(kinesis_source={}),
            "configuration error in property group 'kinesis.source', key 'stream.arn': is required",
        ),
        (
            groups(kinesis_source={"stream.arn": "trips"}),
            "configuration error in property group 'kinesis.source', key 'stream.arn': "
            "must be arn:aws:kinesis:<region>:<account>:stream/<name>, got 'trips'",
        ),
        (
            groups(kinesis_source={"stream.arn": ARN, "init.position": "EARLIEST"}),
            "configuration error in property group 'kinesis.source', key 'init.position': "
            "must be one of LATEST | TRIM_HORIZON | AT_TIMESTAMP, got 'EARLIEST'",
        ),
        (
            groups(kinesis_source={"stream.arn": ARN, "init.position": "AT_TIMESTAMP"}),
            "configuration error in property group 'kinesis.source', key 'init.timestamp': "
            "is required when init.position is AT_TIMESTAMP",
        ),
        (
            groups(kinesis_source={"stream.arn": ARN, "init.position": "AT_TIMESTAMP", "init.timestamp": "noon"}),
            "configuration error in property group 'kinesis.source', key 'init.timestamp': "
            "must be ISO-8601 or epoch seconds, got 'noon'",
        ),
        (
            groups(kinesis_source={"stream.arn": ARN, "reader.type": "EFO"}),
            "configuration error in property group 'kinesis.source', key 'reader.type': EFO is not supported by "
            "this build's Kinesis source (it reads with POLLING); remove the key or set POLLING",
        ),
        (
            groups(kinesis_source={"stream.arn": ARN, "aws.regoin": "eu-west-1"}),
            "configuration error in property group 'kinesis.source', key 'aws.regoin': unknown key; known keys "
            "are aws.credentials.provider.role.arn, aws.credentials.provider.role.externalId, "
            "aws.credentials.provider.role.sessionName, aws.region, efo.consumer.name, init.position, init.timestamp, "
            "reader.empty-records-fetch-interval, reader.type, shard.discovery.interval, "
            "shard.get-records.max-record-count, stream.arn",
        ),
        (
            groups(records={**RECORDS, "format": "xml"}),
            "configuration error in property group 'records', key 'format': must be one of json | csv, got 'xml'",
        ),
        (
            groups(records={"format": "csv", "csv.columns": "a,b", "key.fields": "vendor"}),
            "configuration error in property group 'records', key 'key.fields': 'vendor' is not one of csv.columns",
        ),
        (
            groups(records={"format": "csv", "key.fields": "a"}),
            "configuration error in property group 'records', key 'csv.columns': is required",
        ),
        (
            groups(records={"format": "json"}),
            "configuration error in property group 'records', key 'key.fields': is required",
        ),
        (
            groups(records={**RECORDS, "key.fields": "k,window_id"}),
            "configuration error in property group 'records', key 'key.fields': "
            "'window_id' is a name the window output uses itself",
        ),
        (
            groups(records={**RECORDS, "key.fields": "trip-id"}),
            "configuration error in property group 'records', key 'key.fields': "
            "'trip-id' is not a field name (letters, digits, underscore)",
        ),
        (
            groups(records={**RECORDS, "event.time.format": "rfc822"}),
            "configuration error in property group 'records', key 'event.time.format': "
            "must be one of epoch_ms | epoch_s | iso8601, got 'rfc822'",
        ),
        (
            groups(records={**RECORDS, "watermark.out.of.orderness.ms": "-1"}),
            "configuration error in property group 'records', key 'watermark.out.of.orderness.ms': "
            "must be at least 0, got -1",
        ),
        (
            groups(records=RECORDS, window={"size.seconds": "0"}),
            "configuration error in property group 'window', key 'size.seconds': must be at least 1, got 0",
        ),
        (
            groups(records=RECORDS, window={"size.seconds": "1m"}),
            "configuration error in property group 'window', key 'size.seconds': must be an integer, got '1m'",
        ),
        (
            groups(window={"aggregate.fields": "fare,tip"}),
            "configuration error in property group 'window', key 'aggregate.fields': "
            "'tip' is not one of records.csv.columns",
        ),
        (
            groups(records=RECORDS, window={"aggregate.fields": "v,v"}),
            "configuration error in property group 'window', key 'aggregate.fields': lists a field more than once",
        ),
        (
            groups(sink_s3={"path": "https://bucket/prefix"}),
            "configuration error in property group 'sink.s3', key 'path': "
            "must be s3://bucket/prefix, got 'https://bucket/prefix'",
        ),
        (
            groups(sink_s3={"path": "s3://out-bucket/w", "format": "orc"}),
            "configuration error in property group 'sink.s3', key 'format': must be one of json | parquet, got 'orc'",
        ),
        (
            groups(sink_s3={"path": "s3://out-bucket/w", "partition.time": "arrival"}),
            "configuration error in property group 'sink.s3', key 'partition.time': "
            "must be one of event | processing, got 'arrival'",
        ),
        (
            groups(sink_delivery={"type": "sqs", "stream.name": "x"}),
            "configuration error in property group 'sink.delivery', key 'type': "
            "must be one of firehose | kinesis, got 'sqs'",
        ),
        (
            groups(sink_delivery={"type": "kinesis"}),
            "configuration error in property group 'sink.delivery', key 'stream.name': is required",
        ),
        (
            groups(sink_dlq=None),
            "configuration error in property group 'sink.dlq', key 'PropertyGroupId': group is required",
        ),
        (
            {**groups(), "sink.s4": {}},
            "configuration error in property group 'sink.s4', key 'PropertyGroupId': unknown group; known groups "
            "are kinesis.source, records, window, sink.s3, sink.delivery, sink.dlq, inference, inference.shadow",
        ),
    ],
)
def test_invalid_configuration_names_group_and_key(properties: dict[str, dict[str, str]], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build_config(properties, {})
    assert str(raised.value) == message


def test_bad_endpoint_variable_is_named() -> None:
    with pytest.raises(ConfigError) as raised:
        build_config(groups(), {"AWS_ENDPOINT_URL_KINESIS": "localhost:4566"})
    assert str(raised.value) == (
        "configuration error in property group '(environment)', key 'AWS_ENDPOINT_URL_KINESIS': "
        "must be an http(s) URL, got 'localhost:4566'"
    )


def test_properties_file_in_the_service_format(tmp_path: Path) -> None:
    path = tmp_path / "application_properties.json"
    path.write_text(
        json.dumps(
            [
                {"PropertyGroupId": "window", "PropertyMap": {"size.seconds": "60"}},
                {"PropertyGroupId": "sink.dlq", "PropertyMap": {"path": "s3://b/p"}},
            ]
        )
    )
    assert load_property_groups(path) == {"window": {"size.seconds": "60"}, "sink.dlq": {"path": "s3://b/p"}}


def test_properties_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "props.json"
    path.write_text('{"window": {}}')
    with pytest.raises(ConfigError) as raised:
        load_property_groups(path)
    assert str(raised.value) == (
        f"configuration error in property group '(file)', key '{path}': must hold a JSON list of property groups"
    )


INFERENCE = {"type": "sagemaker", "endpoint.name": "fare-model", "features": "fare_mean,count"}


def test_inference_defaults_for_window_scoring() -> None:
    config = build_config(
        {**groups(), "inference": INFERENCE}, {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://127.0.0.1:9"}
    )
    inference = config.inference
    assert inference is not None
    endpoint = inference.endpoint
    assert (inference.input, endpoint.type, endpoint.auth, endpoint.method, inference.codec.content_type) == (
        "window",
        "sagemaker",
        "iam",
        "POST",
        "text/csv",
    )
    assert inference.features == ("fare_mean", "count")
    batching, retry = inference.batching, inference.retry
    assert (batching.size, batching.max_delay_ms, retry.max_attempts, batching.capacity) == (
        10,
        20,
        4,
        100,
    )
    assert config.endpoints.sagemaker_runtime == "http://127.0.0.1:9"


def test_inference_can_be_switched_off() -> None:
    assert build_config({**groups(), "inference": {**INFERENCE, "enabled": "false"}}, {}).inference is None


def test_record_scoring_with_label_over_api_gateway() -> None:
    inference = build_config(
        {
            **groups(),
            "inference": {
                "input": "record",
                "type": "apigateway",
                "url": "https://abc.execute-api.us-east-1.amazonaws.com/prod/predict",
                "auth": "api_key",
                "api.key": "k1",
                "features": "fare",
                "label.field": "fare",
                "content.type": "application/json",
            },
        },
        {},
    ).inference
    assert inference is not None
    assert (inference.input, inference.endpoint.auth, inference.endpoint.api_key, inference.label_field) == (
        "record",
        "api_key",
        "k1",
        "fare",
    )


@pytest.mark.parametrize(
    ("inference", "message"),
    [
        (
            {**INFERENCE, "features": "fare_avg"},
            "key 'features': 'fare_avg' is not a window field; window fields are count, fare_sum, fare_mean, "
            "fare_min, fare_max",
        ),
        ({**INFERENCE, "label.field": "fare"}, "key 'label.field': applies to input=record only"),
        ({"type": "sagemaker", "features": "count"}, "key 'endpoint.name': is required when type is sagemaker"),
        (
            {"type": "apigateway", "url": "ftp://x/y", "features": "count"},
            "key 'url': must be an http(s) URL, got 'ftp://x/y'",
        ),
        ({**INFERENCE, "batch.size": "0"}, "key 'batch.size': must be at least 1, got 0"),
        (
            {"type": "apigateway", "url": "http://127.0.0.1:1/p", "method": "GET", "features": "count"},
            "key 'batch.size': must be 1 with method GET (one instance per query)",
        ),
        (
            {"type": "apigateway", "url": "http://127.0.0.1:1/p", "auth": "api_key", "features": "count"},
            "key 'api.key': is required when auth is api_key",
        ),
        ({**INFERENCE, "type": "bedrock"}, "key 'type': must be one of sagemaker | apigateway, got 'bedrock'"),
        ({**INFERENCE, "auth": "none"}, "key 'auth': a SageMaker endpoint is always called with iam (SigV4)"),
        (
            {**INFERENCE, "content.type": "text/plain"},
            "key 'content.type': must be one of text/csv | application/json, got 'text/plain'",
        ),
        ({**INFERENCE, "prediction.field": "fare"}, "key 'prediction.field': 'fare' is already a record field"),
    ],
)
def test_invalid_inference_configuration(inference: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build_config({**groups(), "inference": inference}, {})
    assert str(raised.value) == f"configuration error in property group 'inference', {message}"


def test_the_variant_header_is_sagemakers_or_the_one_an_api_gateway_names() -> None:
    sagemaker = build_config({**groups(), "inference": INFERENCE}, {}).inference
    assert sagemaker is not None and sagemaker.endpoint.variant_header == "X-Amzn-Invoked-Production-Variant"
    gateway = {"type": "apigateway", "url": "http://127.0.0.1:1/p", "features": "count"}
    plain = build_config({**groups(), "inference": gateway}, {}).inference
    assert plain is not None and plain.endpoint.variant_header is None
    named = build_config({**groups(), "inference": {**gateway, "variant.header": "X-Model-Variant"}}, {}).inference
    assert named is not None and named.endpoint.variant_header == "X-Model-Variant"


SHADOW = {"type": "sagemaker", "endpoint.name": "fare-model-shadow"}


def test_a_shadow_endpoint_with_the_primarys_contract_keys() -> None:
    config = build_config(
        {**groups(), "inference": {**INFERENCE, "timeout.ms": "900"}, "inference.shadow": SHADOW},
        {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://127.0.0.1:9"},
    )
    assert config.inference is not None
    shadow = config.inference.shadow
    assert shadow == ShadowConfig(
        endpoint=EndpointConfig(
            type="sagemaker",
            url="http://127.0.0.1:9/endpoints/fare-model-shadow/invocations",
            region="eu-west-1",
            method="POST",
            query_parameter="features",
            auth="iam",
            api_key=None,
            endpoint_name="fare-model-shadow",
            target_variant=None,
            custom_attributes=None,
            variant_header="X-Amzn-Invoked-Production-Variant",
        ),
        codec=CodecConfig("text/csv", "instances", "predictions", "score"),
        sample_rate=1.0,
        timeout_ms=900,
    )


def test_a_shadow_of_another_endpoint_type_with_sampling() -> None:
    shadow_group = {
        "type": "apigateway",
        "url": "https://abc.execute-api.eu-west-1.amazonaws.com/prod/predict",
        "content.type": "application/json",
        "json.response.field": "scores",
        "sample.rate": "0.25",
        "timeout.ms": "300",
    }
    inference = build_config({**groups(), "inference": INFERENCE, "inference.shadow": shadow_group}, {}).inference
    assert inference is not None and inference.shadow is not None
    shadow = inference.shadow
    assert (shadow.endpoint.type, shadow.endpoint.auth, shadow.endpoint.url, shadow.endpoint.variant_header) == (
        "apigateway",
        "none",
        "https://abc.execute-api.eu-west-1.amazonaws.com/prod/predict",
        None,
    )
    assert (shadow.codec.content_type, shadow.codec.json_response_field) == ("application/json", "scores")
    assert (shadow.sample_rate, shadow.timeout_ms) == (0.25, 300)


@pytest.mark.parametrize(
    ("shadow", "message"),
    [
        ({**SHADOW, "sample.rate": "1.5"}, "key 'sample.rate': must be a number from 0 to 1, got '1.5'"),
        ({**SHADOW, "sample.rate": "half"}, "key 'sample.rate': must be a number from 0 to 1, got 'half'"),
        ({"type": "sagemaker"}, "key 'endpoint.name': is required when type is sagemaker"),
        ({**SHADOW, "auth": "none"}, "key 'auth': a SageMaker endpoint is always called with iam (SigV4)"),
        (
            {"type": "apigateway", "url": "http://127.0.0.1:1/p", "method": "GET"},
            "key 'method': GET sends one instance per query: it needs batch.size 1 in group inference",
        ),
        ({**SHADOW, "variant.header": "bad header"}, "key 'variant.header': 'bad header' is not an HTTP header name"),
        ({**SHADOW, "batch.size": "5"}, "key 'batch.size': unknown key; known keys are "),
    ],
)
def test_invalid_shadow_configuration(shadow: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build_config({**groups(), "inference": INFERENCE, "inference.shadow": shadow}, {})
    assert str(raised.value).startswith(f"configuration error in property group 'inference.shadow', {message}")


def test_a_shadow_needs_inference() -> None:
    with pytest.raises(ConfigError) as raised:
        build_config({**groups(), "inference.shadow": SHADOW}, {})
    assert str(raised.value) == (
        "configuration error in property group 'inference.shadow', key 'PropertyGroupId': "
        "a shadow needs the inference group, with inference enabled"
    )


ROLE = "arn:aws:iam::210987654321:role/stream-reader"


def test_an_assumed_role_for_the_source_and_the_delivery_stream() -> None:
    source = {"stream.arn": ARN, "aws.credentials.provider.role.arn": ROLE}
    delivery = {
        "type": "kinesis",
        "stream.name": "deliver",
        "aws.credentials.provider.role.arn": ROLE,
        "aws.credentials.provider.role.externalId": "partner-7",
        "aws.credentials.provider.role.sessionName": "scoring",
    }
    config = build_config(groups(kinesis_source=source, sink_delivery=delivery), {})
    assert config.source.credentials.client_properties() == {
        "aws.credentials.provider": "ASSUME_ROLE",
        "aws.credentials.provider.role.arn": ROLE,
    }
    assert config.delivery is not None
    assert config.delivery.credentials.client_properties() == {
        "aws.credentials.provider": "ASSUME_ROLE",
        "aws.credentials.provider.role.arn": ROLE,
        "aws.credentials.provider.role.externalId": "partner-7",
        "aws.credentials.provider.role.sessionName": "scoring",
    }
    assert build_config(groups(), {}).source.credentials.client_properties() == {}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"aws.credentials.provider.role.arn": "arn:aws:iam::1:role/x"},
            "key 'aws.credentials.provider.role.arn': must be arn:aws:iam::<account>:role/<name>, "
            "got 'arn:aws:iam::1:role/x'",
        ),
        (
            {"aws.credentials.provider.role.sessionName": "scoring"},
            "key 'aws.credentials.provider.role.sessionName': applies only with aws.credentials.provider.role.arn",
        ),
        (
            {"aws.credentials.provider.role.arn": ROLE, "aws.credentials.provider.role.sessionName": "a b"},
            "key 'aws.credentials.provider.role.sessionName': must be 2 to 64 of letters, digits and +=,.@-_",
        ),
    ],
)
def test_invalid_role_settings_name_group_and_key(source: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        build_config(groups(kinesis_source={"stream.arn": ARN, **source}), {})
    assert str(error.value) == f"configuration error in property group 'kinesis.source', {message}"
