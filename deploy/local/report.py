"""The picture of a demo run: charts of what the job wrote to S3, in one self-contained HTML file.

Reading and drawing are apart.  :func:`run_series` turns window records and dead letters, as
dicts read back from S3 by the reader that fits the sink's format
(:func:`deploy.local.testing.window_reader`), into the series the charts show; it is pure, so a
test can compare it with the objects it was drawn from.  :func:`report_html` draws those series
with plotly and inlines plotly.js, so the file opens without a network.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from config import AppConfig
from udfs.dead_letters import Stage

__all__ = [
    "ACTUAL",
    "IN_WINDOWS",
    "PREDICTED",
    "RunSeries",
    "ScoreFields",
    "Series",
    "figures",
    "key_label",
    "report_html",
    "run_series",
    "score_fields",
    "write_report",
]

IN_WINDOWS = "in windows"
ACTUAL = "actual"
PREDICTED = "predicted"

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Series:
    """One trace of a chart: its name and its points, in order."""

    name: str
    x: tuple[str | float, ...]
    y: tuple[float, ...]


@dataclass(frozen=True)
class ScoreFields:
    """The fields of a window scored record by record that hold the prediction and the label."""

    prediction: str
    label: str


@dataclass(frozen=True)
class RunSeries:
    """What the report draws, chart by chart.

    ``records_per_minute``: records in windows by the minute of their window's start, then
    dead letters of each stage by the minute they arrived.  ``windows_per_key``: one point per
    window at its start, the records in it.  ``fares`` and ``mae`` (records scored one by one,
    with a label): per key, the actual and the predicted mean of each window over time, and
    each window's mae.
    Times are UTC as ``YYYY-MM-DD HH:MM:SS``, the form plotly reads as a date.
    """

    records_per_minute: tuple[Series, ...]
    windows_per_key: tuple[Series, ...]
    fares: tuple[Series, ...] = ()
    mae: tuple[Series, ...] = ()


def score_fields(config: AppConfig) -> ScoreFields | None:
    """The prediction and label fields when the job scores each record against a label, else None."""
    inference = config.inference
    if inference is None or inference.input != "record" or not inference.label_field:
        return None
    return ScoreFields(prediction=inference.prediction_field, label=inference.label_field)


def run_series(
    windows: Iterable[Record],
    dead_letters: Iterable[Record],
    key_fields: Sequence[str],
    scores: ScoreFields | None = None,
) -> RunSeries:
    """The report's series from the window records and dead letters the job wrote."""
    by_key: dict[str, list[Record]] = defaultdict(list)
    for window in windows:
        by_key[key_label(window, key_fields)].append(window)
    for records in by_key.values():
        records.sort(key=lambda w: str(w["window_start"]))
    keys = sorted(by_key)

    per_minute: dict[str, dict[str, int]] = {IN_WINDOWS: defaultdict(int)}
    per_minute.update({str(stage): defaultdict(int) for stage in Stage})
    for key in keys:
        for window in by_key[key]:
            per_minute[IN_WINDOWS][_minute(window["window_start"])] += int(window["count"])
    for letter in dead_letters:
        per_minute.setdefault(str(letter["stage"]), defaultdict(int))[_minute(letter["arrival_time"])] += 1
    minutes = tuple(sorted({minute for counts in per_minute.values() for minute in counts}))
    records_per_minute = tuple(
        Series(name, minutes, tuple(float(counts.get(m, 0)) for m in minutes)) for name, counts in per_minute.items()
    )

    windows_per_key = tuple(
        Series(
            key,
            tuple(_time(w["window_start"]) for w in by_key[key]),
            tuple(float(w["count"]) for w in by_key[key]),
        )
        for key in keys
    )
    if scores is None:
        return RunSeries(records_per_minute, windows_per_key)
    fares = tuple(
        Series(
            f"{key} {name}",
            tuple(_time(w["window_start"]) for w in by_key[key]),
            tuple(float(w[f"{field}_mean"]) for w in by_key[key]),
        )
        for key in keys
        for name, field in ((ACTUAL, scores.label), (PREDICTED, scores.prediction))
    )
    mae = tuple(
        Series(key, tuple(_time(w["window_start"]) for w in by_key[key]), tuple(float(w["mae"]) for w in by_key[key]))
        for key in keys
    )
    return RunSeries(records_per_minute, windows_per_key, fares, mae)


def key_label(record: Record, key_fields: Sequence[str]) -> str:
    """``vendor_id=1``; several key fields joined by ``, ``."""
    return ", ".join(f"{field}={record[field]}" for field in key_fields)


def figures(series: RunSeries, scores: ScoreFields | None = None) -> list[go.Figure]:
    """One figure per chart, in the report's order."""
    records = go.Figure(
        [go.Bar(name=s.name, x=list(s.x), y=list(s.y)) for s in series.records_per_minute],
        layout={
            "title": "Records per minute: in windows (by window start) and dead letters by stage (by arrival)",
            "barmode": "stack",
            "xaxis": {"title": "minute (UTC)"},
            "yaxis": {"title": "records"},
        },
    )
    windows = go.Figure(
        [go.Scatter(name=s.name, x=list(s.x), y=list(s.y), mode="lines+markers") for s in series.windows_per_key],
        layout={
            "title": "Windows per key: one point per window, the records in it",
            "xaxis": {"title": "window start (UTC)"},
            "yaxis": {"title": "records in the window"},
        },
    )
    charts = [records, windows]
    if series.fares:
        label, prediction = (scores.label, scores.prediction) if scores else ("actual", "predicted")
        fares = go.Figure(
            [
                go.Scatter(
                    name=s.name,
                    x=list(s.x),
                    y=list(s.y),
                    mode="lines+markers",
                    line={"dash": "dot" if s.name.endswith(PREDICTED) else "solid"},
                )
                for s in series.fares
            ],
            layout={
                "title": f"Predicted against actual {label}: the mean of each window",
                "xaxis": {"title": "window start (UTC)"},
                "yaxis": {"title": f"{label} / {prediction} (window mean)"},
            },
        )
        mae = go.Figure(
            [go.Scatter(name=s.name, x=list(s.x), y=list(s.y), mode="lines+markers") for s in series.mae],
            layout={
                "title": "Mean absolute error per window",
                "xaxis": {"title": "window start (UTC)"},
                "yaxis": {"title": "mae"},
            },
        )
        charts += [fares, mae]
    return charts


def report_html(series: RunSeries, title: str, summary: str, scores: ScoreFields | None = None) -> str:
    """A whole HTML page with plotly.js inlined: the summary line, then the charts."""
    charts = "\n".join(
        figure.to_html(full_html=False, include_plotlyjs=False, default_width="100%", default_height="420px")
        for figure in figures(series, scores)
    )
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{_escape(title)}</title>\n"
        f"<script type='text/javascript'>{get_plotlyjs()}</script>\n</head>\n"
        "<body style='font-family: sans-serif'>\n"
        f"<h1>{_escape(title)}</h1>\n<pre>{_escape(summary)}</pre>\n{charts}\n</body>\n</html>\n"
    )


def write_report(path: Path, series: RunSeries, title: str, summary: str, scores: ScoreFields | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(series, title, summary, scores), encoding="utf-8")
    return path


def _time(moment: object) -> str:
    # ISO text from JSON lines ("2026-11-27T09:54:10Z", or with milliseconds) and a UTC datetime
    # from Parquet both start "2026-11-27?09:54:10"; plotly reads "2026-11-27 09:54:10" as a date.
    return str(moment)[:19].replace("T", " ")


def _minute(moment: object) -> str:
    return _time(moment)[:16] + ":00"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
