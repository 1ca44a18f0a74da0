"""The window records' columns as consumers see them: names and Glue (Hive) types, in output order.

One source for the Parquet files' schema and the Glue table over the windows prefix, built from
the same configuration as the window SQL: the key fields as strings, ``window_start`` and
``window_end`` as timestamps, ``window_id`` as a string, ``count`` as a bigint, and every
aggregate, prediction and accuracy figure as a double.
"""

from __future__ import annotations

from config import AppConfig
from udfs.inference.flink import rollout_field_names
from udfs.relational import scored_record_windows
from udfs.windows import window_columns as window_column_names

__all__ = ["GLUE_TYPES", "window_columns"]

GLUE_TYPES = ("string", "timestamp", "bigint", "double")

_FIXED_TYPES = {
    "window_start": "timestamp",
    "window_end": "timestamp",
    "window_id": "string",
    "count": "bigint",
    "prediction_variant": "string",
    "shadow_count": "bigint",
}


def window_columns(config: AppConfig) -> list[tuple[str, str]]:
    """(name, Glue type) of each field of a window record the job writes with ``config``.

    Window scoring adds the prediction to each window; record scoring aggregates the per-record
    prediction like the configured fields and, with a label, adds ``mae`` and ``bias``.
    """
    inference = config.inference
    records = config.records
    extra_fields: tuple[str, ...] = ()
    extra_aggregates: tuple[tuple[str, str], ...] = ()
    if inference is not None and inference.input == "record":
        records, extra_fields, extra_aggregates = scored_record_windows(records, inference)
    names = list(window_column_names(records, config.window, extra_fields, extra_aggregates))
    if inference is not None and inference.input == "window":
        names.append(inference.prediction_field)
        names += rollout_field_names(inference)
    keys = set(records.key_fields)
    return [(name, "string" if name in keys else _FIXED_TYPES.get(name, "double")) for name in names]
