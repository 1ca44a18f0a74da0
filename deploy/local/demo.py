"""``make demo``: the whole pipeline on this machine.

Starts moto server (or uses the endpoint in ``AWS_ENDPOINT_URL``, e.g. LocalStack), with
Kinesis from moto, kinesis-mock or kinesalite (``--kinesis``), creates
the stream, buckets and delivery stream, runs the job on a local Flink mini cluster with
the dashboard, feeds it taxi trips, prints a status line every few seconds, and ends (after
``--duration`` or on Ctrl-C) with one summary line and a picture of the run, build/demo/report.html.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from config import AppConfig, build_config, load_property_groups, write_property_groups
from deploy.local.job_process import running_job
from deploy.local.kinesalite import kinesalite_server
from deploy.local.kinesis_mock import kinesis_mock_server
from deploy.local.model_server import DEFAULT_SHADOW_ENDPOINT_NAME, rollout_endpoints, running_model_server
from deploy.local.parquet_windows import ParquetSchemaError
from deploy.local.producer import TripProducer
from deploy.local.report import run_series, score_fields, write_report
from deploy.local.stack import LocalAws, create_resources, delivery_prefix, moto_server
from deploy.local.status import (
    OutputSnapshot,
    OutputWatch,
    first_window_line,
    format_fields,
    output_access_lines,
    status_line,
    summary_fields,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PROPERTIES = Path(__file__).with_name("demo.properties.json")
RUN_DIR = PROJECT_ROOT / "build" / "demo"
STATUS_EVERY_S = 5.0


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except ParquetSchemaError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=0, help="seconds to run; 0 runs until Ctrl-C")
    parser.add_argument("--rate", type=float, default=200, help="trips per second into Kinesis")
    parser.add_argument("--malformed-rate", type=float, default=0.01, help="share of broken records")
    parser.add_argument("--properties", type=Path, default=DEFAULT_PROPERTIES)
    parser.add_argument("--rest-port", type=int, default=8081)
    parser.add_argument("--inference", choices=("none", "sagemaker", "apigateway"), default="none")
    parser.add_argument("--mode", choices=("window", "record"), default="window", help="what inference scores")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="logs, properties and report.html")
    parser.add_argument("--format", choices=("json", "parquet"), default="json", help="file format of the S3 windows")
    kinesis_emulators = ("moto", "kinesis-mock", "kinesalite")
    parser.add_argument("--kinesis", choices=kinesis_emulators, default="moto", help="which emulator serves Kinesis")
    parser.add_argument(
        "--shadow", type=int, choices=(0, 1), default=0, help="1: a model rollout, two variants and a shadow endpoint"
    )
    args = parser.parse_args(argv)

    run_dir: Path = args.run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    with ExitStack() as stack:
        external = os.environ.get("AWS_ENDPOINT_URL")
        region = os.environ.get("AWS_REGION", "us-east-1")
        aws = LocalAws(external, region) if external else stack.enter_context(moto_server(region, run_dir / "moto.log"))
        if args.kinesis != "moto":
            aws = aws.with_service_endpoint("kinesis", _start_kinesis(stack, args.kinesis, region, run_dir))
            print(f"demo: Kinesis from {args.kinesis} at {aws.endpoint_for('kinesis')}", flush=True)
        groups = load_property_groups(args.properties)
        groups["sink.s3"]["format"] = args.format
        extra_env: dict[str, str] = {}
        if args.inference != "none":
            auth = "iam" if args.inference == "sagemaker" else "none"
            endpoints = rollout_endpoints(0.3) if args.shadow else None
            model = stack.enter_context(running_model_server(auth=auth, endpoints=endpoints))
            groups["inference"] = inference_properties(args.inference, args.mode, model.url)
            if args.shadow:
                groups["inference.shadow"] = {"type": "sagemaker", "endpoint.name": DEFAULT_SHADOW_ENDPOINT_NAME}
                print("demo: variants current (70%) and candidate (30%), the candidate also as shadow", flush=True)
            extra_env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = model.url
            print(f"demo: model endpoint {model.url} ({args.inference}, scoring each {args.mode})", flush=True)
        properties = run_dir / "application_properties.json"
        write_property_groups(properties, groups)
        config = build_config(groups, {"AWS_ENDPOINT_URL": aws.endpoint, **extra_env})
        create_resources(aws, config)
        services = "Kinesis, Firehose, S3" if args.kinesis == "moto" else "Firehose, S3"
        print(f"demo: local AWS endpoint {aws.endpoint} ({services})", flush=True)

        print("demo: starting the job on a local Flink mini cluster ...", flush=True)
        job = stack.enter_context(running_job(aws, properties, run_dir / "job.log", args.rest_port, env=extra_env))
        print(f"demo: Flink dashboard at http://localhost:{args.rest_port} (job RUNNING)", flush=True)

        producer = TripProducer(aws.client("kinesis"), config.source.stream_name, args.rate, args.malformed_rate)
        producer.start()
        print(f"demo: sending {args.rate:g} trips/s to stream {config.source.stream_name}", flush=True)
        _print_where_output_lands(aws, config)
        watch = OutputWatch(aws, config)
        _watch_until_stopped(watch, producer, job, stop, args.duration, run_dir)
        producer.stop()
        # Read, drawn and printed before the job and the servers stop, which takes a while.
        fields = _summarize(watch.read(), producer.sent, config, run_dir / "report.html", _title(args))
        print(f"demo: {format_fields(fields)}", flush=True)
    required = ["records_in", "windows_out", "s3_objects", "delivery_records"]
    if args.inference != "none":
        required.append("predictions")
    if args.format == "parquet":
        required.append("parquet_rows")
    if args.inference != "none" and args.shadow:
        required.append("shadow_scored")
    return 0 if all(int(fields[name]) > 0 for name in required) else 1


def _title(args: argparse.Namespace) -> str:
    return f"stream-scoring demo: inference {args.inference}, scoring each {args.mode}, {args.rate:g} trips/s"


def _summarize(
    final: OutputSnapshot, records_sent: int, config: AppConfig, report_path: Path, title: str
) -> dict[str, int | float | str]:
    """The summary line's fields, after writing the report of the run drawn from the same output."""
    fields = summary_fields(records_sent, final.counts)
    if config.sink_s3.format == "parquet":
        # Windows read back from the Parquet objects against the schema the config gives.
        fields["parquet_rows"] = len(final.windows)
    if config.inference is not None and config.inference.shadow is not None:
        fields.update(_rollout_counts(final.windows, config.inference.input))
    scores = score_fields(config)
    series = run_series(final.windows, final.dead_letters, config.records.key_fields, scores)
    write_report(report_path, series, title, f"demo: {format_fields(fields)}", scores)
    fields["report"] = str(
        report_path.relative_to(PROJECT_ROOT) if report_path.is_relative_to(PROJECT_ROOT) else report_path
    )
    return fields


def _watch_until_stopped(
    watch: OutputWatch,
    producer: TripProducer,
    job: subprocess.Popen[bytes],
    stop: threading.Event,
    duration_s: float,
    run_dir: Path,
) -> None:
    """Until ``duration_s`` passes (0: until Ctrl-C) or something fails: a status line every few
    seconds and each key's first window as it lands."""
    started = time.monotonic()
    deadline = started + duration_s if duration_s > 0 else None
    next_status = started + STATUS_EVERY_S
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        if job.poll() is not None:
            print(f"demo: the job exited with code {job.returncode}; see {run_dir / 'job.log'}", file=sys.stderr)
            return
        if producer.error is not None:
            print(f"demo: the producer failed: {producer.error}", file=sys.stderr)
            return
        if time.monotonic() >= next_status:
            snapshot = watch.read()
            for key, window in snapshot.first_windows:
                print(first_window_line(key, window))
            print(status_line(time.monotonic() - started, producer.sent, snapshot.counts), flush=True)
            next_status += STATUS_EVERY_S
        stop.wait(1.0)


def _start_kinesis(stack: ExitStack, emulator: str, region: str, run_dir: Path) -> str:
    """Start the named Kinesis emulator for the rest of the demo; its endpoint."""
    log = run_dir / f"{emulator}.log"
    if emulator == "kinesalite":
        return stack.enter_context(kinesalite_server(region, log_path=log)).endpoint
    return stack.enter_context(kinesis_mock_server(region, log_path=log)).endpoint


def inference_properties(kind: str, mode: str, model_url: str) -> dict[str, str]:
    """The ``inference`` group for the local model server (features of ``deploy.local.taxi``)."""
    features = "trip_distance,duration_seconds" if mode == "record" else "trip_distance_mean,duration_seconds_mean"
    group = {"input": mode, "type": kind, "features": features}
    if kind == "sagemaker":
        group.update({"endpoint.name": "fare-model", "content.type": "text/csv"})
    else:
        group.update({"url": f"{model_url}/predict", "content.type": "application/json", "auth": "none"})
    if mode == "record":
        group["label.field"] = "fare_amount"
    return group


def _print_where_output_lands(aws: LocalAws, config: AppConfig) -> None:
    print(f"demo: window records -> {config.sink_s3.location.uri}/dt=.../hour=.../ (on each checkpoint)")
    uris = [config.sink_s3.location.uri, config.dead_letter.location.uri]
    if config.delivery is not None:
        print(f"demo: window records -> {config.delivery.type} stream {config.delivery.stream_name}")
        if config.delivery.type == "firehose":
            uris.append(f"s3://{config.sink_s3.location.bucket}/{delivery_prefix(config).rstrip('/')}")
    print(f"demo: dead letters   -> {config.dead_letter.location.uri}/")
    print("\n".join(output_access_lines(aws.endpoint_for("s3"), aws.region, uris)), flush=True)


def _rollout_counts(windows: list[dict[str, Any]], mode: str) -> dict[str, int | float]:
    """How many variants answered, and what the shadow scored: records (windows in window mode) and its mae."""
    counts: dict[str, int | float] = {"variants": len({w.get("prediction_variant") for w in windows} - {None})}
    if mode == "window":
        counts["shadow_scored"] = sum(1 for w in windows if w.get("shadow_prediction") is not None)
        return counts
    scored = [w for w in windows if w.get("shadow_count")]
    counts["shadow_scored"] = sum(int(w["shadow_count"]) for w in scored)
    labelled = [w for w in scored if w.get("shadow_mae") is not None]
    weighted = sum(float(w["shadow_mae"]) * int(w["shadow_count"]) for w in labelled)
    labelled_count = sum(int(w["shadow_count"]) for w in labelled)
    counts["shadow_mae"] = round(weighted / labelled_count, 4) if labelled_count else float("nan")
    return counts


if __name__ == "__main__":
    sys.exit(main())
