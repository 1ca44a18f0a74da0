"""The run report: its series from window records and dead letters, exactly; the HTML draws those
series and needs no network; and the series of a report match the S3 objects they were read from."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deploy.local.report import IN_WINDOWS, RunSeries, ScoreFields, Series, report_html, run_series
from deploy.local.stack import LocalAws
from deploy.local.testing import S3Lines, json_record_groups, prepare, window_reader

KEYS = ("vendor_id",)
SCORES = ScoreFields(prediction="prediction", label="fare_amount")


def window(vendor: str, start: str, count: int, fare: float, predicted: float, mae: float) -> dict[str, Any]:
    return {
        "vendor_id": vendor,
        "window_start": start,
        "window_end": "",
        "window_id": f"{vendor}-{start}",
        "count": count,
        "fare_amount_mean": fare,
        "prediction_mean": predicted,
        "mae": mae,
    }


def dead_letter(stage: str, arrival_time: str) -> dict[str, str]:
    return {"payload": "x", "stage": stage, "reason": "r", "arrival_time": arrival_time}


WINDOWS = [
    window("2", "2026-11-27T09:54:50Z", 7, 20.0, 19.5, 0.5),
    window("1", "2026-11-27T09:54:50Z", 5, 10.0, 10.25, 0.25),
    window("1", "2026-11-27T09:55:00Z", 3, 12.5, 12.0, 0.75),
    window("1", "2026-11-27T09:54:40Z", 4, 8.0, 8.5, 0.5),
]
DEAD_LETTERS = [
    dead_letter("parse", "2026-11-27T09:54:59.999Z"),
    dead_letter("parse", "2026-11-27T09:56:00.000Z"),
    dead_letter("window", "2026-11-27T09:55:01.250Z"),
]
MINUTES = ("2026-11-27 09:54:00", "2026-11-27 09:55:00", "2026-11-27 09:56:00")
RECORDS_PER_MINUTE = (
    Series(IN_WINDOWS, MINUTES, (16.0, 3.0, 0.0)),
    Series("parse", MINUTES, (1.0, 0.0, 1.0)),
    Series("validate", MINUTES, (0.0, 0.0, 0.0)),
    Series("window", MINUTES, (0.0, 1.0, 0.0)),
    Series("inference", MINUTES, (0.0, 0.0, 0.0)),
)
WINDOWS_PER_KEY = (
    Series("vendor_id=1", ("2026-11-27 09:54:40", "2026-11-27 09:54:50", "2026-11-27 09:55:00"), (4.0, 5.0, 3.0)),
    Series("vendor_id=2", ("2026-11-27 09:54:50",), (7.0,)),
)


def test_series_count_records_per_minute_by_stage_and_windows_per_key() -> None:
    assert run_series(WINDOWS, DEAD_LETTERS, KEYS) == RunSeries(RECORDS_PER_MINUTE, WINDOWS_PER_KEY)


def test_series_of_a_scored_run_have_predicted_against_actual_fares_and_mae_per_window() -> None:
    series = run_series(WINDOWS, DEAD_LETTERS, KEYS, SCORES)

    key_1_starts = ("2026-11-27 09:54:40", "2026-11-27 09:54:50", "2026-11-27 09:55:00")
    assert series.fares == (
        Series("vendor_id=1 actual", key_1_starts, (8.0, 10.0, 12.5)),
        Series("vendor_id=1 predicted", key_1_starts, (8.5, 10.25, 12.0)),
        Series("vendor_id=2 actual", ("2026-11-27 09:54:50",), (20.0,)),
        Series("vendor_id=2 predicted", ("2026-11-27 09:54:50",), (19.5,)),
    )
    assert series.mae == (
        Series("vendor_id=1", key_1_starts, (0.5, 0.25, 0.75)),
        Series("vendor_id=2", ("2026-11-27 09:54:50",), (0.5,)),
    )


def test_several_key_fields_name_a_key_by_all_of_them() -> None:
    rows = [{"site": "a", "sensor": 7, "window_start": "2026-11-27T09:54:40Z", "count": 2}]

    assert run_series(rows, [], ("site", "sensor")).windows_per_key == (
        Series("site=a, sensor=7", ("2026-11-27 09:54:40",), (2.0,)),
    )


def test_window_times_read_back_as_datetimes_give_the_same_series() -> None:
    # What a Parquet reader hands over: timestamps as UTC datetimes instead of ISO text.
    as_datetimes = [
        {**w, "window_start": datetime.fromisoformat(str(w["window_start"])).astimezone(UTC)} for w in WINDOWS
    ]

    assert run_series(as_datetimes, DEAD_LETTERS, KEYS, SCORES) == run_series(WINDOWS, DEAD_LETTERS, KEYS, SCORES)


def plotted_traces(html: str) -> list[list[dict[str, Any]]]:
    """The data argument of each ``Plotly.newPlot(id, data, layout, config)`` call in the page."""
    decoder = json.JSONDecoder()
    charts = []
    start = html.find("Plotly.newPlot(")
    while start >= 0:
        after_id = html.index(",", start) + 1
        data, _ = decoder.raw_decode(html[after_id:].lstrip())
        charts.append(data)
        start = html.find("Plotly.newPlot(", after_id)
    return charts


def test_the_report_draws_exactly_its_series_and_inlines_plotly() -> None:
    series = run_series(WINDOWS, DEAD_LETTERS, KEYS, SCORES)

    html = report_html(series, "a run", "demo: records_in=19", SCORES)

    drawn = [[(t["name"], tuple(t["x"]), tuple(t["y"])) for t in chart] for chart in plotted_traces(html)]
    assert drawn == [
        [(s.name, s.x, s.y) for s in chart]
        for chart in (series.records_per_minute, series.windows_per_key, series.fares, series.mae)
    ]
    assert "<pre>demo: records_in=19</pre>" in html
    assert re.search(r"<script[^>]*\bsrc=", html) is None
    assert "plotly.js v" in html


def test_an_unscored_report_has_two_charts() -> None:
    assert len(plotted_traces(report_html(run_series(WINDOWS, [], KEYS), "a run", "demo:"))) == 2


def test_the_report_series_match_the_s3_output_they_were_read_from(local_aws: LocalAws, tmp_path: Path) -> None:
    config = prepare(local_aws, json_record_groups("report-s3", 10, "fare_amount"), tmp_path / "app.json")
    s3 = local_aws.client("s3")
    objects = {
        "windows/dt=2026-11-27/hour=09/part-0-0": WINDOWS[:2],
        "windows/dt=2026-11-27/hour=09/part-0-1": WINDOWS[2:],
        "dead-letters/dt=2026-11-27/hour=09/part-0-0": DEAD_LETTERS,
    }
    for key, rows in objects.items():
        body = "".join(json.dumps(row) + "\n" for row in rows)
        s3.put_object(Bucket="report-s3", Key=key, Body=body.encode())

    windows = window_reader(local_aws, config).read()
    dead_letters = S3Lines(local_aws, config.dead_letter.location).read()

    assert sorted(windows, key=lambda w: str(w["window_id"])) == sorted(WINDOWS, key=lambda w: str(w["window_id"]))
    assert dead_letters == DEAD_LETTERS
    assert run_series(windows, dead_letters, KEYS, SCORES) == run_series(WINDOWS, DEAD_LETTERS, KEYS, SCORES)
    assert run_series(windows, dead_letters, KEYS) == RunSeries(RECORDS_PER_MINUTE, WINDOWS_PER_KEY)
