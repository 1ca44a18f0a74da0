"""Run the job as a local process (a mini cluster with the dashboard) and stop it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.local.stack import LocalAws, wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class JobFailedError(RuntimeError):
    """The job process ended while it was expected to run."""


@contextmanager
def running_job(
    aws: LocalAws,
    properties: Path,
    log_path: Path,
    rest_port: int,
    extra_args: tuple[str, ...] = (),
    startup_timeout_s: float = 180,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
    application_root: Path = PROJECT_ROOT,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``job/main.py --properties``; yield once the job is RUNNING; stop it on exit.

    ``python`` and ``application_root`` run another copy of the job, such as the unzipped
    application. The job gets its own process group, so its JVM and Python workers stop with it.
    """
    command = [
        python,
        str(application_root / "job" / "main.py"),
        "--properties",
        str(properties),
        "--rest-port",
        str(rest_port),
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        job = subprocess.Popen(
            command,
            env={**aws.job_environment(), **(env or {})},
            cwd=application_root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(lambda: job_state(job, rest_port, log_path) == "RUNNING", startup_timeout_s, "job RUNNING")
            yield job
        finally:
            stop_process_group(job)


def job_state(job: subprocess.Popen[bytes], rest_port: int, log_path: Path) -> str | None:
    """The state of the job on the local cluster's REST API; raises if the process has ended."""
    if job.poll() is not None:
        raise JobFailedError(f"the job exited with code {job.returncode}; see {log_path}")
    with urllib.request.urlopen(f"http://localhost:{rest_port}/jobs/overview", timeout=2) as response:
        jobs = json.load(response)["jobs"]
    return str(jobs[0]["state"]) if jobs else None


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
