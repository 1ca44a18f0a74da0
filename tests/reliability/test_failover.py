"""Failover: the job's Python worker is killed while records flow; the job restarts from its last
checkpoint and must still account for every record exactly once in S3.

The job runs with the inference stage, whose Python worker is the one to kill: in record mode every
record passes it, in window mode every window. The Python workers run as processes of their own, as
on a cluster. SIGKILL on the worker fails the task once the operator next needs the worker: at the
next record or the next checkpoint of an open bundle (a worker that died idle goes unnoticed until a
record comes, so records keep coming until the job has recovered). Flink restarts the job
from the last completed checkpoint, the Kinesis source reads again from the checkpointed positions,
and the S3 file sinks, which commit on checkpoints only, drop what they had written since. The
delivery stream is at least once: windows emitted between that checkpoint and the failure are
delivered again after the restart, with the same ``window_id``, the key to drop them by.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from deploy.local.stack import LocalAws, free_port
from deploy.local.testing import settled, wait_until
from tests.reliability.conftest import CaseFigures
from tests.reliability.support import (
    case_run,
    job_health,
    kill_python_worker,
    last_failure,
    python_worker_pids,
    restored_checkpoint,
    wait_for_accounting,
    wait_for_checkpoint,
    wait_for_restarts,
)

RATE = 100
KILLS = 3
# Committed ids between kills, so every kill restores a later checkpoint with more state.
PROGRESS_PER_KILL = 600


def kill_and_wait_for_recovery(job: Any, rest_port: int) -> dict[str, Any]:
    """Kill the worker; wait until the job restarted (restored a checkpoint, or the restart metric moved),
    runs again with a new worker, and completed a checkpoint since. Returns what happened."""
    before = job_health(rest_port)
    killed = kill_python_worker(job)
    started = time.monotonic()
    wait_until(
        lambda: (
            ((h := job_health(rest_port)).restores > before.restores or h.restarts > before.restarts)
            and h.state == "RUNNING"
        ),
        120,
        f"the job to restart (before the kill: {before})",
    )
    wait_until(lambda: python_worker_pids(job) not in ([], [killed]), 120, "a new Python worker")
    health = wait_for_checkpoint(rest_port, job_health(rest_port).completed_checkpoints, 120)
    restored = restored_checkpoint(rest_port)
    return {
        "killed_pid": killed,
        "committed_checkpoints_before": before.completed_checkpoints,
        "restored_checkpoint": restored["id"] if restored else None,
        "restores": health.restores,
        "failure": last_failure(rest_port),
        "recovered_s": round(time.monotonic() - started, 1),
    }


@pytest.mark.parametrize("s3_format", ["json", "parquet"])
def test_a_python_worker_kill_loses_and_duplicates_nothing(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures, s3_format: str
) -> None:
    started = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - started, 1)

    with case_run(local_aws, tmp_path, "fo-quick", "record", s3_format=s3_format) as run:
        port = free_port()
        with run.job(port, 1000) as job:
            phase("running")
            producer = run.producer(RATE)
            # Mid-stream: some windows are committed, more records are coming.
            wait_until(lambda: run.outputs.committed_ids(run.records) >= 30, 120, "the first committed windows")
            phase("first_windows")
            recovery = kill_and_wait_for_recovery(job, port)
            phase("recovered")
            sent = run.finish_input(producer, 60)
            accounting = wait_for_accounting(run.outputs, run.records, sent, 120)
            phase("accounted")
            # One more commit: a duplicate would show up by now.
            wait_for_checkpoint(port, job_health(port).completed_checkpoints, 60)
            health = wait_for_restarts(port, 1, 60)
            accounting = run.outputs.account(run.records, sent)
            phase("checked")

    accounting.fill(case, run.records, sent)
    case.faults_injected = 1 + run.records.malformed_count(sent)
    case.details.update({"restarts": health.restarts, "restores": health.restores, "recovery": recovery})
    case.details.update({"phases_s": phases, "wall_s": round(time.monotonic() - started, 1)})
    assert (health.state, health.restarts, health.restores) == ("RUNNING", 1, 1)
    accounting.assert_exactly_once(run.records)
    assert accounting.check_outcomes(run.records, sent, "record", run.model.model) == []


@pytest.mark.full
@pytest.mark.parametrize("mode", ["record", "window"])
def test_repeated_python_worker_kills_keep_s3_exactly_once(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures, mode: str
) -> None:
    started = time.monotonic()
    with case_run(local_aws, tmp_path, f"fo-{mode}", mode, delivery=True) as run:
        port = free_port()
        recoveries = []
        with run.job(port, 2000) as job:
            producer = run.producer(RATE)
            for kill in range(1, KILLS + 1):
                target = kill * PROGRESS_PER_KILL
                wait_until(lambda t=target: run.outputs.committed_ids(run.records) >= t, 180, f"{target} committed ids")
                recoveries.append(kill_and_wait_for_recovery(job, port))
            wait_until(
                lambda: run.outputs.committed_ids(run.records) >= (KILLS + 1) * PROGRESS_PER_KILL,
                180,
                "progress after the last kill",
            )
            sent = run.finish_input(producer, 60)
            accounting = wait_for_accounting(run.outputs, run.records, sent, 240)
            s3_ids = {w["window_id"] for w in accounting.windows.values()}
            settled(lambda: s3_ids <= {w["window_id"] for w in run.outputs.delivered()}, 120, "every window delivered")
            wait_for_checkpoint(port, job_health(port).completed_checkpoints, 60)
            health = wait_for_restarts(port, KILLS, 60)
            accounting = run.outputs.account(run.records, sent)
            delivered = run.outputs.delivered()

    accounting.fill(case, run.records, sent)
    case.faults_injected = KILLS + run.records.malformed_count(sent)
    by_id = Counter(w["window_id"] for w in delivered)
    case.details.update(
        {
            "mode": mode,
            "restarts": health.restarts,
            "restores": health.restores,
            "recoveries": recoveries,
            "delivery_records": len(delivered),
            "delivery_duplicates": len(delivered) - len(by_id),
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    assert (health.state, health.restarts, health.restores) == ("RUNNING", KILLS, KILLS)
    accounting.assert_exactly_once(run.records)
    assert accounting.check_outcomes(run.records, sent, mode, run.model.model) == []
    # At least once: every window delivered, and a delivered copy is the same window as in S3.
    s3_windows = {w["window_id"]: w for w in accounting.windows.values()}
    assert set(by_id) == set(s3_windows)
    assert all(window == s3_windows[window["window_id"]] for window in delivered)
