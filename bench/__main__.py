"""``make bench``: the async stage alone, the whole job, memory; writes results.json and BENCHMARKS.md.

A benchmark never fails the build: a run that cannot be measured is recorded with its error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.end_to_end import EndToEndRun, measure_end_to_end
from bench.quiet_stream import measure_quiet_stream
from bench.report import update_benchmarks_md
from bench.stage import StageRun, measure_stage
from deploy.local.model_server import running_model_server
from deploy.local.stack import moto_server

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = Path(__file__).resolve().parent / "results.json"
RUN_DIR = PROJECT_ROOT / "build" / "bench"

LATENCIES_MS = (10, 50, 200)
BATCH_SIZES = (1, 10, 100)
CAPACITY = 100
MODEL_LATENCY_END_TO_END_MS = 10
# Records per request in record mode: each batch is one element of the Python stage.
RECORD_MODE_BATCH_SIZE = 100


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "os": platform.platform(),
        "python": platform.python_version(),
        "java": java[0] if java else "unknown",
        "apache-flink": version("apache-flink"),
        "aiohttp": version("aiohttp"),
        "botocore": version("botocore"),
        "moto": version("moto"),
    }


def run_stage_suite(
    quick: bool, latencies: tuple[int, ...] = LATENCIES_MS
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    warmup_s, measure_s = (2.0, 5.0) if quick else (4.0, 12.0)
    runs, baseline = [], {}
    with running_model_server(auth="none") as model:
        for latency in latencies:
            for batch in BATCH_SIZES:
                runs.append(
                    _attempt(measure_stage, model, StageRun(latency, batch, CAPACITY), RUN_DIR, warmup_s, measure_s)
                )
                print(
                    f"bench: async stage {latency} ms batch {batch}: {runs[-1].get('records_per_s')} records/s",
                    flush=True,
                )
            sync = _attempt(measure_stage, model, StageRun(latency, 1, 1, sync=True), RUN_DIR, warmup_s, measure_s)
            baseline[str(latency)] = sync
            print(f"bench: blocking map {latency} ms: {sync.get('records_per_s')} records/s", flush=True)
    return runs, baseline


def run_end_to_end_suite(quick: bool, record_mode_only: bool = False) -> dict[str, Any]:
    duration = 30.0 if quick else 70.0
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        aws = stack.enter_context(moto_server("us-east-1", RUN_DIR / "moto.log"))
        model = stack.enter_context(running_model_server(auth="iam"))
        model.set_faults(latency_ms=MODEL_LATENCY_END_TO_END_MS)
        index = 0

        def run(name: str, mode: str, source: str, rate: float, parallelism: int = 1) -> dict[str, Any]:
            nonlocal index
            index += 1
            batch = RECORD_MODE_BATCH_SIZE if mode == "record" else None
            spec = EndToEndRun(name, mode, source, rate, duration, parallelism, batch)
            outcome = _attempt(measure_end_to_end, aws, model, spec, RUN_DIR, index)
            print(f"bench: {name}: {outcome.get('records_per_s')} records/s", flush=True)
            return outcome

        if record_mode_only:
            results["record_ceiling"] = run("record_ceiling", "record", "generator", 0)
            return results
        results["window_ceiling"] = run("window_ceiling", "window", "generator", 0)
        results["window_ceiling_p2"] = run("window_ceiling_p2", "window", "generator", 0, parallelism=2)
        best = max(float(results[name].get("records_per_s") or 0) for name in ("window_ceiling", "window_ceiling_p2"))
        best_parallelism = 2 if results["window_ceiling_p2"].get("records_per_s", 0) == best else 1
        sustained_rate = max(1000.0, round(0.9 * best, -3))
        results["window_sustained"] = run(
            "window_sustained", "window", "generator", sustained_rate, parallelism=best_parallelism
        )
        results["record_ceiling"] = run("record_ceiling", "record", "generator", 0)
        results["window_kinesis"] = run("window_kinesis", "window", "kinesis", 2000)
        index += 1
        results["quiet_stream"] = _attempt(measure_quiet_stream, aws, RUN_DIR, index)
        print(f"bench: quiet_stream: last window after {results['quiet_stream'].get('last_window_ms')} ms", flush=True)
    return results


def _attempt(measure: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    try:
        result = measure(*args)
        return result
    except Exception as error:  # noqa: BLE001 - a benchmark records what went wrong and goes on
        traceback.print_exc()
        return {"error": f"{type(error).__name__}: {error}"}


def summarize(
    stage: list[dict[str, Any]], baseline: dict[str, Any], e2e: dict[str, Any], info: dict[str, Any]
) -> dict[str, Any]:
    sustained = e2e.get("window_sustained", {})
    peaks = [run.get("peak_rss_mb", 0) for run in e2e.values()]
    return {
        "machine": info,
        "async": stage,
        "sync_baseline_records_per_s": {latency: run.get("records_per_s", 0) for latency, run in baseline.items()},
        "sync_baseline": baseline,
        "end_to_end": {
            "generator_source": {
                "window_mode_records_per_s": max(
                    e2e.get("window_ceiling", {}).get("records_per_s", 0),
                    e2e.get("window_ceiling_p2", {}).get("records_per_s", 0),
                ),
                "window_mode_parallelism_1_records_per_s": e2e.get("window_ceiling", {}).get("records_per_s", 0),
                "window_mode_parallelism_2_records_per_s": e2e.get("window_ceiling_p2", {}).get("records_per_s", 0),
                "window_mode_sustained_records_per_s": sustained.get("records_per_s", 0),
                "record_mode_records_per_s": e2e.get("record_ceiling", {}).get("records_per_s", 0),
                "record_mode_model_latency_ms": MODEL_LATENCY_END_TO_END_MS,
                "record_mode_batch_size": e2e.get("record_ceiling", {}).get("batch_size", 0),
            },
            "kinesis_emulator": {
                "window_mode_records_per_s": e2e.get("window_kinesis", {}).get("records_per_s", 0),
                "producer_records_per_s": e2e.get("window_kinesis", {}).get("producer_records_per_s", 0),
                "emulator": f"moto {info['moto']} (emulator-bound)",
            },
            "quiet_stream": {
                key: e2e.get("quiet_stream", {}).get(key, 0)
                for key in ("last_window_ms", "bound_ms", "close_when_idle_ms")
            },
            "delivery_latency_ms": {k: sustained.get("delivery_latency_ms", {}).get(k, 0) for k in ("p50", "p99")},
            "s3_latency_ms": {k: sustained.get("s3_latency_ms", {}).get(k, 0) for k in ("p50", "p99")},
            "runs": e2e,
        },
        "peak_rss_mb": max(peaks) if peaks else 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, for trying the harness")
    parser.add_argument(
        "--only",
        choices=("stage", "end-to-end", "record-mode"),
        help="run one part (record-mode: the record-mode run of the job alone) and keep the others' last results",
    )
    parser.add_argument(
        "--latencies", help="stage only at these endpoint latencies (ms, comma-separated); the others' results kept"
    )
    args = parser.parse_args(argv)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS_PATH.read_text()) if RESULTS_PATH.is_file() else {}

    info = machine()
    stage, baseline = previous.get("async", []), previous.get("sync_baseline", {})
    if args.only in (None, "stage"):
        latencies = tuple(int(v) for v in args.latencies.split(",")) if args.latencies else LATENCIES_MS
        measured, measured_baseline = run_stage_suite(args.quick, latencies)
        stage = [run for run in stage if run.get("latency_ms") not in latencies] + measured
        stage.sort(key=lambda run: (run.get("latency_ms", 0), run.get("batch_size", 0)))
        baseline = {**baseline, **measured_baseline}
    e2e = previous.get("end_to_end", {}).get("runs", {})
    if args.only in (None, "end-to-end", "record-mode"):
        e2e = {**e2e, **run_end_to_end_suite(args.quick, record_mode_only=args.only == "record-mode")}
    results = summarize(stage, baseline, e2e, info)
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    update_benchmarks_md(PROJECT_ROOT / "BENCHMARKS.md", results)
    print(f"bench: wrote {RESULTS_PATH.relative_to(PROJECT_ROOT)} and BENCHMARKS.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
