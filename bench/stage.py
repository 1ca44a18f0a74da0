"""The async inference stage alone, against the local model server at a fixed latency."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import cpu_by_kind, own_cpu_s, running_job_id
from deploy.local.job_process import PROCESS_WORKERS, stop_process_group
from deploy.local.model_server import ModelServerHandle
from deploy.local.stack import LOCAL_CREDENTIALS, flink_free_environment, free_port
from deploy.local.testing import wait_until

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StageRun:
    latency_ms: float
    batch_size: int
    capacity: int
    sync: bool = False

    @property
    def bound_records_per_s(self) -> float:
        """Little's law: records in flight / time each stays; one at a time for the blocking map."""
        in_flight = 1 if self.sync else self.capacity * self.batch_size
        return in_flight / (self.latency_ms / 1000.0)


def job_environment() -> dict[str, str]:
    """Python workers as processes, as on a cluster, so their CPU and memory are measured apart."""
    return {**flink_free_environment(), **LOCAL_CREDENTIALS, **PROCESS_WORKERS}


def measure_stage(
    model: ModelServerHandle, run: StageRun, log_dir: Path, warmup_s: float, measure_s: float
) -> dict[str, Any]:
    """Run the stage job, let it warm up, and count the instances the endpoint scores."""
    model.set_faults(latency_ms=run.latency_ms)
    rest_port = free_port()
    command = [
        sys.executable,
        "-m",
        "bench.stage_job",
        "--url",
        f"{model.url}/predict",
        "--batch-size",
        str(run.batch_size),
        "--capacity",
        str(run.capacity),
        "--rest-port",
        str(rest_port),
        *(["--sync"] if run.sync else []),
    ]
    name = f"stage-{'sync' if run.sync else 'async'}-{run.latency_ms:g}ms-b{run.batch_size}"
    with open(log_dir / f"{name}.log", "wb") as log:
        job = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=job_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            # Count only this job's requests: start from zero once it runs (the previous run's
            # last requests may still have been answered after it was stopped).
            wait_until(lambda: _alive(job) and running_job_id(rest_port), 180, f"{name} to run")
            model.reset_stats()
            wait_until(lambda: _alive(job) and model.stats().instances > 0, 180, f"{name} to score")
            time.sleep(warmup_s)
            instances_0, cpu_0, own_0, t_0 = (
                model.stats().instances,
                cpu_by_kind(job.pid),
                own_cpu_s(),
                time.monotonic(),
            )
            time.sleep(measure_s)
            stats = model.stats()
            instances_1, cpu_1, own_1, t_1 = stats.instances, cpu_by_kind(job.pid), own_cpu_s(), time.monotonic()
        finally:
            stop_process_group(job)
    failed = sum(count for status, count in stats.by_status.items() if status != 200)
    scored = instances_1 - instances_0
    rate = scored / (t_1 - t_0)
    cpu = {kind: cpu_1.get(kind, 0.0) - cpu_0.get(kind, 0.0) for kind in cpu_1}
    cpu["endpoint"] = own_1 - own_0
    return {
        "latency_ms": run.latency_ms,
        "capacity": run.capacity,
        "batch_size": run.batch_size,
        "records_per_s": round(rate, 1),
        "bound_records_per_s": round(run.bound_records_per_s, 1),
        "efficiency": round(rate / run.bound_records_per_s, 3),
        "requests_per_s": round(scored / run.batch_size / (t_1 - t_0), 1),
        "failed_requests": failed,
        "cpu_ms_per_1000_records": {kind: round(1e6 * seconds / max(scored, 1), 1) for kind, seconds in cpu.items()},
        "cpu_cores_busy": round(sum(cpu.values()) / (t_1 - t_0), 2),
    }


def _alive(job: subprocess.Popen[bytes]) -> bool:
    if job.poll() is not None:
        raise RuntimeError(f"the stage job exited with code {job.returncode}")
    return True
