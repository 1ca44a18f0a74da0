"""Keyed tumbling event-time window aggregates, as Flink SQL built from the config.

One output row per key per window: the key fields by name, ``window_start`` and
``window_end`` (ISO-8601 UTC), ``window_id`` (stable from key and window start, so consumers
can drop the duplicates an at-least-once delivery stream may carry), ``count`` and, for each
aggregated field, ``<field>_sum``, ``<field>_mean``, ``<field>_min`` and ``<field>_max``.
"""

from __future__ import annotations

from job.config import WINDOW_AGGREGATE_SUFFIXES, RecordsConfig, WindowConfig
from udfs.records import ROWTIME_COLUMN, quote, string_literal

AGGREGATES = tuple(zip(WINDOW_AGGREGATE_SUFFIXES, ("SUM", "AVG", "MIN", "MAX"), strict=True))
_ISO_SECONDS = "'yyyy-MM-dd''T''HH:mm:ss''Z'''"


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
    valid_view: str,
    extra_fields: tuple[str, ...] = (),
    extra_aggregates: tuple[tuple[str, str], ...] = (),
) -> str:
    """Typed window rows (see :func:`window_columns`), from a view of valid records.

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
        + ", ".join([*(quote(k) for k in records.key_fields), f"DATE_FORMAT(window_start, {_ISO_SECONDS})"])
        + "))"
    )
    return (
        f"SELECT {keys},"
        f" DATE_FORMAT(window_start, {_ISO_SECONDS}) AS window_start,"
        f" DATE_FORMAT(window_end, {_ISO_SECONDS}) AS window_end,"
        f" {window_id} AS window_id, {', '.join(aggregates)}"
        f" FROM TABLE(TUMBLE(TABLE {valid_view}, DESCRIPTOR({ROWTIME_COLUMN}),"
        f" INTERVAL '{window.size_seconds}' SECOND))"
        f" GROUP BY {keys}, window_start, window_end"
    )


def json_lines_sql(columns: tuple[str, ...], view: str) -> str:
    """One JSON object per row of ``view``, keyed by column name, as a single ``line`` column."""
    pairs = ", ".join(f"{string_literal(name)} VALUE {quote(name)}" for name in columns)
    return f"SELECT JSON_OBJECT({pairs}) AS line FROM {view}"
