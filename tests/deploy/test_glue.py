"""The Glue tables of the CloudFormation template: the windows table has the columns the job writes
with the template's own property groups, in the format it writes them, with partition projection on
the dt=/hour= prefixes the S3 sinks write."""

from __future__ import annotations

from typing import Any

import pytest

from config import build_config
from deploy.local.testing import json_record_groups
from tests.deploy.test_cloudformation import APIGATEWAY, BASE, BUCKET, SAGEMAKER, Stack, _template
from udfs.output import window_columns

PROJECTION = {
    "projection.enabled": "true",
    "projection.dt.type": "date",
    "projection.dt.format": "yyyy-MM-dd",
    "projection.dt.range": "NOW-3YEARS,NOW",
    "projection.dt.interval": "1",
    "projection.dt.interval.unit": "DAYS",
    "projection.hour.type": "integer",
    "projection.hour.range": "0,23",
    "projection.hour.digits": "2",
}
PARTITION_KEYS = [{"Name": "dt", "Type": "string"}, {"Name": "hour", "Type": "string"}]
TRIP_AGGREGATES = [
    f"{field}_{suffix}"
    for field in ("fare_amount", "trip_distance", "duration_seconds")
    for suffix in ("sum", "mean", "min", "max")
]


def table(stack: Stack, logical_id: str) -> dict[str, Any]:
    properties = stack.properties(logical_id)
    assert properties["DatabaseName"] == stack.ref("GlueDatabase")
    return dict(properties["TableInput"])


@pytest.mark.parametrize("parameters", [BASE, SAGEMAKER, APIGATEWAY], ids=["none", "sagemaker", "apigateway"])
@pytest.mark.parametrize("windows_format", ["json", "parquet"])
def test_windows_table_has_the_columns_the_job_writes(parameters: dict[str, str], windows_format: str) -> None:
    stack = Stack(_template(), {**parameters, "WindowsFormat": windows_format})
    config = build_config(stack.property_groups(), {})
    assert config.sink_s3.format == windows_format
    assert config.sink_s3.partition_time == "event"

    windows = table(stack, "WindowsTable")
    columns = [(c["Name"], c["Type"]) for c in windows["StorageDescriptor"]["Columns"]]
    assert columns == window_columns(config)
    prediction = [("prediction", "double")] if parameters is not BASE else []
    if parameters is SAGEMAKER:
        # SageMaker names the variant that answered each window.
        prediction.append(("prediction_variant", "string"))
    assert columns == [
        ("vendor_id", "string"),
        ("window_start", "timestamp"),
        ("window_end", "timestamp"),
        ("window_id", "string"),
        ("count", "bigint"),
        *((name, "double") for name in TRIP_AGGREGATES),
        *prediction,
    ]


@pytest.mark.parametrize(
    ("windows_format", "serde", "input_format"),
    [
        ("json", "org.openx.data.jsonserde.JsonSerDe", "org.apache.hadoop.mapred.TextInputFormat"),
        (
            "parquet",
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        ),
    ],
)
def test_windows_table_reads_the_format_the_job_writes_with_projected_partitions(
    windows_format: str, serde: str, input_format: str
) -> None:
    stack = Stack(_template(), {**BASE, "WindowsFormat": windows_format})
    windows = table(stack, "WindowsTable")
    storage = windows["StorageDescriptor"]
    assert (storage["SerdeInfo"]["SerializationLibrary"], storage["InputFormat"]) == (serde, input_format)
    assert storage["Location"] == f"s3://{BUCKET}/windows/"
    assert windows["PartitionKeys"] == PARTITION_KEYS
    assert windows["Parameters"] == {
        "classification": windows_format,
        **PROJECTION,
        "storage.location.template": f"s3://{BUCKET}/windows/dt=${{dt}}/hour=${{hour}}",
    }
    assert stack.property_groups()["sink.s3"]["path"] == f"s3://{BUCKET}/windows"


def test_dead_letters_table_has_the_dead_letter_fields() -> None:
    stack = Stack(_template(), BASE)
    letters = table(stack, "DeadLettersTable")
    columns = [c["Name"] for c in letters["StorageDescriptor"]["Columns"]]
    assert columns == ["payload", "stage", "reason", "arrival_time"]
    assert letters["PartitionKeys"] == PARTITION_KEYS
    assert letters["Parameters"]["storage.location.template"] == (
        f"s3://{BUCKET}/dead-letters/dt=${{dt}}/hour=${{hour}}"
    )
    assert stack.property_groups()["sink.dlq"]["path"] == f"s3://{BUCKET}/dead-letters"
    assert stack.properties("GlueDatabase")["DatabaseInput"]["Name"] == "stream_scoring"


def test_columns_of_an_iot_configuration_with_several_keys_and_aggregates() -> None:
    """The Parquet files of this configuration are checked against these columns in tests/connectors/test_s3.py."""
    groups = json_record_groups("iot", 60, "temperature,humidity,battery")
    groups["records"]["key.fields"] = "site,device"
    assert window_columns(build_config(groups, {})) == [
        ("site", "string"),
        ("device", "string"),
        ("window_start", "timestamp"),
        ("window_end", "timestamp"),
        ("window_id", "string"),
        ("count", "bigint"),
        *(
            (f"{field}_{suffix}", "double")
            for field in ("temperature", "humidity", "battery")
            for suffix in ("sum", "mean", "min", "max")
        ),
    ]


def test_record_scoring_with_a_label_adds_the_prediction_aggregates_mae_and_bias() -> None:
    groups = json_record_groups("iot", 60, "temperature")
    groups["inference"] = {
        "type": "sagemaker",
        "endpoint.name": "m",
        "input": "record",
        "features": "temperature",
        "label.field": "humidity",
    }
    columns = window_columns(build_config(groups, {"AWS_REGION": "us-east-1"}))
    assert columns[-6:] == [
        ("prediction_sum", "double"),
        ("prediction_mean", "double"),
        ("prediction_min", "double"),
        ("prediction_max", "double"),
        ("mae", "double"),
        ("bias", "double"),
    ]
