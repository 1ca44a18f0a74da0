"""``make demo`` without a duration, stopped by Ctrl-C as a terminal sends it (SIGINT to the whole
process group): it has shown status lines and a first window, then prints the summary line and
writes the report before everything stops."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from deploy.local.job_process import PROJECT_ROOT
from deploy.local.stack import free_port

SUMMARY = re.compile(
    r"demo: records_in=(\d+) windows_out=(\d+) s3_objects=(\d+) delivery_records=(\d+) dlq=(\d+) report=(\S+)"
)
STATUS = re.compile(r"demo: \[ *\d+s\] sent=\d+ windows_in_s3=(\d+) ")


def next_line(lines: queue.Queue[str | None], deadline: float) -> str | None:
    return lines.get(timeout=max(0.0, deadline - time.monotonic()))


def test_ctrl_c_prints_the_summary_line_and_writes_the_report(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    # PyFlink starts its workers with the `python` on PATH, as `make` arranges.
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    command = [sys.executable, "-m", "deploy.local.demo", "--rate", "50", "--rest-port", str(free_port())]
    demo = subprocess.Popen(
        [*command, "--run-dir", str(tmp_path)],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 300
        windows_seen = 0
        while windows_seen == 0:
            line = next_line(lines, deadline)
            assert line is not None, "\n".join(seen)
            seen.append(line)
            if match := STATUS.match(line):
                windows_seen = int(match.group(1))
        os.killpg(demo.pid, signal.SIGINT)
        deadline = time.monotonic() + 120
        while (line := next_line(lines, deadline)) is not None:
            seen.append(line)
        assert demo.wait(timeout=60) == 0, "\n".join(seen)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()

    assert any(line.startswith("demo: first window of vendor_id=") for line in seen)
    assert any(line.startswith("demo:   aws --endpoint-url http://127.0.0.1:") for line in seen)
    summary = SUMMARY.fullmatch(seen[-1])
    assert summary is not None, "\n".join(seen[-5:])
    assert int(summary.group(2)) >= windows_seen
    report = Path(summary.group(6))
    assert report == tmp_path / "report.html"
    assert report.read_text().count("Plotly.newPlot(") == 2
