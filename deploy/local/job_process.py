"""Run the job as a local process (a mini cluster with the dashboard) and stop it cleanly, or with a savepoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deploy.local.stack import LocalAws, wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Local runs start PyFlink's Python workers inside the job's own process (loopback); with this in
# the job's environment each is a process of its own, as on a cluster and on Managed Flink.
PROCESS_WORKERS = {"_python_worker_execution_mode": "process"}


class JobFailedError(RuntimeError):
    """The job process ended while it was expected to run."""


class SavepointError(RuntimeError):
    """Stopping the job with a savepoint failed; the message holds the cluster's reason."""


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
    jobs = rest_json(rest_port, "/jobs/overview")["jobs"]
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


def rest_json(rest_port: int, path: str, body: dict[str, Any] | None = None) -> Any:
    """GET ``path`` of the local cluster's REST API, or POST ``body`` to it; the JSON answer."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        f"http://localhost:{rest_port}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def job_id(rest_port: int) -> str:
    """The id of the local cluster's job (a local run has exactly one)."""
    (job,) = rest_json(rest_port, "/jobs/overview")["jobs"]
    return str(job["jid"])


def stop_with_savepoint(job: subprocess.Popen[bytes], rest_port: int, target_dir: Path, timeout_s: float = 120) -> Path:
    """Stop the job with a savepoint in ``target_dir`` (no drain: open windows stay in the state).

    Waits until the savepoint is complete and the job process has ended; returns the savepoint's
    directory, for ``job/main.py --from-savepoint``.
    """
    jid = job_id(rest_port)
    request = {"targetDirectory": target_dir.resolve().as_uri(), "drain": False}
    trigger = rest_json(rest_port, f"/jobs/{jid}/stop", request)["request-id"]
    operation: dict[str, Any] = {}

    def savepoint_done() -> bool:
        if job.poll() is not None:
            return True  # the cluster is gone with its REST API; the savepoint is on disk
        answer = rest_json(rest_port, f"/jobs/{jid}/savepoints/{trigger}")
        if answer["status"]["id"] != "COMPLETED":
            return False
        operation.update(answer["operation"])
        return True

    wait_until(savepoint_done, timeout_s, "the savepoint to complete")
    if "failure-cause" in operation:
        cause = operation["failure-cause"]
        raise SavepointError(f"stop with savepoint failed: {cause.get('stack-trace', cause)}")
    try:
        code = job.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise SavepointError(f"the job process did not end within {timeout_s:.0f} s of its savepoint") from None
    if code != 0:
        raise SavepointError(f"the job process exited with code {code} after stop with savepoint")
    if "location" in operation:
        return Path(urllib.parse.urlparse(operation["location"]).path)
    # The process ended before the trigger's answer was read: the savepoint is the one in the directory.
    (metadata,) = target_dir.glob("savepoint-*/_metadata")
    return metadata.parent
