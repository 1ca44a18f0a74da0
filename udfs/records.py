"""Parsing, validation and event time of incoming records, as Flink SQL built from the config.

The relational work runs in Flink's Java operators: these functions only write the SQL.
A record arrives as a row of the source: its text (``payload``), its arrival time, the reason
the source could not read it (``source_error``, for a corrupt KPL aggregate), and its event
time as the rowtime, read by the source, which also made the watermarks.
Three payload forms are understood: JSON objects, CSV lines with the configured columns,
and a JSON string whose content is a CSV line (what the taxi producer sends).

Every record leaves the parse stage either valid (all key, time and aggregated fields
present) or with a dead-letter stage and reason; further checks, such as the window's
lateness rule (:func:`udfs.windows.late_check`), are passed in and evaluated in the same step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from config import RecordsConfig, WindowConfig
from udfs import dead_letters
from udfs.dead_letters import Stage
from udfs.sql import epoch_ms_of, evaluated_once, quote, string_literal

# The source rows' columns (the Java ``PayloadRows``), and what SQL makes of them.
PAYLOAD_COLUMN = "payload"
ARRIVAL_MS_COLUMN = "arrival_ms"
SOURCE_ERROR_COLUMN = "source_error"
ARRIVAL_COLUMN = "arrival_time"
ROWTIME_COLUMN = "rowtime"


def _body(records: RecordsConfig, payload: str) -> str:
    """The text the fields are read from: the payload, or the CSV line inside a JSON string."""
    if records.format == "json":
        return payload
    return (
        f"CASE WHEN LTRIM({payload}) LIKE '\"%' THEN JSON_VALUE({payload}, '$')"
        f" ELSE TRIM(BOTH CHR(10) FROM {payload}) END"
    )


def field_text(records: RecordsConfig, name: str, body: str, columns: str | None = None) -> str:
    """SQL for one field of the record as trimmed text, NULL when absent or empty.

    ``columns`` is the CSV line already split into an array, where there is one.
    """
    return f"NULLIF({_trimmed_field(records, name, body, columns)}, '')"


def _trimmed_field(records: RecordsConfig, name: str, body: str, columns: str | None = None) -> str:
    if records.format == "json":
        return f"TRIM(JSON_VALUE({body}, '$.{name}'))"
    index = records.csv_columns.index(name)
    if columns is not None:
        return f"TRIM({columns}[{index + 1}])"
    return f"TRIM(SPLIT_INDEX({body}, ',', {index}))"


def event_ms(records: RecordsConfig, body: str, text: str | None = None) -> str | None:
    """SQL for the record's event time in epoch ms (NULL when unusable); None means arrival time.

    ``text`` is the event time field's text where it was read already.
    """
    if records.event_time_field is None:
        return None
    if text is None:
        text = field_text(records, records.event_time_field, body)
    if records.event_time_format == "epoch_ms":
        value = f"CAST(TRY_CAST({text} AS DOUBLE) AS BIGINT)"
    elif records.event_time_format == "epoch_s":
        value = f"CAST(TRY_CAST({text} AS DOUBLE) * 1000 AS BIGINT)"
    else:
        parsed = f"TRY_CAST(REPLACE(REPLACE({text}, 'T', ' '), 'Z', '') AS TIMESTAMP(3))"
        value = f"CASE WHEN {parsed} IS NULL THEN NULL ELSE {epoch_ms_of(parsed)} END"
    return f"CASE WHEN {value} > 0 THEN {value} END"


def _format_check(records: RecordsConfig, payload: str, columns: str) -> tuple[str, str]:
    """(condition that the payload is malformed, reason); ``columns`` is the split CSV line."""
    if records.format == "json":
        return f"NOT ({payload} IS JSON OBJECT)", "not a JSON object"
    n = len(records.csv_columns)
    return f"{columns} IS NULL OR CARDINALITY({columns}) <> {n}", f"not a CSV line of {n} columns"


def numeric_fields(window: WindowConfig, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The aggregated fields, then ``extra`` ones (model features, label) not among them."""
    return (*window.aggregate_fields, *(name for name in dict.fromkeys(extra) if name not in window.aggregate_fields))


_TEXT_PREFIX = "__text_"


# A check a record must pass: (SQL condition that it fails, dead-letter stage, SQL reason).
Check = tuple[str, Stage, str]


def parsed_records_sql(
    records: RecordsConfig,
    window: WindowConfig,
    source: str,
    extra_numeric: tuple[str, ...] = (),
    extra_checks: Sequence[Check] = (),
) -> str:
    """One row per record: payload, typed fields, event time and, if it must be set aside, why.

    Columns: ``payload``, ``arrival_time``, ``rowtime``, ``source_error``, ``event_ms``, the key fields (STRING),
    the aggregated fields and ``extra_numeric`` fields (DOUBLE), ``dlq_stage`` and
    ``dlq_reason`` (NULL for valid records).  ``extra_checks`` come after the record's own
    checks and may use ``event_ms`` and the rowtime.

    Built in layers, each computed once per record: the body (the CSV line out of its JSON
    string), the CSV line split into columns, the trimmed text of each field used, the typed
    fields, and the checks.
    """
    numbers = numeric_fields(window, extra_numeric)
    time_field = (records.event_time_field,) if records.event_time_field else ()
    used = tuple(dict.fromkeys((*records.key_fields, *numbers, *time_field)))
    columns = "csv_columns" if records.format == "csv" else None
    malformed, why = _format_check(records, "payload", columns or "")

    def text(name: str) -> str:
        return quote(_TEXT_PREFIX + name)

    base = f"payload, {ARRIVAL_COLUMN}, {ROWTIME_COLUMN}, {SOURCE_ERROR_COLUMN}"
    body_sql = (
        f"SELECT {PAYLOAD_COLUMN} AS payload, {evaluated_once(_body(records, PAYLOAD_COLUMN))} AS body,"
        f" {ARRIVAL_COLUMN}, {ROWTIME_COLUMN}, {SOURCE_ERROR_COLUMN} FROM {source}"
    )
    split_sql = f"SELECT {base}, body"
    if columns is not None:
        split_sql += f", {evaluated_once('SPLIT(body, ' + string_literal(',') + ')')} AS {columns}"
    split_sql += f" FROM ({body_sql})"
    texts = "".join(
        f", {evaluated_once(_trimmed_field(records, name, 'body', columns))} AS {text(name)}" for name in used
    )
    text_sql = f"SELECT {base}, {evaluated_once(malformed)} AS malformed{texts} FROM ({split_sql})"

    millis = event_ms(records, "body", f"NULLIF({text(time_field[0])}, '')") if time_field else None
    event = millis if millis is not None else epoch_ms_of(ARRIVAL_COLUMN, local_time_zone=True)
    typed = [f"{evaluated_once(event)} AS event_ms"]
    typed += [f"NULLIF({text(key)}, '') AS {quote(key)}" for key in records.key_fields]
    for name in numbers:
        number = evaluated_once(f"TRY_CAST(NULLIF({text(name)}, '') AS DOUBLE)")
        typed.append(f"{number} AS {quote(name)}")
    typed_sql = f"SELECT {base}, malformed, {', '.join(typed)} FROM ({text_sql})"

    checks: list[Check] = [
        (f"{SOURCE_ERROR_COLUMN} IS NOT NULL", Stage.PARSE, SOURCE_ERROR_COLUMN),
        ("malformed", Stage.PARSE, string_literal(why)),
    ]
    for key in records.key_fields:
        checks.append((f"{quote(key)} IS NULL", Stage.VALIDATE, string_literal(f"missing key field {key}")))
    if millis is not None:
        checks.append(
            (
                "event_ms IS NULL",
                Stage.VALIDATE,
                string_literal(
                    f"missing or invalid event time field {records.event_time_field} ({records.event_time_format})"
                ),
            )
        )
    for name in numbers:
        checks.append(
            (f"{quote(name)} IS NULL", Stage.VALIDATE, string_literal(f"missing or non-numeric field {name}"))
        )

    checks += extra_checks

    stage = "CASE " + " ".join(f"WHEN {cond} THEN {string_literal(stage)}" for cond, stage, _ in checks) + " END"
    reason = "CASE " + " ".join(f"WHEN {cond} THEN {text}" for cond, _, text in checks) + " END"
    outputs = ", ".join(quote(n) for n in (*records.key_fields, *numbers))
    select = f"SELECT {base}, event_ms"
    if outputs:
        select += f", {outputs}"
    return f"{select}, {stage} AS dlq_stage, {reason} AS dlq_reason FROM ({typed_sql})"


def valid_records_sql(parsed: str, condition: Callable[[str], str] = lambda valid: valid) -> str:
    """The records that passed every check; ``condition`` may wrap the test (to count them)."""
    return f"SELECT * FROM {parsed} WHERE {condition('dlq_reason IS NULL')}"


def dead_letters_sql(parsed: str) -> str:
    """Dead-letter records as JSON lines: raw payload, stage, reason and arrival time."""
    line = dead_letters.sql_object("payload", "dlq_stage", "dlq_reason", ARRIVAL_COLUMN)
    return f"SELECT {line} AS line FROM {parsed} WHERE dlq_reason IS NOT NULL"
