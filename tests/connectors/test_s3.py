"""The windows' file sink: Parquet read back with pyarrow, partitions by window start.

The window SQL runs on a bounded input and its lines go through the same writer factory and
bucket assigner as the job's S3 sink, into a local directory; the expected records are those
the JSON tests expect (tests/udfs/test_relational.py), with the types the Glue table declares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyflink.datastream.connectors.file_system import FileSink, OutputFileConfig

from config import AppConfig, build_config
from connectors.s3 import parquet_window_writers, window_partitions
from deploy.local.parquet_windows import ParquetSchemaError, window_rows
from deploy.local.testing import json_record_groups
from tests.flink_local import local_environment, payload_rows
from tests.udfs.test_relational import window
from udfs.output import window_columns
from udfs.relational import parse_records, window_lines

IOT_GROUPS = {
    **json_record_groups("iot", 60, "temperature,humidity"),
    "records": {
        "format": "json",
        "key.fields": "site,device",
        "event.time.field": "t",
        "event.time.format": "epoch_ms",
        "watermark.out.of.orderness.ms": "1000",
    },
}


def write_windows(config: AppConfig, items: list[tuple[str, int]], out: Path) -> dict[str, list[dict[str, Any]]]:
    """Run the window SQL over ``items`` into Parquet files under ``out``: rows by partition directory."""
    env, t_env = local_environment(connector_jar=True)
    records, window_config = config.records, config.window
    parsed = parse_records(t_env, payload_rows(env, items, records, window_config), records, window_config)
    lines = window_lines(t_env, parsed.valid, records, window_config).lines
    columns = window_columns(config)
    sink = (
        FileSink.for_bulk_format(out.as_uri(), parquet_window_writers(columns))
        .with_bucket_assigner(window_partitions("event"))
        .with_output_file_config(OutputFileConfig.builder().with_part_suffix(".parquet").build())
        .build()
    )
    lines.sink_to(sink)
    env.execute("parquet windows")
    partitions: dict[str, list[dict[str, Any]]] = {}
    for file in sorted(out.rglob("*.parquet")):
        if not file.name.startswith("."):
            rows = window_rows(file.read_bytes(), columns, file.name)
            partitions.setdefault(str(file.parent.relative_to(out)), []).extend(rows)
    return partitions


def by_start_and_keys(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda w: (w["window_start"], *(w[k] for k in keys)))


def test_parquet_windows_have_the_json_windows_values_and_event_time_partitions(tmp_path: Path) -> None:
    config = build_config(json_record_groups("demo", 60, "v"), {})
    hour = 3_600_000
    items = [
        ('{"k":"a","t":1000,"v":1}', 1),
        ('{"k":"a","t":2000,"v":2.5}', 2),
        ('{"k":"b","t":3000,"v":"4"}', 3),
        ('{"k":"b","t":65000,"v":10}', 4),
        (f'{{"k":"a","t":{hour + 5000},"v":1}}', 5),
    ]
    partitions = write_windows(config, items, tmp_path)

    assert sorted(partitions) == ["dt=1970-01-01/hour=00", "dt=1970-01-01/hour=01"]
    z = "1970-01-01T0"
    assert by_start_and_keys(partitions["dt=1970-01-01/hour=00"], ("k",)) == [
        window({"k": "a"}, f"{z}0:00:00Z", f"{z}0:01:00Z", [1.0, 2.5], "v"),
        window({"k": "b"}, f"{z}0:00:00Z", f"{z}0:01:00Z", [4.0], "v"),
        window({"k": "b"}, f"{z}0:01:00Z", f"{z}0:02:00Z", [10.0], "v"),
    ]
    assert partitions["dt=1970-01-01/hour=01"] == [window({"k": "a"}, f"{z}1:00:00Z", f"{z}1:01:00Z", [1.0], "v")]
    first = partitions["dt=1970-01-01/hour=00"][0]
    assert [type(first[name]).__name__ for name in ("k", "window_start", "window_id", "count", "v_sum")] == [
        "str",
        "str",
        "str",
        "int",
        "float",
    ]


def test_iot_windows_with_two_keys_and_two_aggregates(tmp_path: Path) -> None:
    config = build_config(IOT_GROUPS, {})
    items = [
        ('{"site":"north","device":"d1","t":1795428001000,"temperature":20.5,"humidity":40}', 1),
        ('{"site":"north","device":"d1","t":1795428002000,"temperature":21.5,"humidity":42}', 2),
        ('{"site":"south","device":"d1","t":1795428003000,"temperature":30,"humidity":10}', 3),
        ('{"site":"south","device":"d2","t":1795428070000,"temperature":1,"humidity":2}', 4),
    ]
    partitions = write_windows(config, items, tmp_path)

    def iot(site: str, device: str, start: str, end: str, temperature: list[float], humidity: list[float]) -> dict:
        record = window({"site": site, "device": device}, start, end, temperature, "temperature")
        humid = window({"site": site, "device": device}, start, end, humidity, "humidity")
        return {**record, **{k: v for k, v in humid.items() if k.startswith("humidity_")}}

    start, end, later = "2026-11-23T10:00:00Z", "2026-11-23T10:01:00Z", "2026-11-23T10:02:00Z"
    assert {k: by_start_and_keys(v, ("site", "device")) for k, v in partitions.items()} == {
        "dt=2026-11-23/hour=10": [
            iot("north", "d1", start, end, [20.5, 21.5], [40.0, 42.0]),
            iot("south", "d1", start, end, [30.0], [10.0]),
            iot("south", "d2", end, later, [1.0], [2.0]),
        ]
    }


def test_a_file_of_another_schema_is_refused(tmp_path: Path) -> None:
    config = build_config(json_record_groups("demo", 60, "v"), {})
    partitions = write_windows(config, [('{"k":"a","t":1000,"v":1}', 1)], tmp_path)
    assert len(partitions["dt=1970-01-01/hour=00"]) == 1
    data = next(tmp_path.rglob("*.parquet")).read_bytes()
    other = [(name, "string" if kind == "bigint" else kind) for name, kind in window_columns(config)]
    with pytest.raises(ParquetSchemaError, match="differs from the expected"):
        window_rows(data, other)
