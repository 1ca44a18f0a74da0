"""Dead letters: records the job sets aside, with the stage that refused them and why.

Every record ends in the output or here, never dropped.  A dead letter is one JSON line

    {"payload": ..., "stage": ..., "reason": ..., "arrival_time": "2026-11-23T10:00:01.250Z"}

written by SQL (parse, validate and window stages) or by Python (inference stage); this module
owns the field names, the stage names and both encoders, so the two always agree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum

from udfs.sql import ISO_MILLIS, string_literal

FIELDS = ("payload", "stage", "reason", "arrival_time")


class Stage(StrEnum):
    """Where a record was set aside."""

    PARSE = "parse"  # the payload is not a record of the configured format
    VALIDATE = "validate"  # a key, event time or numeric field is missing or invalid
    WINDOW = "window"  # late: its window was already closed by the watermark
    INFERENCE = "inference"  # the endpoint could not score it


def sql_object(payload: str, stage: str, reason: str, arrival_time: str) -> str:
    """SQL for a dead-letter line from SQL expressions; ``arrival_time`` is a TIMESTAMP_LTZ."""
    values = (payload, stage, reason, f"DATE_FORMAT({arrival_time}, {ISO_MILLIS})")
    pairs = ", ".join(f"{string_literal(name)} VALUE {value}" for name, value in zip(FIELDS, values, strict=True))
    return f"JSON_OBJECT({pairs})"


def line(payload: str, stage: Stage, reason: str, arrival_time: str | None = None) -> str:
    """A dead-letter line from Python; ``arrival_time`` is the ISO text, now if unknown."""
    values = (payload, str(stage), reason, arrival_time or iso_millis(datetime.now(UTC)))
    return json.dumps(dict(zip(FIELDS, values, strict=True)), separators=(",", ":"))


def iso_millis(moment: datetime) -> str:
    """``moment`` (UTC) in the form the SQL pattern ``ISO_MILLIS`` writes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
