"""Thin Flink adapter that runs the record and window SQL between DataStreams.

The Kinesis stream of strings enters the Table API through ``from_data_stream`` with its
arrival time as metadata and a computed, never-null rowtime carrying the watermark; window
records and dead letters leave it as DataStreams of JSON lines, converted in Java so no
Python worker sits on the path.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyflink.datastream import DataStream
from pyflink.table import DataTypes, Schema, StreamTableEnvironment, Table
from pyflink.table.types import _to_java_data_type

from job.config import RecordsConfig, WindowConfig
from udfs.records import (
    ARRIVAL_COLUMN,
    PAYLOAD_COLUMN,
    ROWTIME_COLUMN,
    dead_letters_sql,
    parsed_records_sql,
    rowtime_expression,
    valid_records_sql,
    watermark_expression,
)
from udfs.windows import json_lines_sql, window_aggregate_sql, window_columns

SOURCE_VIEW = "kinesis_records"
PARSED_VIEW = "parsed_records"
VALID_VIEW = "valid_records"
WINDOW_VIEW = "window_aggregates"


@dataclass(frozen=True)
class RecordTables:
    """The tables the job reads from after parsing and windowing."""

    windows: Table
    window_columns: tuple[str, ...]
    dead_letters: Table


def configure_table_environment(t_env: StreamTableEnvironment, records: RecordsConfig) -> None:
    """Session settings the SQL relies on: UTC time and the source idleness of the config."""
    config = t_env.get_config()
    config.set("table.local-time-zone", "UTC")
    idle = records.watermark_idleness_ms
    config.set("table.exec.source.idle-timeout", f"{idle} ms" if idle > 0 else "0 ms")


def source_schema(records: RecordsConfig) -> Schema:
    """Schema for a DataStream of payload strings whose record timestamps are arrival times."""
    return (
        Schema.new_builder()
        .column(PAYLOAD_COLUMN, DataTypes.STRING())
        .column_by_metadata(ARRIVAL_COLUMN, DataTypes.TIMESTAMP_LTZ(3), "rowtime", True)
        .column_by_expression(ROWTIME_COLUMN, rowtime_expression(records))
        .watermark(ROWTIME_COLUMN, watermark_expression(records))
        .build()
    )


def register_record_tables(
    t_env: StreamTableEnvironment, payloads: DataStream, records: RecordsConfig, window: WindowConfig
) -> RecordTables:
    """Register the parse, validation and window views over ``payloads``; return the outputs."""
    configure_table_environment(t_env, records)
    t_env.create_temporary_view(SOURCE_VIEW, t_env.from_data_stream(payloads, source_schema(records)))
    t_env.create_temporary_view(PARSED_VIEW, t_env.sql_query(parsed_records_sql(records, window, SOURCE_VIEW)))
    t_env.create_temporary_view(VALID_VIEW, t_env.sql_query(valid_records_sql(PARSED_VIEW)))
    windows = t_env.sql_query(window_aggregate_sql(records, window, VALID_VIEW))
    return RecordTables(
        windows=windows,
        window_columns=window_columns(records, window),
        dead_letters=t_env.sql_query(dead_letters_sql(PARSED_VIEW)),
    )


def json_lines(t_env: StreamTableEnvironment, table: Table, columns: tuple[str, ...], view: str) -> DataStream:
    """A DataStream of JSON strings, one per row of ``table``, converted without Python."""
    t_env.create_temporary_view(view, table)
    return string_stream(t_env, t_env.sql_query(json_lines_sql(columns, view)))


def string_stream(t_env: StreamTableEnvironment, table: Table) -> DataStream:
    """A single STRING column table as a DataStream of Java strings."""
    j_stream = t_env._j_tenv.toDataStream(table._j_table, _to_java_data_type(DataTypes.STRING()))
    return DataStream(j_stream)
