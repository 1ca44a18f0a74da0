"""The real job on a local Flink mini cluster against the local stack, with exact expected output.

It runs once per Kinesis emulator: moto, kinesis-mock and kinesalite (``tests/integration/conftest.py``).

One shard, two keys.  Key ``b`` goes quiet for a window while ``a`` moves the watermark, so
``b``'s windows must still close.  The input holds a malformed record, a record missing an
aggregated field, and a record that arrives after its window closed; each must land in the
dead-letter path with its stage and reason, and every window exactly once in S3 and in the
delivery stream.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config import AppConfig
from connectors.metrics import GROUP
from deploy.local.job_process import job_id, rest_json, running_job
from deploy.local.parquet_windows import read_parquet_windows
from deploy.local.stack import LocalAws, delivery_prefix, free_port
from deploy.local.testing import json_record_groups, prepare, read_lines, read_stream, settled, wait_until
from udfs.output import window_columns

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SECOND = 1000


def record(key: str | None, seconds: int, value: float | None) -> bytes:
    fields: dict[str, Any] = {"t": T0 + seconds * SECOND}
    if key is not None:
        fields["k"] = key
    if value is not None:
        fields["v"] = value
    return json.dumps(fields, separators=(",", ":")).encode()


def window(key: str, start_s: int, values: list[float]) -> dict[str, Any]:
    start = f"2026-01-01T00:00:{start_s:02d}Z"
    return {
        "k": key,
        "window_start": start,
        "window_end": f"2026-01-01T00:00:{start_s + 10:02d}Z",
        "window_id": hashlib.md5(f"{key}|{start}".encode()).hexdigest(),
        "count": len(values),
        "v_sum": sum(values),
        "v_mean": sum(values) / len(values),
        "v_min": min(values),
        "v_max": max(values),
    }


PHASE_ONE = [
    record("a", 1, 1),
    record("b", 2, 10),
    b"not json",
    record("a", 3, None),
    record("a", 4, 2),
    record("a", 12, 3),
    record("a", 15, 4),
    record("a", 23, 5),
]
LATE = record("a", 5, 100)
PHASE_TWO = [LATE, record("b", 25, 20), record("a", 26, 6), record("a", 41, 0)]

EXPECTED_WINDOWS = [
    window("a", 0, [1, 2]),
    window("a", 10, [3, 4]),
    window("a", 20, [5, 6]),
    window("b", 0, [10]),
    window("b", 20, [20]),
]
EXPECTED_DEAD_LETTERS = [
    ("not json", "parse", "not a JSON object"),
    (record("a", 3, None).decode(), "validate", "missing or non-numeric field v"),
    (
        LATE.decode(),
        "window",
        "late: window 2026-01-01T00:00:00Z/2026-01-01T00:00:10Z was already closed by the watermark",
    ),
]


def windows_in_s3(aws: LocalAws, config: AppConfig) -> list[dict[str, Any]]:
    """The committed windows, read as JSON lines or, checked against the job's columns, as Parquet."""
    location = config.sink_s3.location
    if config.sink_s3.format == "parquet":
        windows = read_parquet_windows(aws, location, window_columns(config))
    else:
        windows = [json.loads(line) for line in read_lines(aws, location.bucket, location.key_prefix)[1]]
    return sorted(windows, key=lambda w: (w["k"], w["window_start"]))


def delivered(aws: LocalAws, config: AppConfig) -> list[dict[str, Any]]:
    assert config.delivery is not None
    if config.delivery.type == "firehose":
        lines = read_lines(aws, config.sink_s3.location.bucket, delivery_prefix(config))[1]
    else:
        data = b"".join(read_stream(aws, config.delivery.stream_name)).decode()
        assert data.endswith("\n")
        lines = [line for line in data.split("\n") if line]
    return sorted((json.loads(line) for line in lines), key=lambda w: (w["k"], w["window_start"]))


def dead_letters(aws: LocalAws, config: AppConfig) -> list[dict[str, Any]]:
    location = config.dead_letter.location
    return [json.loads(line) for line in read_lines(aws, location.bucket, location.key_prefix)[1]]


# The job's own metrics once everything above is out: 9 valid records, the 5 windows, and the
# dead letters of one stage each (the inference counter is there at 0).
EXPECTED_METRICS = {
    "recordsParsed": 9,
    "windowsEmitted": 5,
    "deadLettersParse": 1,
    "deadLettersValidate": 1,
    "deadLettersWindow": 1,
    "deadLettersInference": 0,
}


def service_metrics(rest_port: int) -> dict[str, int]:
    """The job's ``KinesisAnalytics`` metrics as the REST API lists them, summed over operators
    and subtasks (ids read ``<subtask>.<operator>.KinesisAnalytics.<name>``)."""
    jid = job_id(rest_port)
    totals: dict[str, int] = {}
    for vertex in rest_json(rest_port, f"/jobs/{jid}")["vertices"]:
        base = f"/jobs/{jid}/vertices/{vertex['id']}/metrics"
        ids = [metric["id"] for metric in rest_json(rest_port, base) if f".{GROUP}." in metric["id"]]
        if ids:
            for metric in rest_json(rest_port, f"{base}?get={','.join(ids)}"):
                name = metric["id"].rsplit(f".{GROUP}.", 1)[1]
                totals[name] = totals.get(name, 0) + int(float(metric["value"]))
    return totals


def put(aws: LocalAws, stream: str, records: list[bytes]) -> None:
    kinesis = aws.client("kinesis")
    for data in records:  # one call each keeps the order within the shard
        kinesis.put_record(StreamName=stream, Data=data, PartitionKey="p")


@pytest.mark.parametrize(
    ("delivery_type", "s3_format"), [("firehose", "json"), ("kinesis", "json"), ("kinesis", "parquet")]
)
def test_windows_and_dead_letters_end_to_end(aws: LocalAws, tmp_path: Path, delivery_type: str, s3_format: str) -> None:
    name = f"it-{uuid.uuid4().hex[:10]}"
    groups = json_record_groups(name, 10, "v")
    groups["sink.delivery"] = {"type": delivery_type, "stream.name": f"{name}-out"}
    groups["sink.s3"]["format"] = s3_format
    properties_path = tmp_path / "application_properties.json"
    config = prepare(aws, groups, properties_path)
    put(aws, config.source.stream_name, PHASE_ONE)

    args = ("--checkpoint-interval-ms", "1000")
    rest_port = free_port()
    with running_job(aws, properties_path, tmp_path / "job.log", rest_port, args):
        # The late record must come after its window has been emitted, so the watermark has
        # passed it for certain.
        wait_until(lambda: len(delivered(aws, config)) >= 3, 120, "the first windows in the delivery stream")
        put(aws, config.source.stream_name, PHASE_TWO)
        wait_until(
            lambda: (
                len(windows_in_s3(aws, config)) >= len(EXPECTED_WINDOWS)
                and len(dead_letters(aws, config)) >= len(EXPECTED_DEAD_LETTERS)
                and len(delivered(aws, config)) >= len(EXPECTED_WINDOWS)
            ),
            120,
            "all windows and dead letters",
        )
        # The REST API refreshes its metrics every few seconds.
        settled(lambda: service_metrics(rest_port) == EXPECTED_METRICS, 60, "the job's KinesisAnalytics metrics")
        assert service_metrics(rest_port) == EXPECTED_METRICS

    assert windows_in_s3(aws, config) == EXPECTED_WINDOWS
    assert delivered(aws, config) == EXPECTED_WINDOWS
    assert sorted((d["payload"], d["stage"], d["reason"]) for d in dead_letters(aws, config)) == sorted(
        EXPECTED_DEAD_LETTERS
    )


def s3_keys(aws: LocalAws, bucket: str, prefix: str) -> list[str]:
    s3 = aws.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_windows_of_two_hours_sent_in_one_minute_land_in_two_hour_partitions(
    local_aws: LocalAws, tmp_path: Path
) -> None:
    """Partitions by event time: each window under dt=/hour= of its window_start, whenever it was written;
    dead letters stay under the time they were written."""
    name = f"it-{uuid.uuid4().hex[:10]}"
    groups = json_record_groups(name, 10, "v")
    groups["sink.s3"]["format"] = "parquet"
    config = prepare(local_aws, groups, tmp_path / "application_properties.json")
    put(local_aws, config.source.stream_name, [record("a", 1, 1), record("a", 3601, 2), b"not json"])
    sent_on = datetime.now(UTC)

    args = ("--checkpoint-interval-ms", "1000")
    with running_job(local_aws, tmp_path / "application_properties.json", tmp_path / "job.log", free_port(), args):
        # The quiet stream's watermark follows processing time, which closes the last window too.
        wait_until(lambda: len(windows_in_s3(local_aws, config)) >= 2, 120, "the windows of both hours")
        wait_until(lambda: dead_letters(local_aws, config), 60, "the dead letter")

    windows = config.sink_s3.location
    partitions = sorted(key.rsplit("/", 1)[0] for key in s3_keys(local_aws, windows.bucket, windows.key_prefix))
    assert partitions == ["windows/dt=2026-01-01/hour=00", "windows/dt=2026-01-01/hour=01"]
    assert windows_in_s3(local_aws, config) == [
        window("a", 0, [1]),
        {**window("a", 0, [2]), **_hour_one_bounds("a")},
    ]
    letters = config.dead_letter.location
    (letter_key,) = s3_keys(local_aws, letters.bucket, letters.key_prefix)
    processing_hours = {sent_on.strftime("dt=%Y-%m-%d/hour=%H"), datetime.now(UTC).strftime("dt=%Y-%m-%d/hour=%H")}
    assert letter_key.split("/", 1)[1].rsplit("/", 1)[0] in processing_hours


def _hour_one_bounds(key: str) -> dict[str, Any]:
    start = "2026-01-01T01:00:00Z"
    return {
        "window_start": start,
        "window_end": "2026-01-01T01:00:10Z",
        "window_id": hashlib.md5(f"{key}|{start}".encode()).hexdigest(),
    }
