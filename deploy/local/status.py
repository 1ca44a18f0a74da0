"""What the demo tells a person while it runs and when it stops: status lines, each key's first
window, where to read the output, and the one summary line.

Every count is read back from what the job wrote (S3 objects, the delivery stream), not from the
producer's side, by :class:`OutputWatch`; the formatting functions are pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from config import AppConfig, InferenceConfig
from deploy.local.report import key_label
from deploy.local.stack import LocalAws, delivery_prefix
from deploy.local.testing import S3Lines, S3Records, read_stream, window_reader
from udfs.dead_letters import Stage

__all__ = [
    "OutputCounts",
    "OutputSnapshot",
    "OutputWatch",
    "count_outputs",
    "first_window_line",
    "format_fields",
    "output_access_lines",
    "status_line",
    "summary_fields",
]

Record = Mapping[str, Any]


@dataclass(frozen=True)
class OutputCounts:
    """What the job has written so far; ``dead_letters`` by stage, every stage present."""

    windows: int
    s3_objects: int
    delivered: int
    dead_letters: Mapping[str, int]
    predictions: int | None = None
    mae: float | None = None


def count_outputs(
    windows: Sequence[Record],
    dead_letters: Sequence[Record],
    s3_objects: int,
    delivered: int,
    inference: InferenceConfig | None,
) -> OutputCounts:
    """The counts of the window records and dead letters read back; predictions and the mae of
    every scored record so far (count-weighted over the windows) when the job scores."""
    by_stage = {str(stage): 0 for stage in Stage}
    for letter in dead_letters:
        by_stage[str(letter["stage"])] = by_stage.get(str(letter["stage"]), 0) + 1
    predictions: int | None = None
    mae: float | None = None
    if inference is not None and inference.input == "window":
        predictions = sum(1 for w in windows if inference.prediction_field in w)
    elif inference is not None:
        predictions = sum(int(w["count"]) for w in windows)
        if inference.label_field and predictions:
            mae = round(sum(float(w["mae"]) * int(w["count"]) for w in windows) / predictions, 4)
    return OutputCounts(len(windows), s3_objects, delivered, by_stage, predictions, mae)


def summary_fields(records_sent: int, counts: OutputCounts) -> dict[str, int | float | str]:
    """The summary line's fields, in order; a caller may append its own (``report=...``)."""
    fields: dict[str, int | float | str] = {
        "records_in": records_sent,
        "windows_out": counts.windows,
        "s3_objects": counts.s3_objects,
        "delivery_records": counts.delivered,
        "dlq": sum(counts.dead_letters.values()),
    }
    if counts.predictions is not None:
        fields["predictions"] = counts.predictions
    if counts.mae is not None:
        fields["mae"] = counts.mae
    return fields


def format_fields(fields: Mapping[str, int | float | str]) -> str:
    """``name=value`` pairs; floats without trailing zeros."""
    pairs = (f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}" for name, value in fields.items())
    return " ".join(pairs)


def status_line(elapsed_s: float, records_sent: int, counts: OutputCounts) -> str:
    dead = ",".join(f"{stage}:{n}" for stage, n in counts.dead_letters.items())
    fields: dict[str, int | float | str] = {
        "sent": records_sent,
        "windows_in_s3": counts.windows,
        "delivered": counts.delivered,
        "dead_letters": dead,
    }
    if counts.predictions is not None:
        fields["predictions"] = counts.predictions
    if counts.mae is not None:
        fields["mae"] = counts.mae
    return f"demo: [{elapsed_s:5.0f}s] {format_fields(fields)}"


def first_window_line(key: str, window: Record) -> str:
    return f"demo: first window of {key}: {json.dumps(window, separators=(',', ':'))}"


def output_access_lines(s3_endpoint: str, region: str, uris: Sequence[str]) -> list[str]:
    """How to list and read the output with the AWS CLI and boto3 against the local endpoint."""
    first = uris[0].removeprefix("s3://")
    bucket, _, prefix = first.partition("/")
    prefix = f"{prefix}/" if prefix else ""
    endpoint = f"--endpoint-url {s3_endpoint}"
    return [
        "demo: read the output on the local endpoint (it accepts any credentials):",
        f"demo:   export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={region}",
        *(f"demo:   aws {endpoint} s3 ls --recursive {uri}/" for uri in uris),
        f"demo:   aws {endpoint} s3 cp s3://{bucket}/<key from the listing> -",
        f"demo:   python: s3 = boto3.client('s3', endpoint_url='{s3_endpoint}')",
        f"demo:           listing = s3.list_objects_v2(Bucket='{bucket}', Prefix='{prefix}')",
        "demo:           keys = [o['Key'] for o in listing['Contents']]",
        f"demo:           print(s3.get_object(Bucket='{bucket}', Key=keys[0])['Body'].read().decode())",
    ]


@dataclass(frozen=True)
class OutputSnapshot:
    """The output read back at one moment; ``first_windows`` are (key, its earliest window) for the
    keys seen for the first time in this read."""

    windows: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    counts: OutputCounts
    first_windows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class OutputWatch:
    """Reads the job's output back as it lands; each S3 object is fetched once."""

    def __init__(self, aws: LocalAws, config: AppConfig) -> None:
        self._aws = aws
        self._config = config
        self._windows: S3Records = window_reader(aws, config)
        self._dead_letters = S3Lines(aws, config.dead_letter.location)
        delivery = config.delivery
        self._delivered = (
            S3Lines(aws, config.sink_s3.location, delivery_prefix(config))
            if delivery is not None and delivery.type == "firehose"
            else None
        )
        self._keys_seen: set[str] = set()

    def read(self) -> OutputSnapshot:
        windows = self._windows.read()
        dead_letters = self._dead_letters.read()
        delivered = self._count_delivered()
        counts = count_outputs(windows, dead_letters, self._windows.objects, delivered, self._config.inference)
        first: dict[str, dict[str, Any]] = {}
        for window in sorted(windows, key=lambda w: str(w["window_start"])):
            key = key_label(window, self._config.records.key_fields)
            if key not in self._keys_seen and key not in first:
                first[key] = window
        self._keys_seen.update(first)
        return OutputSnapshot(windows, dead_letters, counts, sorted(first.items()))

    def _count_delivered(self) -> int:
        delivery = self._config.delivery
        if delivery is None:
            return 0
        if self._delivered is not None:
            return len(self._delivered.read())
        return len(read_stream(self._aws, delivery.stream_name))
