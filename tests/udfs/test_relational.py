"""The record and window SQL, run on a local Flink environment with exact expected output."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from config import RecordsConfig, WindowConfig
from tests.flink_local import collect_strings, local_environment, payload_rows
from udfs.relational import parse_records, window_lines


def run(
    records: RecordsConfig, window: WindowConfig, items: list[tuple[str, int]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(window records, dead letters) of one bounded run over ``items`` (payload, arrival ms)."""
    env, t_env = local_environment(connector_jar=True)
    parsed = parse_records(t_env, payload_rows(env, items, records, window), records, window)
    windows = [json.loads(line) for line in collect_strings(window_lines(t_env, parsed.valid, records, window).lines)]
    env, t_env = local_environment(connector_jar=True)
    parsed = parse_records(t_env, payload_rows(env, items, records, window), records, window)
    dead = [json.loads(line) for line in collect_strings(parsed.dead_letters)]
    return sorted(windows, key=lambda w: (w["window_start"], *(w[k] for k in records.key_fields))), dead


def window_id(*parts: str) -> str:
    return hashlib.md5("|".join(parts).encode()).hexdigest()


def window(keys: dict[str, str], start: str, end: str, values: list[float], field: str) -> dict[str, Any]:
    return {
        **keys,
        "window_start": start,
        "window_end": end,
        "window_id": window_id(*keys.values(), start),
        "count": len(values),
        f"{field}_sum": sum(values),
        f"{field}_mean": sum(values) / len(values),
        f"{field}_min": min(values),
        f"{field}_max": max(values),
    }


def dead(payload: str, stage: str, reason: str, arrival: str) -> dict[str, str]:
    return {"payload": payload, "stage": stage, "reason": reason, "arrival_time": arrival}


def test_json_records_epoch_ms_with_bad_and_late_records() -> None:
    records = RecordsConfig("json", (), ("k",), "t", "epoch_ms", 1000, 0)
    items = [
        ('{"k":"a","t":1000,"v":1}', 1),
        ('{"k":"a","t":2000,"v":2.5}', 2),
        ('{"k":"b","t":3000,"v":"4"}', 3),
        ("bad", 4),
        ('{"k":"a","t":"x","v":1}', 5),
        ('{"t":5000,"v":1}', 6),
        ('{"k":"a","t":6000,"v":"abc"}', 7),
        ('{"k":"b","t":65000,"v":10}', 8),
        ('{"k":"a","t":59000,"v":7}', 9),
        ('{"k":"a","t":125000,"v":1}', 10),
    ]
    windows, dead_letters = run(records, WindowConfig(60, ("v",)), items)
    z = "1970-01-01T00:0"
    assert windows == [
        window({"k": "a"}, f"{z}0:00Z", f"{z}1:00Z", [1.0, 2.5], "v"),
        window({"k": "b"}, f"{z}0:00Z", f"{z}1:00Z", [4.0], "v"),
        window({"k": "b"}, f"{z}1:00Z", f"{z}2:00Z", [10.0], "v"),
        window({"k": "a"}, f"{z}2:00Z", f"{z}3:00Z", [1.0], "v"),
    ]
    assert dead_letters == [
        dead("bad", "parse", "not a JSON object", "1970-01-01T00:00:00.004Z"),
        dead(
            '{"k":"a","t":"x","v":1}',
            "validate",
            "missing or invalid event time field t (epoch_ms)",
            "1970-01-01T00:00:00.005Z",
        ),
        dead('{"t":5000,"v":1}', "validate", "missing key field k", "1970-01-01T00:00:00.006Z"),
        dead('{"k":"a","t":6000,"v":"abc"}', "validate", "missing or non-numeric field v", "1970-01-01T00:00:00.007Z"),
        dead(
            '{"k":"a","t":59000,"v":7}',
            "window",
            "late: window 1970-01-01T00:00:00Z/1970-01-01T00:01:00Z was already closed by the watermark",
            "1970-01-01T00:00:00.009Z",
        ),
    ]


def test_csv_plain_and_json_quoted_lines_with_iso_time_and_two_keys() -> None:
    records = RecordsConfig("csv", ("vendor", "zone", "ts", "fare"), ("vendor", "zone"), "ts", "iso8601", 0, 0)
    items = [
        ("1,east,2026-11-23T10:00:01Z,7.5", 1),
        ('"1,east,2026-11-23T10:00:02.250Z,2.5"', 2),
        ('"2,west,2026-11-23T10:00:03,4.0"\n', 3),
        ("1,east,2026-11-23T10:00:04Z", 4),
        ("1,east,2026-11-23T10:00:05+02:00,1.0", 5),
        ("2,west,2026-11-23T10:00:12Z,6.0\n", 6),
    ]
    windows, dead_letters = run(records, WindowConfig(10, ("fare",)), items)
    assert windows == [
        window({"vendor": "1", "zone": "east"}, "2026-11-23T10:00:00Z", "2026-11-23T10:00:10Z", [7.5, 2.5], "fare"),
        window({"vendor": "2", "zone": "west"}, "2026-11-23T10:00:00Z", "2026-11-23T10:00:10Z", [4.0], "fare"),
        window({"vendor": "2", "zone": "west"}, "2026-11-23T10:00:10Z", "2026-11-23T10:00:20Z", [6.0], "fare"),
    ]
    assert dead_letters == [
        dead("1,east,2026-11-23T10:00:04Z", "parse", "not a CSV line of 4 columns", "1970-01-01T00:00:00.004Z"),
        dead(
            "1,east,2026-11-23T10:00:05+02:00,1.0",
            "validate",
            "missing or invalid event time field ts (iso8601)",
            "1970-01-01T00:00:00.005Z",
        ),
    ]


def test_arrival_time_windows_and_epoch_seconds() -> None:
    arrival = RecordsConfig("json", (), ("k",), None, "epoch_ms", 0, 0)
    windows, dead_letters = run(
        arrival,
        WindowConfig(1, ()),
        [('{"k":"a"}', 1_700_000_000_100), ('{"k":"a"}', 1_700_000_000_900), ('{"k":"a"}', 1_700_000_001_000)],
    )
    assert [(w["window_start"], w["count"]) for w in windows] == [
        ("2023-11-14T22:13:20Z", 2),
        ("2023-11-14T22:13:21Z", 1),
    ]
    assert dead_letters == []

    seconds = RecordsConfig("json", (), ("k",), "t", "epoch_s", 0, 0)
    windows, _ = run(
        seconds, WindowConfig(60, ()), [('{"k":"a","t":1700000000.5}', 1), ('{"k":"a","t":"1700000039"}', 2)]
    )
    assert [(w["window_start"], w["window_end"], w["count"]) for w in windows] == [
        ("2023-11-14T22:13:00Z", "2023-11-14T22:14:00Z", 2)
    ]
