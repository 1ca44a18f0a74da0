"""Thin Flink adapter that runs the record and window SQL between DataStreams.

The source's payload rows enter the Table API through ``from_data_stream`` with their
timestamps (event time, read by the source) as rowtime and the source's per-shard watermarks
(``SOURCE_WATERMARK()``); window
records and dead letters leave it as DataStreams of JSON lines, converted in Java so no
Python worker sits on the path.  With inference, the Python async stage sits between two
bridges: after the windows (window mode), or between parsing and the windows (record mode),
where the scored records re-enter SQL with their timestamps and the upstream watermarks.

Each step takes and returns Table objects or named results, never catalog names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pyflink.datastream import DataStream
from pyflink.table import DataTypes, Schema, StreamTableEnvironment, Table

from config import InferenceConfig, RecordsConfig, WindowConfig
from connectors.jvm import java_ints, java_stream, java_strings, planner_operators, project_class, string_stream
from connectors.metrics import RECORDS_PARSED, counted, register_counting_function
from udfs.inference.flink import (
    LINE,
    OK,
    PREDICTION_VARIANT,
    SHADOW_PREDICTION,
    WINDOW_OUTPUT_COLUMNS,
    WindowScoringFunction,
    record_output_columns,
    row_type,
    score,
    score_batches,
)
from udfs.records import (
    ARRIVAL_COLUMN,
    ARRIVAL_MS_COLUMN,
    PAYLOAD_COLUMN,
    ROWTIME_COLUMN,
    SOURCE_ERROR_COLUMN,
    dead_letters_sql,
    numeric_fields,
    parsed_records_sql,
    valid_records_sql,
)
from udfs.sql import ISO_MILLIS, quote
from udfs.windows import json_lines_sql, late_check, window_aggregate_sql, window_columns


@dataclass(frozen=True)
class OperatorNames:
    """What the Flink dashboard calls the operators the planner makes for one step's SQL.

    ``into`` is the table read from a DataStream, ``steps`` the work before the windows (or all
    of it), ``windows`` the window aggregates, and ``lines`` the last operator, which makes the
    step's output rows.
    """

    into: str
    steps: str
    lines: str
    windows: str | None = None


def parse_names(records: RecordsConfig, lines: str) -> OperatorNames:
    return OperatorNames("Records into SQL", f"Parse and validate {records.format} records", lines)


def window_names(records: RecordsConfig, window: WindowConfig, lines: str, scored: bool = False) -> OperatorNames:
    """Names of a window step; its SQL reads the valid records, so the planner redoes the parse
    step's work for it (or, ``scored``, filters the scored records)."""
    windows = f"Windows {window.size_seconds} s by {', '.join(records.key_fields)}"
    if scored:
        return OperatorNames("Scored records into SQL", "Scored records", lines, windows)
    parse = parse_names(records, lines)
    return OperatorNames(parse.into, parse.steps, lines, windows)


def named(stream: DataStream, names: OperatorNames) -> DataStream:
    """``stream``, its upstream operators that still carry the planner's names renamed by ``names``.

    The planner splits a step into several operators (one per layer of the parse, for example):
    they are numbered, ``Parse and validate csv records (2/5)``.
    """
    operators = planner_operators(stream)
    chosen: list[str] = []
    windowed = False
    for position, operator in enumerate(operators):
        if operator.kind == "Scan":
            chosen.append(names.into)
        elif position == len(operators) - 1:
            chosen.append(names.lines)
        elif operator.kind.endswith("Aggregate") and names.windows is not None:
            # Two-phase aggregation: the local phase pre-aggregates before the shuffle by key.
            chosen.append(f"{names.windows} (partial)" if operator.kind.startswith("Local") else names.windows)
            windowed = True
        else:
            chosen.append(names.windows if windowed and names.windows is not None else names.steps)
    steps = chosen.count(names.steps)
    numbered = 0
    for operator, name in zip(operators, chosen, strict=True):
        if name == names.steps and steps > 1:
            numbered += 1
            name = f"{name} ({numbered}/{steps})"
        operator.rename(name)
    return stream


@dataclass(frozen=True)
class ParsedRecords:
    """The parse step's outputs: valid records as a table, and the dead letters as JSON lines."""

    valid: Table
    dead_letters: DataStream


@dataclass(frozen=True)
class Windows:
    """Window records as JSON lines, and the dead letters of the step that made them (if any)."""

    lines: DataStream
    dead_letters: DataStream | None = None


def configure_table_environment(t_env: StreamTableEnvironment) -> None:
    """Session settings the SQL relies on: UTC time (window bounds and arrival times are written in UTC)."""
    t_env.get_config().set("table.local-time-zone", "UTC")


def source_schema() -> Schema:
    """Schema of the source's payload rows: their timestamps as rowtime, the source's watermarks."""
    return (
        Schema.new_builder()
        .column(PAYLOAD_COLUMN, DataTypes.STRING())
        .column(ARRIVAL_MS_COLUMN, DataTypes.BIGINT())
        .column(SOURCE_ERROR_COLUMN, DataTypes.STRING())
        .column_by_expression(ARRIVAL_COLUMN, f"TO_TIMESTAMP_LTZ({ARRIVAL_MS_COLUMN}, 3)")
        .column_by_metadata(ROWTIME_COLUMN, DataTypes.TIMESTAMP_LTZ(3), "rowtime")
        .watermark(ROWTIME_COLUMN, "SOURCE_WATERMARK()")
        .build()
    )


def record_numeric_fields(window: WindowConfig, inference: InferenceConfig | None) -> tuple[str, ...]:
    """Numeric fields each record must have: aggregated ones, and features and label in record mode."""
    if inference is None or inference.input != "record":
        return numeric_fields(window)
    label = (inference.label_field,) if inference.label_field else ()
    return numeric_fields(window, (*inference.features, *label))


def parse_records(
    t_env: StreamTableEnvironment,
    payloads: DataStream,
    records: RecordsConfig,
    window: WindowConfig,
    inference: InferenceConfig | None = None,
) -> ParsedRecords:
    """Parse and validate ``payloads`` (payload rows with event-time timestamps and watermarks): the valid records
    and the dead letters of parse, validate and lateness."""
    configure_table_environment(t_env)
    register_counting_function(t_env)
    extra = record_numeric_fields(window, inference)[len(window.aggregate_fields) :]
    source = t_env.from_data_stream(payloads, source_schema())
    parsed = t_env.sql_query(parsed_records_sql(records, window, str(source), extra, (late_check(window),)))
    dead_letters = string_stream(t_env, t_env.sql_query(dead_letters_sql(str(parsed))))
    return ParsedRecords(
        valid=t_env.sql_query(valid_records_sql(str(parsed), lambda valid: counted(valid, RECORDS_PARSED))),
        dead_letters=named(dead_letters, parse_names(records, "Dead letters as JSON lines")),
    )


def window_lines(t_env: StreamTableEnvironment, valid: Table, records: RecordsConfig, window: WindowConfig) -> Windows:
    """Window records of the valid records as JSON lines (no inference)."""
    table = t_env.sql_query(window_aggregate_sql(records, window, str(valid)))
    lines = json_lines(t_env, table, window_columns(records, window))
    return Windows(named(lines, window_names(records, window, "Window records as JSON lines")))


def scored_window_lines(
    t_env: StreamTableEnvironment,
    valid: Table,
    records: RecordsConfig,
    window: WindowConfig,
    inference: InferenceConfig,
) -> Windows:
    """Window records with their prediction, and the dead letters of the inference stage."""
    table = t_env.sql_query(window_aggregate_sql(records, window, str(valid)))
    function = WindowScoringFunction(inference)
    windows = named(t_env.to_data_stream(table), window_names(records, window, "Window records to score"))
    outcomes = t_env.from_data_stream(score(windows, function, inference, row_type(WINDOW_OUTPUT_COLUMNS)))
    scored = OperatorNames("Scored windows into SQL", "Scored windows", "Scored window lines")
    failed = OperatorNames("Scored windows into SQL", "Scored windows", "Inference dead letters")
    return Windows(
        lines=named(string_stream(t_env, t_env.sql_query(f"SELECT {LINE} FROM {outcomes} WHERE {OK}")), scored),
        dead_letters=named(
            string_stream(t_env, t_env.sql_query(f"SELECT {LINE} FROM {outcomes} WHERE NOT {OK}")), failed
        ),
    )


def scored_record_window_lines(
    t_env: StreamTableEnvironment,
    valid: Table,
    records: RecordsConfig,
    window: WindowConfig,
    inference: InferenceConfig,
) -> Windows:
    """Score each valid record, then window the scored records.

    The window records also aggregate the prediction and, with a label, carry ``mae`` and
    ``bias``; the dead letters are those of the inference stage.  When the endpoint names the
    variant that answered, there is a window record per key and variant (``prediction_variant``);
    with a shadow, each also compares the shadow's predictions (see :func:`rollout_aggregates`).
    """
    numbers = record_numeric_fields(window, inference)
    columns = ["payload", f"DATE_FORMAT({ARRIVAL_COLUMN}, {ISO_MILLIS}) AS arrival", ROWTIME_COLUMN]
    columns += [quote(name) for name in (*records.key_fields, *numbers)]
    selected = t_env.sql_query(f"SELECT {', '.join(columns)} FROM {valid}")

    label = (inference.label_field,) if inference.label_field else ()
    value_fields = numeric_fields(window, label)
    output = record_output_columns(inference, records.key_fields, value_fields)
    # Records cross into Python in batches built in Java, and come back out of them in Java.
    first_number = 3 + len(records.key_fields)
    layout = project_class("inference.RecordLayout")(
        0,
        1,
        java_ints(range(3, first_number)),
        java_ints(first_number + numbers.index(name) for name in value_fields),
        java_ints(first_number + numbers.index(name) for name in inference.features),
    )
    streams = project_class("inference.InferenceStreams")
    batching = inference.batching
    body_type = "text/csv" if inference.endpoint.method == "GET" else inference.codec.content_type
    body = project_class("inference.RequestBody")(body_type, inference.codec.json_instances_key)
    batches = java_stream(
        named(t_env.to_data_stream(selected), parse_names(records, "Records to score")),
        lambda rows: streams.batches(rows, layout, body, batching.size, batching.max_delay_ms),
    )
    names = java_strings([name for name, _ in output])
    variant, shadow = inference.endpoint.variant_header is not None, inference.shadow is not None
    outcomes = java_stream(
        score_batches(batches, inference),
        lambda scored: streams.scoredRecords(scored, layout, variant, shadow, names),
    )

    scored = t_env.from_data_stream(outcomes, _scored_schema(output))
    scored_ok = t_env.sql_query(f"SELECT * FROM {scored} WHERE {OK}")
    records, predictions, aggregates = scored_record_windows(records, inference)
    table = t_env.sql_query(window_aggregate_sql(records, window, str(scored_ok), predictions, aggregates))
    lines = json_lines(t_env, table, window_columns(records, window, predictions, aggregates))
    failed = string_stream(t_env, t_env.sql_query(f"SELECT {LINE} FROM {scored} WHERE NOT {OK}"))
    return Windows(
        lines=named(lines, window_names(records, window, "Window records as JSON lines", scored=True)),
        dead_letters=named(
            failed, OperatorNames("Scored records into SQL", "Scored records", "Inference dead letters")
        ),
    )


def scored_record_windows(
    records: RecordsConfig, inference: InferenceConfig
) -> tuple[RecordsConfig, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The shape of record mode's windows: the records (their keys), the aggregated fields and the
    (name, SQL) aggregates after them; the one place the window SQL and the output schema take it from.

    A window record per key and variant when the endpoint names the variant that answered (the
    variant is one more key); the prediction (and the shadow's) aggregated like the configured
    fields; ``mae`` and ``bias`` with a label; the shadow's comparisons (:func:`rollout_aggregates`).
    """
    prediction = inference.prediction_field
    accuracy: tuple[tuple[str, str], ...] = ()
    if inference.label_field:
        error = f"{quote(prediction)} - {quote(inference.label_field)}"
        accuracy = (("mae", f"AVG(ABS({error}))"), ("bias", f"AVG({error})"))
    if inference.endpoint.variant_header is not None:
        records = replace(records, key_fields=(*records.key_fields, PREDICTION_VARIANT))
    predictions = (prediction, SHADOW_PREDICTION) if inference.shadow is not None else (prediction,)
    return records, predictions, accuracy + rollout_aggregates(inference)


def rollout_aggregates(inference: InferenceConfig) -> tuple[tuple[str, str], ...]:
    """With a shadow, per window: ``shadow_count`` (records the shadow scored in time), ``disagreement`` (mean
    absolute difference of primary and shadow) and, with a label, ``shadow_mae`` and ``shadow_bias``; all over the
    records the shadow scored (NULL when it scored none)."""
    if inference.shadow is None:
        return ()
    prediction, shadow = quote(inference.prediction_field), quote(SHADOW_PREDICTION)
    aggregates = [("shadow_count", f"COUNT({shadow})"), ("disagreement", f"AVG(ABS({prediction} - {shadow}))")]
    if inference.label_field:
        error = f"{shadow} - {quote(inference.label_field)}"
        aggregates += [("shadow_mae", f"AVG(ABS({error}))"), ("shadow_bias", f"AVG({error})")]
    return tuple(aggregates)


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


def json_lines(t_env: StreamTableEnvironment, table: Table, columns: tuple[str, ...]) -> DataStream:
    """A DataStream of JSON strings, one per row of ``table``, converted without Python."""
    return string_stream(t_env, t_env.sql_query(json_lines_sql(columns, str(table))))
