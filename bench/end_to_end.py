"""The whole job on the local stack: its ceiling, a sustained rate, and how late windows arrive.

The rate is read off the output: a window's ``count`` over all keys, divided by the window size,
is how many records per second entered the job while that window was open (records are
stamped on entry, by the Kinesis source or the in-job generator).  Latency is the time from a
window's end to the moment its record is first seen in the delivery stream's objects and in S3.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.measure import MemorySampler, cpu_by_kind, percentile, running_job_id, vertex_metrics
from config import AppConfig, build_config, load_property_groups, write_property_groups
from deploy.local.demo import DEFAULT_PROPERTIES, inference_properties
from deploy.local.job_process import PROCESS_WORKERS, running_job
from deploy.local.model_server import ModelServerHandle
from deploy.local.producer import TripProducer
from deploy.local.stack import LocalAws, create_resources, delivery_prefix, free_port

POLL_INTERVAL_S = 0.25


@dataclass(frozen=True)
class EndToEndRun:
    name: str
    mode: str  # window | record
    source: str  # generator | kinesis
    rate: float  # records/s offered; 0 = as fast as the job takes them (generator only)
    duration_s: float
    parallelism: int = 1
    batch_size: int | None = None  # inference.batch.size in record mode; None: the job's default


@dataclass
class _Seen:
    """Window records by window_id, with the wall time each was first seen."""

    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen_at: dict[str, float] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)


class OutputWatcher(threading.Thread):
    """Polls the S3 windows prefix and the Firehose delivery prefix; notes when each window appears."""

    def __init__(self, aws: LocalAws, config: AppConfig) -> None:
        super().__init__(name="output-watcher", daemon=True)
        self._s3 = aws.client("s3")
        self._bucket = config.sink_s3.location.bucket
        self._prefixes = {"s3": config.sink_s3.location.key_prefix, "delivery": delivery_prefix(config)}
        self.seen = {name: _Seen() for name in self._prefixes}
        self._stop_event = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            while not self._stop_event.is_set():
                self.poll()
                self._stop_event.wait(POLL_INTERVAL_S)
        except Exception as error:  # noqa: BLE001 - reported by the caller
            self.error = error

    def poll(self) -> None:
        for name, prefix in self._prefixes.items():
            seen = self.seen[name]
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if key in seen.keys or (name == "s3" and key.startswith(self._prefixes["delivery"])):
                        continue
                    now = time.time()
                    seen.keys.add(key)
                    body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read().decode("utf-8")
                    for line in body.splitlines():
                        if line.strip():
                            window = json.loads(line)
                            seen.windows.setdefault(window["window_id"], window)
                            seen.seen_at.setdefault(window["window_id"], now)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.poll()


def _epoch_s(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def bench_groups(name: str, index: int) -> dict[str, dict[str, str]]:
    """The demo's property groups with a run's own stream, bucket and delivery stream."""
    groups = load_property_groups(DEFAULT_PROPERTIES)
    bucket = f"bench-{index}-{name.replace('_', '-')}"
    groups["sink.s3"]["path"] = f"s3://{bucket}/windows"
    groups["sink.dlq"]["path"] = f"s3://{bucket}/dead-letters"
    groups["sink.delivery"]["stream.name"] = f"{bucket}-delivery"
    arn = groups["kinesis.source"]["stream.arn"]
    groups["kinesis.source"]["stream.arn"] = f"{arn.rsplit('/', 1)[0]}/{bucket}-in"
    return groups


def measure_end_to_end(
    aws: LocalAws,
    model: ModelServerHandle | None,
    run: EndToEndRun,
    run_dir: Path,
    index: int,
) -> dict[str, Any]:
    groups = bench_groups(run.name, index)
    extra_env: dict[str, str] = dict(PROCESS_WORKERS)
    if run.mode == "record":
        assert model is not None
        groups["inference"] = inference_properties("sagemaker", "record", model.url)
        if run.batch_size is not None:
            groups["inference"]["batch.size"] = str(run.batch_size)
        extra_env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = model.url
    properties = run_dir / f"{run.name}.properties.json"
    write_property_groups(properties, groups)
    config = build_config(groups, {"AWS_ENDPOINT_URL": aws.endpoint, **extra_env})
    create_resources(aws, config)
    window_s = config.window.size_seconds

    extra_args: tuple[str, ...] = ()
    if run.source == "generator":
        extra_args = ("--generator-rate", f"{run.rate:g}")
    extra_args += ("--parallelism", str(run.parallelism))
    port = free_port()
    watcher = OutputWatcher(aws, config)
    producer: TripProducer | None = None
    with running_job(aws, properties, run_dir / f"{run.name}.log", port, extra_args, env=extra_env) as job:
        memory = MemorySampler(job.pid)
        memory.start()
        cpu_start = cpu_by_kind(job.pid)
        watcher.start()
        started = time.time()
        if run.source == "kinesis":
            producer = TripProducer(aws.client("kinesis"), config.source.stream_name, run.rate, 0.01)
            producer.start()
        job_id = running_job_id(port)
        time.sleep(run.duration_s * 2 / 3)
        busy = vertex_metrics(port, job_id) if job_id else []
        time.sleep(run.duration_s / 3)
        if producer is not None:
            producer.stop()
        stopped = time.time()
        cpu_end = cpu_by_kind(job.pid)
        memory.stop()
    watcher.stop()
    if watcher.error is not None:
        raise watcher.error

    s3, delivery = watcher.seen["s3"], watcher.seen["delivery"]
    # Whole windows only: opened after the first record and closed before the job stopped.
    totals: dict[float, int] = {}
    for window in s3.windows.values():
        start = _epoch_s(window["window_start"])
        totals[start] = totals.get(start, 0) + int(window["count"])
    whole = sorted(start for start in totals if start >= started and start + window_s <= stopped - 1)
    rates = [totals[start] / window_s for start in whole]

    def latencies(seen: _Seen) -> list[float]:
        return [
            (seen.seen_at[window_id] - _epoch_s(window["window_end"])) * 1000.0
            for window_id, window in seen.windows.items()
            if _epoch_s(window["window_start"]) in whole
        ]

    delivery_ms, s3_ms = latencies(delivery), latencies(s3)
    # Records that entered while the job ran, against the CPU its processes used meanwhile.
    counted = sum(int(w["count"]) for w in s3.windows.values() if started <= _epoch_s(w["window_start"]) < stopped)
    cpu = {kind: cpu_end.get(kind, 0.0) - cpu_start.get(kind, 0.0) for kind in cpu_end}
    result: dict[str, Any] = {
        "mode": run.mode,
        "source": run.source,
        "parallelism": run.parallelism,
        "offered_records_per_s": run.rate or "unlimited",
        "batch_size": run.batch_size,
        "records_per_s": round(statistics.median(rates)) if rates else 0,
        "records_per_s_by_window": [round(rate) for rate in rates],
        "whole_windows": len(whole),
        "delivery_latency_ms": _spread(delivery_ms),
        "s3_latency_ms": _spread(s3_ms),
        "cpu_us_per_record": {kind: round(1e6 * seconds / max(counted, 1), 2) for kind, seconds in cpu.items()},
        "cpu_cores_busy": round(sum(cpu.values()) / (stopped - started), 2),
        "peak_rss_mb": round(memory.peak_total_mb),
        "peak_rss_mb_by_process": {kind: round(mb) for kind, mb in sorted(memory.peak_by_kind_mb.items())},
        "operators": busy,
    }
    if producer is not None:
        result["producer_records_per_s"] = round(producer.sent / (stopped - started))
    return result


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0, "windows": 0}
    return {
        "p50": round(percentile(values, 0.50)),
        "p99": round(percentile(values, 0.99)),
        "max": round(max(values)),
        "windows": len(values),
    }
