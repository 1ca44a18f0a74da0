"""S3 FileSink factories: windows as JSON lines or Parquet, dead letters as JSON lines.

Files sit under Hive-style ``dt=YYYY-MM-DD/hour=HH`` partitions: of each window's
``window_start`` (``sink.s3.partition.time=event``, the default) or of the time the sink
writes the record (``processing``, and always for dead letters, whose payloads may carry no
usable time).

Exactly once: a part file becomes visible only when the checkpoint that finished it completes,
and a restore discards what was written after the checkpoint it restores.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyflink.common.serialization import BulkWriterFactory, Encoder
from pyflink.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    OutputFileConfig,
    RollingPolicy,
)

from config import S3Location, S3SinkConfig
from config.app import PartitionTime
from connectors.jvm import java_strings, project_class

__all__ = [
    "PARTITION_FORMAT",
    "json_lines_file_sink",
    "parquet_window_writers",
    "window_file_sink",
    "window_partitions",
]

# dt=2026-11-23/hour=21: Hive-style partitions that Athena and Glue understand.
PARTITION_FORMAT = "'dt='yyyy-MM-dd'/hour='HH"

WINDOWS_PART_PREFIX = "windows"


def json_lines_file_sink(
    location: S3Location, part_prefix: str, bucket_assigner: BucketAssigner | None = None
) -> FileSink:
    """Exactly-once JSON-lines files under ``location``; a part file is finished at each checkpoint.

    Partitioned by processing time unless a ``bucket_assigner`` says otherwise.
    """
    return (
        FileSink.for_row_format(location.uri, Encoder.simple_string_encoder())
        .with_bucket_assigner(bucket_assigner or _processing_time_partitions())
        .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
        .with_output_file_config(_part_files(part_prefix, ".jsonl"))
        .build()
    )


def window_file_sink(sink: S3SinkConfig, columns: Sequence[tuple[str, str]]) -> FileSink:
    """The windows' sink as ``sink`` configures it; ``columns`` are (name, Glue type) of a window record.

    Parquet files have exactly ``columns`` as typed, Snappy-compressed columns (see
    ``udfs.output.window_columns``); a bulk format rolls its files on every checkpoint.
    """
    assigner = window_partitions(sink.partition_time)
    if sink.format == "json":
        return json_lines_file_sink(sink.location, WINDOWS_PART_PREFIX, assigner)
    return (
        FileSink.for_bulk_format(sink.location.uri, parquet_window_writers(columns))
        .with_bucket_assigner(assigner)
        .with_output_file_config(_part_files(WINDOWS_PART_PREFIX, ".parquet"))
        .build()
    )


def window_partitions(partition_time: PartitionTime) -> BucketAssigner:
    """``dt=/hour=`` of each window's ``window_start`` (event) or of the time it is written (processing)."""
    if partition_time == "event":
        return BucketAssigner(project_class("s3.WindowStartBucketAssigner")())
    return _processing_time_partitions()


def parquet_window_writers(columns: Sequence[tuple[str, str]]) -> BulkWriterFactory:
    """Snappy Parquet files of JSON window lines, one column per (name, Glue type), nulls allowed."""
    names = java_strings([name for name, _ in columns])
    types = java_strings([kind for _, kind in columns])
    return BulkWriterFactory(project_class("s3.ParquetWindowWriters").forColumns(names, types))


def _processing_time_partitions() -> BucketAssigner:
    return BucketAssigner.date_time_bucket_assigner(PARTITION_FORMAT, "UTC")


def _part_files(prefix: str, suffix: str) -> OutputFileConfig:
    return OutputFileConfig.builder().with_part_prefix(prefix).with_part_suffix(suffix).build()
