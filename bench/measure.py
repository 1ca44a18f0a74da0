"""What the benchmark reads off running processes: CPU time, resident memory, Flink's REST metrics."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    kind: str  # jvm | python-worker | job-client
    cpu_s: float
    rss_mb: float


def process_group(pgid: int) -> list[ProcessSample]:
    """The live processes of a process group (a job started in its own session), classified."""
    samples = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        statm = _read(f"/proc/{entry}/statm")
        cmdline = _read(f"/proc/{entry}/cmdline")
        if stat is None or statm is None or cmdline is None:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) != pgid or fields[0] == "Z":
            continue
        comm = stat.split("(", 1)[1].rsplit(")", 1)[0]
        if comm == "java":
            kind = "jvm"
        elif "beam_boot" in cmdline or "fn_execution" in cmdline:
            kind = "python-worker"
        elif "python" in comm or "python" in cmdline.split("\0", 1)[0]:
            kind = "job-client"
        else:
            continue  # the worker's shell wrapper and log tee
        cpu_s = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        rss_mb = int(statm.split()[1]) * _PAGE_KB / 1024
        samples.append(ProcessSample(int(entry), kind, cpu_s, rss_mb))
    return samples


def cpu_by_kind(pgid: int) -> dict[str, float]:
    totals: dict[str, float] = {}
    for sample in process_group(pgid):
        totals[sample.kind] = totals.get(sample.kind, 0.0) + sample.cpu_s
    return totals


def own_cpu_s() -> float:
    """CPU time of this process (the benchmark's thread running the local model server)."""
    times = os.times()
    return times.user + times.system


class MemorySampler(threading.Thread):
    """Samples the resident memory of a process group until stopped; keeps the peaks."""

    def __init__(self, pgid: int, interval_s: float = 0.5) -> None:
        super().__init__(name="memory-sampler", daemon=True)
        self.pgid = pgid
        self.interval_s = interval_s
        self.peak_total_mb = 0.0
        self.peak_by_kind_mb: dict[str, float] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval_s)

    def sample(self) -> None:
        samples = process_group(self.pgid)
        self.peak_total_mb = max(self.peak_total_mb, sum(s.rss_mb for s in samples))
        by_kind: dict[str, float] = {}
        for s in samples:
            by_kind[s.kind] = by_kind.get(s.kind, 0.0) + s.rss_mb
        for kind, mb in by_kind.items():
            self.peak_by_kind_mb[kind] = max(self.peak_by_kind_mb.get(kind, 0.0), mb)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def rest_json(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://localhost:{port}{path}", timeout=5) as response:
        return json.load(response)


def running_job_id(port: int) -> str | None:
    jobs = rest_json(port, "/jobs/overview")["jobs"]
    running = [job["jid"] for job in jobs if job["state"] == "RUNNING"]
    return running[0] if running else None


VERTEX_METRICS = ("busyTimeMsPerSecond", "backPressuredTimeMsPerSecond", "idleTimeMsPerSecond")


def vertex_metrics(port: int, job_id: str) -> list[dict[str, Any]]:
    """Per operator chain: name, and busy / backpressured / idle ms per second (max over subtasks)."""
    vertices = rest_json(port, f"/jobs/{job_id}")["vertices"]
    result = []
    for vertex in vertices:
        metrics = rest_json(
            port, f"/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics?get={','.join(VERTEX_METRICS)}&agg=max"
        )
        values = {m["id"]: round(float(m.get("max", 0.0))) for m in metrics}
        result.append({"name": vertex["name"][:120], **{name: values.get(name, 0) for name in VERTEX_METRICS}})
    return result


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]
