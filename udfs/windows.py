"""Keyed tumbling event-time window aggregates, as Flink SQL built from the config.

One output row per key per window: the key fields by name, ``window_start`` and
``window_end`` (ISO-8601 UTC), ``window_id`` (stable from key and window start, so consumers
can drop the duplicates an at-least-once delivery stream may carry), ``count`` and, for each
aggregated field, ``<field>_sum``, ``<field>_mean``, ``<field>_min`` and ``<field>_max``.

SQL windows drop a record whose window the watermark has already closed, without a trace;
:func:`late_check` is the rule that sets such a record aside as a dead letter instead.
"""

from __future__ import annotations

from config import WINDOW_AGGREGATE_SUFFIXES, RecordsConfig, WindowConfig
from udfs.dead_letters import Stage
from udfs.records import ROWTIME_COLUMN, Check
from udfs.sql import ISO_SECONDS, epoch_ms_of, quote, string_literal

AGGREGATES = tuple(zip(WINDOW_AGGREGATE_SUFFIXES, ("SUM", "AVG", "MIN", "MAX"), strict=True))


def late_check(window: WindowConfig) -> Check:
    """The record's window (by its rowtime) was already closed by the watermark: stage ``window``."""
    size_ms = window.size_seconds * 1000
    event = epoch_ms_of(ROWTIME_COLUMN, local_time_zone=True)
    window_end_ms = f"({event} - MOD({event}, {size_ms}) + {size_ms})"
    late = (
        f"CURRENT_WATERMARK({ROWTIME_COLUMN}) IS NOT NULL"
        f" AND TO_TIMESTAMP_LTZ({window_end_ms} - 1, 3) <= CURRENT_WATERMARK({ROWTIME_COLUMN})"
    )
    start = f"DATE_FORMAT(TO_TIMESTAMP_LTZ({window_end_ms} - {size_ms}, 3), {ISO_SECONDS})"
    end = f"DATE_FORMAT(TO_TIMESTAMP_LTZ({window_end_ms}, 3), {ISO_SECONDS})"
    reason = f"CONCAT('late: window ', {start}, '/', {end}, ' was already closed by the watermark')"
    return late, Stage.WINDOW, reason


def window_columns(
    records: RecordsConfig,
    window: WindowConfig,
    extra_fields: tuple[str, ...] = (),
    extra_aggregates: tuple[tuple[str, str], ...] = (),
) -> tuple[str, ...]:
    """The names of the window output, in order (see :func:`window_aggregate_sql`)."""
    names = [*records.key_fields, "window_start", "window_end", "window_id", "count"]
    for field in (*window.aggregate_fields, *extra_fields):
        names += [f"{field}_{suffix}" for suffix, _ in AGGREGATES]
    names += [name for name, _ in extra_aggregates]
    return tuple(names)


def window_aggregate_sql(
    records: RecordsConfig,
    window: WindowConfig,
    valid: str,
    extra_fields: tuple[str, ...] = (),
    extra_aggregates: tuple[tuple[str, str], ...] = (),
) -> str:
    """Typed window rows (see :func:`window_columns`), from a table of valid records.

    ``extra_fields`` are aggregated like the configured fields (the prediction, in record
    mode); ``extra_aggregates`` are (name, SQL aggregate) pairs appended at the end.
    """
    keys = ", ".join(quote(k) for k in records.key_fields)
    aggregates = ["COUNT(*) AS `count`"]
    for field in (*window.aggregate_fields, *extra_fields):
        aggregates += [f"{function}({quote(field)}) AS {quote(f'{field}_{suffix}')}" for suffix, function in AGGREGATES]
    aggregates += [f"{expression} AS {quote(name)}" for name, expression in extra_aggregates]
    window_id = (
        "MD5(CONCAT_WS('|', "
        + ", ".join([*(quote(k) for k in records.key_fields), f"DATE_FORMAT(window_start, {ISO_SECONDS})"])
        + "))"
    )
    return (
        f"SELECT {keys},"
        f" DATE_FORMAT(window_start, {ISO_SECONDS}) AS window_start,"
        f" DATE_FORMAT(window_end, {ISO_SECONDS}) AS window_end,"
        f" {window_id} AS window_id, {', '.join(aggregates)}"
        f" FROM TABLE(TUMBLE(TABLE {valid}, DESCRIPTOR({ROWTIME_COLUMN}),"
        f" INTERVAL '{window.size_seconds}' SECOND))"
        f" GROUP BY {keys}, window_start, window_end"
    )


def json_lines_sql(columns: tuple[str, ...], table: str) -> str:
    """One JSON object per row of ``table``, keyed by column name, as a single ``line`` column."""
    pairs = ", ".join(f"{string_literal(name)} VALUE {quote(name)}" for name in columns)
    return f"SELECT JSON_OBJECT({pairs}) AS line FROM {table}"
