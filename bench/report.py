"""The measured part of BENCHMARKS.md, rewritten from results.json between two markers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN = "<!-- results:begin (written by make bench) -->"
END = "<!-- results:end -->"


def update_benchmarks_md(path: Path, results: dict[str, Any]) -> None:
    text = path.read_text(encoding="utf-8") if path.is_file() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{render(results)}{END}{tail}", encoding="utf-8")


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    info = results["machine"]
    lines += [
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), {info['memory_gb']} GiB, "
        f"Python {info['python']}, {info['java']}, apache-flink {info['apache-flink']}, "
        f"aiohttp {info['aiohttp']}, botocore {info['botocore']}, moto {info['moto']}.",
        "",
        "### The async stage alone (parallelism 1, capacity 100 requests)",
        "",
        "| endpoint latency | batch size | records/s | Little's-law bound | efficiency | requests/s "
        "| CPU ms / 1000 records (JVM, Python worker, endpoint) | cores busy |",
        "|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for run in results["async"]:
        if "error" in run:
            lines.append(f"| | | error: {run['error']} | | | | | |")
            continue
        cpu = run["cpu_ms_per_1000_records"]
        lines.append(
            f"| {run['latency_ms']:g} ms | {run['batch_size']} | {run['records_per_s']:,.0f} "
            f"| {run['bound_records_per_s']:,.0f} | {run['efficiency']:.0%} | {run['requests_per_s']:,.0f} "
            f"| {cpu.get('jvm', 0):,.0f}, {cpu.get('python-worker', 0):,.0f}, {cpu.get('endpoint', 0):,.0f} "
            f"| {run['cpu_cores_busy']} |"
        )
    lines += [
        "",
        "Blocking map, one request per record (the synchronous baseline, same run):",
        "",
        "| endpoint latency | records/s | bound (1 / latency) | efficiency |",
        "|---:|---:|---:|---:|",
    ]
    for latency, run in results["sync_baseline"].items():
        if "error" in run:
            lines.append(f"| {latency} ms | error: {run['error']} | | |")
            continue
        lines.append(
            f"| {latency} ms | {run['records_per_s']:,.1f} | {run['bound_records_per_s']:,.0f} "
            f"| {run['efficiency']:.0%} |"
        )
    e2e = results["end_to_end"]
    lines += [
        "",
        "### The whole job (window 10 s, checkpoint every 5 s, Firehose delivery and S3 on moto)",
        "",
        "| run | source, parallelism | offered records/s | records/s (median over whole windows) | windows "
        "| delivery latency p50 / p99 | S3 latency p50 / p99 | CPU µs / record | cores busy | peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    runs = {name: run for name, run in e2e["runs"].items() if name != "quiet_stream"}
    for name, run in runs.items():
        if "error" in run:
            lines.append(f"| {name} | error: {run['error']} | | | | | | | | |")
            continue
        cpu_per_record = sum(run.get("cpu_us_per_record", {}).values())
        offered = run["offered_records_per_s"]
        offered_text = f"{offered:,.0f}" if isinstance(offered, int | float) else str(offered)
        delivery, s3 = run["delivery_latency_ms"], run["s3_latency_ms"]
        lines.append(
            f"| {name} | {run['source']}, {run.get('parallelism', 1)} | {offered_text} "
            f"| {run['records_per_s']:,} | {run['whole_windows']} "
            f"| {delivery['p50']:,.0f} / {delivery['p99']:,.0f} ms | {s3['p50']:,.0f} / {s3['p99']:,.0f} ms "
            f"| {cpu_per_record:,.1f} | {run.get('cpu_cores_busy', 0)} | {run['peak_rss_mb']:,} MB |"
        )
    quiet = e2e["runs"].get("quiet_stream", {})
    if "error" in quiet:
        lines += ["", f"Quiet stream: error: {quiet['error']}"]
    elif quiet:
        lines += [
            "",
            f"Quiet stream (trips for a while, then none; close.when.idle.ms {quiet['close_when_idle_ms']:,}): "
            f"the last window reached S3 {quiet['s3_ms']:,} ms and the delivery stream {quiet['delivery_ms']:,} ms "
            f"after the last record; bound (window + close.when.idle.ms + checkpoint) {quiet['bound_ms']:,} ms.",
        ]
    lines += [
        "",
        "Where the time went (busy / backpressured ms per second, max over subtasks, two thirds into each run):",
        "",
    ]
    for name, run in runs.items():
        operators = run.get("operators") or []
        if not operators:
            continue
        parts = [
            f"{op['name'][:60]}: {op['busyTimeMsPerSecond']} / {op['backPressuredTimeMsPerSecond']}" for op in operators
        ]
        lines.append(f"- {name}: " + "; ".join(parts))
    peaks = {name: run.get("peak_rss_mb_by_process", {}) for name, run in runs.items()}
    lines += ["", f"Peak resident memory of the job's processes: {results['peak_rss_mb']:,} MB in all."]
    for name, by_kind in peaks.items():
        if by_kind:
            lines.append(f"- {name}: " + ", ".join(f"{kind} {mb:,} MB" for kind, mb in by_kind.items()))
    return "\n".join(lines) + "\n"
