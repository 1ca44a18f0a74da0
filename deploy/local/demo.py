"""``make demo``: the whole pipeline on this machine.

Starts moto server (or uses the endpoint in ``AWS_ENDPOINT_URL``, e.g. LocalStack), creates
the stream, buckets and delivery stream, runs the job on a local Flink mini cluster with
the dashboard, feeds it taxi trips, and ends with one summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from config import AppConfig, build_config, load_property_groups, write_property_groups
from deploy.local.job_process import running_job
from deploy.local.model_server import DEFAULT_SHADOW_ENDPOINT_NAME, rollout_endpoints, running_model_server
from deploy.local.producer import TripProducer
from deploy.local.stack import LocalAws, create_resources, delivery_prefix, moto_server
from deploy.local.testing import read_lines, read_stream

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PROPERTIES = Path(__file__).with_name("demo.properties.json")
RUN_DIR = PROJECT_ROOT / "build" / "demo"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=0, help="seconds to run; 0 runs until Ctrl-C")
    parser.add_argument("--rate", type=float, default=200, help="trips per second into Kinesis")
    parser.add_argument("--malformed-rate", type=float, default=0.01, help="share of broken records")
    parser.add_argument("--properties", type=Path, default=DEFAULT_PROPERTIES)
    parser.add_argument("--rest-port", type=int, default=8081)
    parser.add_argument("--inference", choices=("none", "sagemaker", "apigateway"), default="none")
    parser.add_argument("--mode", choices=("window", "record"), default="window", help="what inference scores")
    parser.add_argument(
        "--shadow", type=int, choices=(0, 1), default=0, help="1: a model rollout, two variants and a shadow endpoint"
    )
    args = parser.parse_args(argv)

    RUN_DIR.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    with ExitStack() as stack:
        external = os.environ.get("AWS_ENDPOINT_URL")
        region = os.environ.get("AWS_REGION", "us-east-1")
        aws = LocalAws(external, region) if external else stack.enter_context(moto_server(region, RUN_DIR / "moto.log"))
        groups = load_property_groups(args.properties)
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
        properties = RUN_DIR / "application_properties.json"
        write_property_groups(properties, groups)
        config = build_config(groups, {"AWS_ENDPOINT_URL": aws.endpoint, **extra_env})
        create_resources(aws, config)
        print(f"demo: local AWS endpoint {aws.endpoint} (Kinesis, Firehose, S3)", flush=True)

        print("demo: starting the job on a local Flink mini cluster ...", flush=True)
        job = stack.enter_context(running_job(aws, properties, RUN_DIR / "job.log", args.rest_port, env=extra_env))
        print(f"demo: Flink dashboard at http://localhost:{args.rest_port} (job RUNNING)", flush=True)

        producer = TripProducer(aws.client("kinesis"), config.source.stream_name, args.rate, args.malformed_rate)
        producer.start()
        print(f"demo: sending {args.rate:g} trips/s to stream {config.source.stream_name}", flush=True)
        _print_where_output_lands(config)
        deadline = time.monotonic() + args.duration if args.duration > 0 else None
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            if job.poll() is not None:
                print(f"demo: the job exited with code {job.returncode}; see {RUN_DIR / 'job.log'}", file=sys.stderr)
                break
            if producer.error is not None:
                print(f"demo: the producer failed: {producer.error}", file=sys.stderr)
                break
            stop.wait(1.0)
        producer.stop()
        counts = _count_outputs(aws, config, producer.sent)
    summary = " ".join(
        f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}" for name, value in counts.items()
    )
    print(f"demo: {summary}", flush=True)
    required = ["records_in", "windows_out", "s3_objects", "delivery_records"]
    if args.inference != "none":
        required.append("predictions")
    if args.inference != "none" and args.shadow:
        required.append("shadow_scored")
    return 0 if all(counts[name] > 0 for name in required) else 1


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


def _print_where_output_lands(config: AppConfig) -> None:
    print(f"demo: window records -> {config.sink_s3.location.uri}/dt=.../hour=.../ (on each checkpoint)")
    if config.delivery is not None:
        print(f"demo: window records -> {config.delivery.type} stream {config.delivery.stream_name}")
    print(f"demo: dead letters   -> {config.dead_letter.location.uri}/", flush=True)


def _count_outputs(aws: LocalAws, config: AppConfig, records_in: int) -> dict[str, int | float]:
    s3_location = config.sink_s3.location
    s3_objects, window_lines = read_lines(aws, s3_location.bucket, s3_location.key_prefix)
    _, dead_lines = read_lines(aws, config.dead_letter.location.bucket, config.dead_letter.location.key_prefix)
    delivery = 0
    if config.delivery is not None and config.delivery.type == "firehose":
        delivery = len(read_lines(aws, s3_location.bucket, delivery_prefix(config))[1])
    elif config.delivery is not None:
        delivery = len(read_stream(aws, config.delivery.stream_name))
    counts: dict[str, int | float] = {
        "records_in": records_in,
        "windows_out": len(window_lines),
        "s3_objects": s3_objects,
        "delivery_records": delivery,
        "dlq": len(dead_lines),
    }
    inference = config.inference
    if inference is not None:
        windows = [json.loads(line) for line in window_lines]
        if inference.input == "window":
            counts["predictions"] = sum(1 for w in windows if inference.prediction_field in w)
        else:
            counts["predictions"] = sum(int(w["count"]) for w in windows)
            if inference.label_field and counts["predictions"]:
                weighted = sum(float(w["mae"]) * int(w["count"]) for w in windows)
                counts["mae"] = round(weighted / int(counts["predictions"]), 4)
        if inference.shadow is not None:
            counts.update(_rollout_counts(windows, inference.input))
    return counts


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
