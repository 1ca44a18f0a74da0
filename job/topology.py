"""The job's topology, source to sinks."""

from __future__ import annotations

from pyflink.common import WatermarkStrategy
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from connectors.kinesis import delivery_sink, kinesis_source
from connectors.s3 import json_lines_file_sink
from job.config import AppConfig
from udfs.relational import json_lines, register_record_tables, string_stream

JOB_NAME = "stream-scoring"


def build_topology(env: StreamExecutionEnvironment, t_env: StreamTableEnvironment, config: AppConfig) -> None:
    """Kinesis -> parse and validate (SQL) -> tumbling windows (SQL) -> S3 and delivery stream.

    Records that cannot be used go to the dead-letter path in S3 with their stage and reason.
    """
    payloads = env.from_source(
        kinesis_source(config.source, config.endpoints),
        WatermarkStrategy.no_watermarks(),  # event time and watermarks are set in SQL
        "Kinesis source",
    ).uid("kinesis-source")
    tables = register_record_tables(t_env, payloads, config.records, config.window)

    windows = json_lines(t_env, tables.windows, tables.window_columns, "window_rows")
    # The inference stage of the window topology goes here, between the windows and the sinks.

    windows.sink_to(json_lines_file_sink(config.sink_s3.location, "windows")).name("S3 windows").uid("s3-windows")
    if config.delivery is not None:
        windows.sink_to(delivery_sink(config.delivery, config.source.region, config.endpoints)).name(
            f"Delivery {config.delivery.type}"
        ).uid("delivery")

    dead_letters = string_stream(t_env, tables.dead_letters)
    dead_letters.sink_to(json_lines_file_sink(config.dead_letter.location, "dead-letters")).name("S3 dead letters").uid(
        "s3-dead-letters"
    )
