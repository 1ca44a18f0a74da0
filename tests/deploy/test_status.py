"""What the demo prints: counts read back from the output, the status and summary lines, each key's
first window once, and how to read the output on the local endpoint."""

from __future__ import annotations

import json
from typing import Any

from config import AppConfig, build_config, load_property_groups
from deploy.local.demo import DEFAULT_PROPERTIES, inference_properties
from deploy.local.stack import LocalAws, create_resources
from deploy.local.status import (
    OutputCounts,
    OutputWatch,
    count_outputs,
    first_window_line,
    format_fields,
    output_access_lines,
    status_line,
    summary_fields,
)

WINDOWS: list[dict[str, Any]] = [
    {"vendor_id": "1", "window_start": "2026-11-27T09:54:50Z", "count": 5, "prediction_mean": 10.0, "mae": 0.25},
    {"vendor_id": "1", "window_start": "2026-11-27T09:54:40Z", "count": 3, "prediction_mean": 9.0, "mae": 0.5},
    {"vendor_id": "2", "window_start": "2026-11-27T09:54:50Z", "count": 4, "prediction_mean": 12.0, "mae": 1.0},
]
DEAD_LETTERS = [
    {"payload": "x", "stage": "parse", "reason": "r", "arrival_time": "2026-11-27T09:54:59.999Z"},
    {"payload": "y", "stage": "parse", "reason": "r", "arrival_time": "2026-11-27T09:55:00.000Z"},
    {"payload": "z", "stage": "window", "reason": "r", "arrival_time": "2026-11-27T09:55:01.000Z"},
]
NO_DEAD_LETTERS = {"parse": 0, "validate": 0, "window": 0, "inference": 0}


def demo_config(endpoint: str, inference: str = "none", mode: str = "window", bucket: str = "") -> AppConfig:
    """The demo's config; with ``bucket``, its outputs there (apart from other tests on the shared server)."""
    groups = load_property_groups(DEFAULT_PROPERTIES)
    if bucket:
        groups["sink.s3"]["path"] = f"s3://{bucket}/windows"
        groups["sink.dlq"]["path"] = f"s3://{bucket}/dead-letters"
        groups["sink.delivery"]["stream.name"] = f"{bucket}-delivery"
    if inference != "none":
        groups["inference"] = inference_properties(inference, mode, "http://127.0.0.1:9")
    return build_config(groups, {"AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoint})


def test_counts_without_inference_have_dead_letters_by_stage_and_no_predictions() -> None:
    counts = count_outputs(WINDOWS, DEAD_LETTERS, 2, 3, None)

    assert counts == OutputCounts(3, 2, 3, {"parse": 2, "validate": 0, "window": 1, "inference": 0})


def test_counts_of_records_scored_one_by_one_weigh_the_mae_by_the_records_of_each_window() -> None:
    inference = demo_config("http://127.0.0.1:9", "sagemaker", "record").inference

    counts = count_outputs(WINDOWS, [], 2, 3, inference)

    # (0.25*5 + 0.5*3 + 1.0*4) / 12 = 6.75 / 12
    assert (counts.predictions, counts.mae) == (12, 0.5625)


def test_counts_of_scored_windows_are_the_windows_with_a_prediction() -> None:
    inference = demo_config("http://127.0.0.1:9", "apigateway", "window").inference
    windows = [{"vendor_id": "1", "window_start": "t", "count": 5, "prediction": 7.5}, WINDOWS[0]]

    counts = count_outputs(windows, [], 1, 2, inference)

    assert (counts.predictions, counts.mae) == (1, None)


def test_the_summary_line_keeps_its_field_names_and_order() -> None:
    counts = OutputCounts(10, 5, 9, {"parse": 96, "validate": 0, "window": 0, "inference": 0}, 9015, 0.3996)

    fields = summary_fields(11993, counts)
    fields["report"] = "build/demo/report.html"

    assert format_fields(fields) == (
        "records_in=11993 windows_out=10 s3_objects=5 delivery_records=9 dlq=96 predictions=9015 mae=0.3996"
        " report=build/demo/report.html"
    )
    assert format_fields(summary_fields(7, OutputCounts(1, 1, 0, NO_DEAD_LETTERS))) == (
        "records_in=7 windows_out=1 s3_objects=1 delivery_records=0 dlq=0"
    )


def test_a_status_line_shows_what_was_sent_and_what_landed() -> None:
    counts = OutputCounts(12, 6, 11, {"parse": 70, "validate": 0, "window": 1, "inference": 0}, 9015, 0.4)

    assert status_line(35.4, 7000, counts) == (
        "demo: [   35s] sent=7000 windows_in_s3=12 delivered=11"
        " dead_letters=parse:70,validate:0,window:1,inference:0 predictions=9015 mae=0.4"
    )
    assert status_line(5, 0, OutputCounts(0, 0, 0, NO_DEAD_LETTERS)) == (
        "demo: [    5s] sent=0 windows_in_s3=0 delivered=0 dead_letters=parse:0,validate:0,window:0,inference:0"
    )


def test_a_first_window_is_shown_as_one_json_line() -> None:
    assert first_window_line("vendor_id=2", {"vendor_id": "2", "count": 4}) == (
        'demo: first window of vendor_id=2: {"vendor_id":"2","count":4}'
    )


def test_the_access_lines_name_the_real_endpoint_and_prefixes() -> None:
    lines = output_access_lines(
        "http://127.0.0.1:40123", "us-east-1", ["s3://demo-bucket/windows", "s3://demo-bucket/dead-letters"]
    )

    assert lines == [
        "demo: read the output on the local endpoint (it accepts any credentials):",
        "demo:   export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1",
        "demo:   aws --endpoint-url http://127.0.0.1:40123 s3 ls --recursive s3://demo-bucket/windows/",
        "demo:   aws --endpoint-url http://127.0.0.1:40123 s3 ls --recursive s3://demo-bucket/dead-letters/",
        "demo:   aws --endpoint-url http://127.0.0.1:40123 s3 cp s3://demo-bucket/<key from the listing> -",
        "demo:   python: s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:40123')",
        "demo:           listing = s3.list_objects_v2(Bucket='demo-bucket', Prefix='windows/')",
        "demo:           keys = [o['Key'] for o in listing['Contents']]",
        "demo:           print(s3.get_object(Bucket='demo-bucket', Key=keys[0])['Body'].read().decode())",
    ]


def put_lines(aws: LocalAws, bucket: str, key: str, rows: list[dict[str, Any]]) -> None:
    body = "".join(json.dumps(row) + "\n" for row in rows)
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())


def test_the_watch_reads_the_output_as_it_lands_and_shows_each_key_first_once(
    local_aws: LocalAws,
) -> None:
    config = demo_config(local_aws.endpoint, bucket="status-watch")
    create_resources(local_aws, config)
    bucket = config.sink_s3.location.bucket
    watch = OutputWatch(local_aws, config)
    put_lines(local_aws, bucket, "windows/dt=2026-11-27/hour=09/part-0-0", WINDOWS)
    put_lines(local_aws, bucket, "dead-letters/dt=2026-11-27/hour=09/part-0-0", DEAD_LETTERS)
    put_lines(local_aws, bucket, "delivery/status-watch-delivery/2026/11/27/09/a", WINDOWS[:2])

    first = watch.read()
    later_key = {"vendor_id": "3", "window_start": "2026-11-27T09:55:00Z", "count": 1}
    put_lines(local_aws, bucket, "windows/dt=2026-11-27/hour=09/part-0-1", [WINDOWS[0], later_key])
    second = watch.read()

    assert first.first_windows == [("vendor_id=1", WINDOWS[1]), ("vendor_id=2", WINDOWS[2])]
    assert first.counts == OutputCounts(3, 1, 2, {"parse": 2, "validate": 0, "window": 1, "inference": 0})
    assert second.first_windows == [("vendor_id=3", later_key)]
    assert (second.counts.windows, second.counts.s3_objects) == (5, 2)
    assert len(second.windows) == 5
