"""Small building blocks of the SQL the record and window steps write: quoting and time formats."""

from __future__ import annotations

# DATE_FORMAT patterns of the ISO-8601 UTC texts the job writes (window bounds, arrival times).
ISO_SECONDS = "'yyyy-MM-dd''T''HH:mm:ss''Z'''"
ISO_MILLIS = "'yyyy-MM-dd''T''HH:mm:ss.SSS''Z'''"


def quote(identifier: str) -> str:
    """Quote a column name for Flink SQL (config validation already restricts the characters)."""
    return f"`{identifier}`"


def string_literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def evaluated_once(expression: str) -> str:
    """``expression``, marked so that the planner computes it once per record.

    Flink's planner merges a projection into the one above it by copying a column's expression
    into every place that uses it, unless the expression is non-deterministic.  A parsed field
    is used by the output and by each validity check, so, copied, it would be parsed several
    times per record (measured: most of the parse cost).  ``RAND() < 2`` is always true but not
    deterministic, which keeps the column computed once.
    """
    return f"CASE WHEN RAND() < 2 THEN {expression} END"


def epoch_ms_of(timestamp: str, local_time_zone: bool = False) -> str:
    """Epoch milliseconds of a TIMESTAMP, or a TIMESTAMP_LTZ with ``local_time_zone`` (the session is UTC)."""
    epoch = "TO_TIMESTAMP_LTZ(0, 3)" if local_time_zone else "TIMESTAMP '1970-01-01 00:00:00'"
    return (
        f"(CAST(TIMESTAMPDIFF(SECOND, {epoch}, {timestamp}) AS BIGINT) * 1000 + EXTRACT(MILLISECOND FROM {timestamp}))"
    )
