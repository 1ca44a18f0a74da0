"""Reusable pieces for the tests, the benchmark and the demo, in one place.

What a test of this job needs again and again: property groups for a job reading JSON records,
the resources those groups name, reading what the job wrote (JSON lines in S3, records of a
Kinesis delivery stream), and waiting for a condition with a deadline instead of a fixed sleep.
Servers themselves (moto, kinesis-mock, the model server, the fault proxy) have their own
modules beside this one; pytest starts them from fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from config import AppConfig, S3Location, build_config, write_property_groups
from deploy.local.parquet_windows import S3ParquetWindows
from deploy.local.stack import LOCAL_ACCOUNT, LocalAws, create_resources, wait_until
from udfs.output import window_columns

__all__ = [
    "Groups",
    "S3Lines",
    "S3Records",
    "json_record_groups",
    "prepare",
    "read_lines",
    "read_stream",
    "settled",
    "wait_until",
    "window_reader",
]

Groups = dict[str, dict[str, str]]


def json_record_groups(name: str, window_s: int, aggregate_fields: str) -> Groups:
    """Property groups for JSON records keyed by ``k`` with event time ``t`` (epoch ms), read
    from the start of stream ``<name>-in``, windows and dead letters in bucket ``name``."""
    return {
        "kinesis.source": {
            "stream.arn": f"arn:aws:kinesis:us-east-1:{LOCAL_ACCOUNT}:stream/{name}-in",
            "init.position": "TRIM_HORIZON",
        },
        "records": {
            "format": "json",
            "key.fields": "k",
            "event.time.field": "t",
            "event.time.format": "epoch_ms",
            "watermark.out.of.orderness.ms": "0",
        },
        "window": {"size.seconds": str(window_s), "aggregate.fields": aggregate_fields},
        "sink.s3": {"path": f"s3://{name}/windows"},
        "sink.dlq": {"path": f"s3://{name}/dead-letters"},
    }


def prepare(aws: LocalAws, groups: Groups, path: Path, environ: dict[str, str] | None = None) -> AppConfig:
    """Write the properties file, build the config the job will build, create its resources."""
    write_property_groups(path, groups)
    config = build_config(groups, {**aws.endpoint_environment(), **(environ or {})})
    create_resources(aws, config)
    return config


def settled(condition: Callable[[], Any], timeout_s: float, what: str) -> bool:
    """Wait for ``condition`` like :func:`wait_until`, but return False on timeout (the caller then counts what is
    missing)."""
    try:
        wait_until(condition, timeout_s, what)
    except TimeoutError:
        return False
    return True


def read_lines(aws: LocalAws, bucket: str, prefix: str) -> tuple[int, list[str]]:
    """(number of objects, all non-empty lines) under an S3 prefix."""
    s3 = aws.client("s3")
    objects = 0
    lines: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            objects += 1
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8")
            lines.extend(line for line in body.split("\n") if line)
    return objects, lines


class S3Lines:
    """The JSON lines under an S3 prefix; a committed object never changes, so each is read once."""

    def __init__(self, aws: LocalAws, location: S3Location, prefix: str | None = None) -> None:
        self._s3 = aws.client("s3")
        self._bucket = location.bucket
        self._prefix = location.key_prefix if prefix is None else prefix
        self._objects: dict[str, list[dict[str, Any]]] = {}

    def read(self) -> list[dict[str, Any]]:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=self._prefix):
            for item in page.get("Contents", []):
                if item["Key"] not in self._objects:
                    body = self._s3.get_object(Bucket=self._bucket, Key=item["Key"])["Body"].read().decode()
                    self._objects[item["Key"]] = [json.loads(line) for line in body.split("\n") if line]
        return [row for rows in self._objects.values() for row in rows]

    @property
    def objects(self) -> int:
        """The objects read so far."""
        return len(self._objects)


class S3Records(Protocol):
    """Records under an S3 prefix as dicts, read as they land (a reader per object format)."""

    @property
    def objects(self) -> int: ...

    def read(self) -> list[dict[str, Any]]: ...


def window_reader(aws: LocalAws, config: AppConfig) -> S3Records:
    """The reader of the job's window records for the S3 sink's format.

    The one place that picks a reader by ``sink.s3.format``.
    """
    if config.sink_s3.format == "parquet":
        return S3ParquetWindows(aws, config.sink_s3.location, window_columns(config))
    return S3Lines(aws, config.sink_s3.location)


def read_stream(aws: LocalAws, stream_name: str) -> list[bytes]:
    """Every record of a Kinesis stream from the start of each shard."""
    kinesis = aws.client("kinesis")
    records: list[bytes] = []
    for shard in kinesis.list_shards(StreamName=stream_name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            records.extend(r["Data"] for r in response["Records"])
            if not response["Records"] and response.get("MillisBehindLatest", 0) == 0:
                break
            iterator = response.get("NextShardIterator")
    return records
