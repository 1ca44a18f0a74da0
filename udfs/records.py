"""Parsing, validation and event time of incoming records, as Flink SQL built from the config.

The relational work runs in Flink's Java operators: these functions only write the SQL.
A record arrives as one string column (``f0``) with the Kinesis arrival time as metadata.
Three payload forms are understood: JSON objects, CSV lines with the configured columns,
and a JSON string whose content is a CSV line (what the taxi producer sends).

Every record leaves the parse stage either valid (all key, time and aggregated fields
present) or with a dead-letter stage and reason; the window stage adds ``late`` for
records whose window the watermark has already closed, which SQL windows would otherwise
drop without a trace.
"""

from __future__ import annotations

from job.config import RecordsConfig, WindowConfig

# The physical column a DataStream of strings becomes in the Table API.
PAYLOAD_COLUMN = "f0"
ARRIVAL_COLUMN = "arrival_time"
ROWTIME_COLUMN = "rowtime"

# Records without a usable event time still need a non-null rowtime; the epoch keeps them
# from moving the watermark, and they are dead-lettered by their reason anyway.
_NO_TIME_FALLBACK_MS = "CAST(0 AS BIGINT)"


def quote(identifier: str) -> str:
    """Quote a column name for Flink SQL (config validation already restricts the characters)."""
    return f"`{identifier}`"


def string_literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _body(records: RecordsConfig, payload: str) -> str:
    """The text the fields are read from: the payload, or the CSV line inside a JSON string."""
    if records.format == "json":
        return payload
    return (
        f"CASE WHEN LTRIM({payload}) LIKE '\"%' THEN JSON_VALUE({payload}, '$')"
        f" ELSE TRIM(BOTH CHR(10) FROM {payload}) END"
    )


def field_text(records: RecordsConfig, name: str, body: str) -> str:
    """SQL for one field of the record as trimmed text, NULL when absent or empty."""
    if records.format == "json":
        raw = f"JSON_VALUE({body}, '$.{name}')"
    else:
        index = records.csv_columns.index(name)
        raw = f"SPLIT_INDEX({body}, ',', {index})"
    return f"NULLIF(TRIM({raw}), '')"


def epoch_ms_of(timestamp: str) -> str:
    """Epoch milliseconds of a TIMESTAMP or TIMESTAMP_LTZ (the session time zone is UTC)."""
    return (
        f"(UNIX_TIMESTAMP(DATE_FORMAT({timestamp}, 'yyyy-MM-dd HH:mm:ss')) * 1000"
        f" + EXTRACT(MILLISECOND FROM {timestamp}))"
    )


def event_ms(records: RecordsConfig, body: str) -> str | None:
    """SQL for the record's event time in epoch ms (NULL when unusable); None means arrival time."""
    if records.event_time_field is None:
        return None
    text = field_text(records, records.event_time_field, body)
    if records.event_time_format == "epoch_ms":
        value = f"CAST(TRY_CAST({text} AS DOUBLE) AS BIGINT)"
    elif records.event_time_format == "epoch_s":
        value = f"CAST(TRY_CAST({text} AS DOUBLE) * 1000 AS BIGINT)"
    else:
        parsed = f"TRY_CAST(REPLACE(REPLACE({text}, 'T', ' '), 'Z', '') AS TIMESTAMP(3))"
        value = f"CASE WHEN {parsed} IS NULL THEN NULL ELSE {epoch_ms_of(parsed)} END"
    return f"CASE WHEN {value} > 0 THEN {value} END"


def rowtime_expression(records: RecordsConfig) -> str:
    """The computed rowtime column of the source table; never NULL."""
    millis = event_ms(records, _body(records, PAYLOAD_COLUMN))
    if millis is None:
        return ARRIVAL_COLUMN
    return f"TO_TIMESTAMP_LTZ(COALESCE({millis}, {_NO_TIME_FALLBACK_MS}), 3)"


def watermark_expression(records: RecordsConfig) -> str:
    millis = records.watermark_out_of_orderness_ms
    return f"{ROWTIME_COLUMN} - INTERVAL '{millis / 1000:.3f}' SECOND"


def _format_check(records: RecordsConfig, payload: str, body: str) -> tuple[str, str]:
    """(condition that the payload is malformed, reason)."""
    if records.format == "json":
        return f"NOT ({payload} IS JSON OBJECT)", "not a JSON object"
    n = len(records.csv_columns)
    condition = (
        f"{body} IS NULL OR SPLIT_INDEX({body}, ',', {n - 1}) IS NULL OR SPLIT_INDEX({body}, ',', {n}) IS NOT NULL"
    )
    return condition, f"not a CSV line of {n} columns"


def numeric_fields(window: WindowConfig, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The aggregated fields, then ``extra`` ones (model features, label) not among them."""
    return (*window.aggregate_fields, *(name for name in dict.fromkeys(extra) if name not in window.aggregate_fields))


def parsed_records_sql(
    records: RecordsConfig, window: WindowConfig, source_view: str, extra_numeric: tuple[str, ...] = ()
) -> str:
    """One row per record: payload, typed fields, event time and, if it must be set aside, why.

    Columns: ``payload``, ``arrival_time``, ``rowtime``, ``event_ms``, the key fields (STRING),
    the aggregated fields and ``extra_numeric`` fields (DOUBLE), ``dlq_stage`` and
    ``dlq_reason`` (NULL for valid records).
    """
    numbers = numeric_fields(window, extra_numeric)
    body = "body"
    checks: list[tuple[str, str, str]] = []
    malformed, why = _format_check(records, "payload", body)
    checks.append((malformed, "parse", string_literal(why)))
    for key in records.key_fields:
        checks.append((f"{quote(key)} IS NULL", "validate", string_literal(f"missing key field {key}")))
    millis = event_ms(records, body)
    if millis is not None:
        assert records.event_time_field is not None
        checks.append(
            (
                "event_ms IS NULL",
                "validate",
                string_literal(
                    f"missing or invalid event time field {records.event_time_field} ({records.event_time_format})"
                ),
            )
        )
    for name in numbers:
        checks.append((f"{quote(name)} IS NULL", "validate", string_literal(f"missing or non-numeric field {name}")))

    size_ms = window.size_seconds * 1000
    window_end_ms = f"(event_ms - MOD(event_ms, {size_ms}) + {size_ms})"
    late = (
        f"CURRENT_WATERMARK({ROWTIME_COLUMN}) IS NOT NULL"
        f" AND TO_TIMESTAMP_LTZ({window_end_ms} - 1, 3) <= CURRENT_WATERMARK({ROWTIME_COLUMN})"
    )
    iso = "'yyyy-MM-dd''T''HH:mm:ss''Z'''"
    late_reason = (
        f"CONCAT('late: window ', DATE_FORMAT(TO_TIMESTAMP_LTZ({window_end_ms} - {size_ms}, 3), {iso}),"
        f" '/', DATE_FORMAT(TO_TIMESTAMP_LTZ({window_end_ms}, 3), {iso}), ' was already closed by the watermark')"
    )
    checks.append((late, "window", late_reason))

    stage = "CASE " + " ".join(f"WHEN {cond} THEN '{stage}'" for cond, stage, _ in checks) + " END"
    reason = "CASE " + " ".join(f"WHEN {cond} THEN {text}" for cond, _, text in checks) + " END"

    typed = [f"{field_text(records, key, body)} AS {quote(key)}" for key in records.key_fields]
    typed += [f"TRY_CAST({field_text(records, name, body)} AS DOUBLE) AS {quote(name)}" for name in numbers]
    event = millis if millis is not None else epoch_ms_of(ARRIVAL_COLUMN)
    fields = ", ".join(typed)
    inner = (
        f"SELECT {PAYLOAD_COLUMN} AS payload, {_body(records, PAYLOAD_COLUMN)} AS body,"
        f" {ARRIVAL_COLUMN}, {ROWTIME_COLUMN} FROM {source_view}"
    )
    typed_sql = f"SELECT payload, body, {ARRIVAL_COLUMN}, {ROWTIME_COLUMN}, {event} AS event_ms"
    if fields:
        typed_sql += f", {fields}"
    typed_sql += f" FROM ({inner})"
    outputs = ", ".join(quote(n) for n in (*records.key_fields, *numbers))
    select = f"SELECT payload, {ARRIVAL_COLUMN}, {ROWTIME_COLUMN}, event_ms"
    if outputs:
        select += f", {outputs}"
    return f"{select}, {stage} AS dlq_stage, {reason} AS dlq_reason FROM ({typed_sql})"


def valid_records_sql(parsed_view: str) -> str:
    return f"SELECT * FROM {parsed_view} WHERE dlq_reason IS NULL"


def dead_letters_sql(parsed_view: str) -> str:
    """Dead-letter records as JSON lines: raw payload, stage, reason and arrival time."""
    iso_ms = "'yyyy-MM-dd''T''HH:mm:ss.SSS''Z'''"
    return (
        "SELECT JSON_OBJECT("
        "'payload' VALUE payload, 'stage' VALUE dlq_stage, 'reason' VALUE dlq_reason,"
        f" 'arrival_time' VALUE DATE_FORMAT({ARRIVAL_COLUMN}, {iso_ms})"
        f") AS line FROM {parsed_view} WHERE dlq_reason IS NOT NULL"
    )
