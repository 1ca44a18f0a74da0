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

__all__ = ["ParquetSchemaError", "S3ParquetWindows", "arrow_schema", "read_parquet_windows", "window_rows"]

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


def read_parquet_windows(
    aws: LocalAws, location: S3Location, columns: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Every row of every ``.parquet`` object under ``location``, checked against ``columns``."""
    return S3ParquetWindows(aws, location, columns).read()


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


class S3ParquetWindows:
    """The Parquet windows under an S3 prefix; a committed object never changes, so each is read once."""

    def __init__(self, aws: LocalAws, location: S3Location, columns: Sequence[tuple[str, str]]) -> None:
        self._s3 = aws.client("s3")
        self._location = location
        self._columns = tuple(columns)
        self._objects: dict[str, list[dict[str, Any]]] = {}

    def read(self) -> list[dict[str, Any]]:
        bucket, prefix = self._location.bucket, self._location.key_prefix
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith(".parquet") and key not in self._objects:
                    body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                    self._objects[key] = window_rows(body, self._columns, key)
        return [row for rows in self._objects.values() for row in rows]

    @property
    def objects(self) -> int:
        """How many Parquet objects the last :meth:`read` found."""
        return len(self._objects)
