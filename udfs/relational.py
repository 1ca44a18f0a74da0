"""Thin Flink adapter that runs the record and window SQL between DataStreams.

The Kinesis stream of strings enters the Table API through ``from_data_stream`` with its
arrival time as metadata and a computed, never-null rowtime carrying the watermark; window
records and dead letters leave it as DataStreams of JSON lines, converted in Java so no
Python worker sits on the path.  With inference, the Python async stage sits between two
bridges: after the windows (window mode), or between parsing and the windows (record mode),
where the scored records re-enter SQL with their timestamps and the upstream watermarks.
"""

from __future__ import annotations

from pyflink.datastream import DataStream
from pyflink.table import DataTypes, Schema, StreamTableEnvironment, Table
from pyflink.table.types import _to_java_data_type

from job.config import InferenceConfig, RecordsConfig, WindowConfig
from udfs.inference.flink import (
    LINE,
    OK,
    WINDOW_OUTPUT_COLUMNS,
    RecordScoringFunction,
    WindowScoringFunction,
    record_output_columns,
    row_type,
    score,
)
from udfs.records import (
    ARRIVAL_COLUMN,
    PAYLOAD_COLUMN,
    ROWTIME_COLUMN,
    dead_letters_sql,
    numeric_fields,
    parsed_records_sql,
    quote,
    rowtime_expression,
    valid_records_sql,
    watermark_expression,
)
from udfs.windows import json_lines_sql, window_aggregate_sql, window_columns

SOURCE_VIEW = "kinesis_records"
PARSED_VIEW = "parsed_records"
VALID_VIEW = "valid_records"
SCORED_VIEW = "scored_records"
_ISO_MS = "'yyyy-MM-dd''T''HH:mm:ss.SSS''Z'''"


def configure_table_environment(t_env: StreamTableEnvironment, records: RecordsConfig) -> None:
    """Session settings the SQL relies on: UTC time and the source idleness of the config."""
    config = t_env.get_config()
    config.set("table.local-time-zone", "UTC")
    idle = records.watermark_idleness_ms
    config.set("table.exec.source.idle-timeout", f"{idle} ms")


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


def record_numeric_fields(window: WindowConfig, inference: InferenceConfig | None) -> tuple[str, ...]:
    """Numeric fields each record must have: aggregated ones, and features and label in record mode."""
    if inference is None or inference.input != "record":
        return numeric_fields(window)
    label = (inference.label_field,) if inference.label_field else ()
    return numeric_fields(window, (*inference.features, *label))


def register_records(
    t_env: StreamTableEnvironment,
    payloads: DataStream,
    records: RecordsConfig,
    window: WindowConfig,
    inference: InferenceConfig | None = None,
) -> DataStream:
    """Register the parse and validation views over ``payloads``; return their dead letters."""
    configure_table_environment(t_env, records)
    extra = record_numeric_fields(window, inference)[len(window.aggregate_fields) :]
    t_env.create_temporary_view(SOURCE_VIEW, t_env.from_data_stream(payloads, source_schema(records)))
    t_env.create_temporary_view(PARSED_VIEW, t_env.sql_query(parsed_records_sql(records, window, SOURCE_VIEW, extra)))
    t_env.create_temporary_view(VALID_VIEW, t_env.sql_query(valid_records_sql(PARSED_VIEW)))
    return string_stream(t_env, t_env.sql_query(dead_letters_sql(PARSED_VIEW)))


def window_lines(t_env: StreamTableEnvironment, records: RecordsConfig, window: WindowConfig) -> DataStream:
    """Window records of the valid records as JSON lines (no inference)."""
    table = t_env.sql_query(window_aggregate_sql(records, window, VALID_VIEW))
    return json_lines(t_env, table, window_columns(records, window), "window_rows")


def scored_window_lines(
    t_env: StreamTableEnvironment,
    records: RecordsConfig,
    window: WindowConfig,
    inference: InferenceConfig,
    region: str,
    sagemaker_endpoint: str | None,
) -> tuple[DataStream, DataStream]:
    """(window records with their prediction, dead letters of the inference stage)."""
    table = t_env.sql_query(window_aggregate_sql(records, window, VALID_VIEW))
    function = WindowScoringFunction(inference, region, sagemaker_endpoint)
    outcomes = score(t_env.to_data_stream(table), function, inference, row_type(WINDOW_OUTPUT_COLUMNS))
    t_env.create_temporary_view("window_outcomes", t_env.from_data_stream(outcomes))
    return (
        string_stream(t_env, t_env.sql_query(f"SELECT {LINE} FROM window_outcomes WHERE {OK}")),
        string_stream(t_env, t_env.sql_query(f"SELECT {LINE} FROM window_outcomes WHERE NOT {OK}")),
    )


def scored_record_window_lines(
    t_env: StreamTableEnvironment,
    records: RecordsConfig,
    window: WindowConfig,
    inference: InferenceConfig,
    region: str,
    sagemaker_endpoint: str | None,
) -> tuple[DataStream, DataStream]:
    """Score each valid record, then window the scored records.

    Returns (window records, which also aggregate the prediction and, with a label, carry
    ``mae`` and ``bias``; dead letters of the inference stage).
    """
    numbers = record_numeric_fields(window, inference)
    columns = ["payload", f"DATE_FORMAT({ARRIVAL_COLUMN}, {_ISO_MS}) AS arrival", ROWTIME_COLUMN]
    columns += [quote(name) for name in (*records.key_fields, *numbers)]
    valid = t_env.sql_query(f"SELECT {', '.join(columns)} FROM {VALID_VIEW}")

    label = (inference.label_field,) if inference.label_field else ()
    value_fields = numeric_fields(window, label)
    function = RecordScoringFunction(inference, region, sagemaker_endpoint, records.key_fields, value_fields)
    output = record_output_columns(inference, records.key_fields, value_fields)
    outcomes = score(t_env.to_data_stream(valid), function, inference, row_type(output))

    t_env.create_temporary_view(SCORED_VIEW, t_env.from_data_stream(outcomes, _scored_schema(output)))
    t_env.create_temporary_view("scored_ok", t_env.sql_query(f"SELECT * FROM {SCORED_VIEW} WHERE {OK}"))
    prediction = inference.prediction_field
    accuracy: tuple[tuple[str, str], ...] = ()
    if inference.label_field:
        error = f"{quote(prediction)} - {quote(inference.label_field)}"
        accuracy = (("mae", f"AVG(ABS({error}))"), ("bias", f"AVG({error})"))
    table = t_env.sql_query(window_aggregate_sql(records, window, "scored_ok", (prediction,), accuracy))
    lines = json_lines(t_env, table, window_columns(records, window, (prediction,), accuracy), "window_rows")
    dead = string_stream(t_env, t_env.sql_query(f"SELECT {LINE} FROM {SCORED_VIEW} WHERE NOT {OK}"))
    return lines, dead


_DATA_TYPES = {"BOOLEAN": DataTypes.BOOLEAN, "STRING": DataTypes.STRING, "DOUBLE": DataTypes.DOUBLE}


def _scored_schema(columns: tuple[tuple[str, str], ...]) -> Schema:
    """Physical columns of the scored stream, its timestamps as rowtime, the upstream watermarks."""
    builder = Schema.new_builder()
    for name, kind in columns:
        builder.column(name, _DATA_TYPES[kind]())
    return (
        builder.column_by_metadata(ROWTIME_COLUMN, DataTypes.TIMESTAMP_LTZ(3), "rowtime")
        .watermark(ROWTIME_COLUMN, "SOURCE_WATERMARK()")
        .build()
    )


def json_lines(t_env: StreamTableEnvironment, table: Table, columns: tuple[str, ...], view: str) -> DataStream:
    """A DataStream of JSON strings, one per row of ``table``, converted without Python."""
    t_env.create_temporary_view(view, table)
    return string_stream(t_env, t_env.sql_query(json_lines_sql(columns, view)))


def string_stream(t_env: StreamTableEnvironment, table: Table) -> DataStream:
    """A single STRING column table as a DataStream of Java strings."""
    j_stream = t_env._j_tenv.toDataStream(table._j_table, _to_java_data_type(DataTypes.STRING()))
    return DataStream(j_stream)
