"""S3 FileSink factory: JSON lines, partitioned by date and hour, committed on checkpoint.

Exactly once: a part file becomes visible only when the checkpoint that finished it completes,
and a restore discards what was written after the checkpoint it restores.
"""

from __future__ import annotations

from pyflink.common.serialization import Encoder
from pyflink.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    OutputFileConfig,
    RollingPolicy,
)

from config import S3Location

__all__ = ["PARTITION_FORMAT", "json_lines_file_sink"]

# dt=2026-11-23/hour=21: Hive-style partitions that Athena and Glue understand.
PARTITION_FORMAT = "'dt='yyyy-MM-dd'/hour='HH"


def json_lines_file_sink(location: S3Location, part_prefix: str) -> FileSink:
    """Exactly-once JSON-lines files under ``location``; a part file is finished at each checkpoint."""
    return (
        FileSink.for_row_format(location.uri, Encoder.simple_string_encoder())
        .with_bucket_assigner(BucketAssigner.date_time_bucket_assigner(PARTITION_FORMAT, "UTC"))
        .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
        .with_output_file_config(
            OutputFileConfig.builder().with_part_prefix(part_prefix).with_part_suffix(".jsonl").build()
        )
        .build()
    )
