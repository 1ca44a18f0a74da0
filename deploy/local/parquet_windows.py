"""Reads the job's Parquet windows back with pyarrow, checked against the schema the job declares.

Used by the demo's summary and by the tests: a file whose schema differs from the expected one
is an error, not rows; timestamps come back as the ISO-8601 text the JSON windows carry, so both
formats compare with the same expected records.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from config import S3Location
from deploy.local.stack import LocalAws

__all__ = ["ParquetSchemaError", "arrow_schema", "read_parquet_windows", "window_rows"]

_ARROW_TYPES = {
    "string": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "bigint": pa.int64(),
    "double": pa.float64(),
}


class ParquetSchemaError(Exception):
    """A Parquet object's columns or types differ from the job's window columns."""


def arrow_schema(columns: Sequence[tuple[str, str]]) -> pa.Schema:
    """The Arrow schema of the Parquet windows for (name, Glue type) ``columns``."""
    return pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in columns])


def window_rows(data: bytes, columns: Sequence[tuple[str, str]], name: str = "Parquet file") -> list[dict[str, Any]]:
    """The rows of one Parquet file as JSON-shaped records; raises if its schema is not ``columns``'."""
    table = pq.read_table(io.BytesIO(data))
    expected = arrow_schema(columns)
    if not table.schema.equals(expected, check_metadata=False):
        raise ParquetSchemaError(f"{name}: schema\n{table.schema}\ndiffers from the expected\n{expected}")
    return [{key: _json_value(value) for key, value in row.items()} for row in table.to_pylist()]


def read_parquet_windows(aws: LocalAws, location: S3Location, columns: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every row of every ``.parquet`` object under ``location``, checked against ``columns``."""
    s3 = aws.client("s3")
    rows: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.key_prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".parquet"):
                body = s3.get_object(Bucket=location.bucket, Key=item["Key"])["Body"].read()
                rows.extend(window_rows(body, columns, item["Key"]))
    return rows


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value
