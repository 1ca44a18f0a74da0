"""Stop and resume: the job is stopped with a savepoint through the cluster's REST API while the
producer keeps writing, then started again from that savepoint; nothing may be lost or doubled.

Stop with a savepoint (``POST /jobs/<id>/stop``, no drain) commits the S3 files of the savepoint
and ends the job with its open windows in the state. The restarted job (``job/main.py
--from-savepoint``) reads Kinesis on from the savepoint's positions, the records that came in
meanwhile included, and must neither repeat what was committed nor skip what was not. The
SQL operators carry no uids of their own: they restore because the same configuration builds the
same job graph, whose generated operator ids are stable.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest

from deploy.local.job_process import stop_with_savepoint
from deploy.local.stack import LocalAws, free_port
from deploy.local.testing import settled, wait_until
from tests.reliability.conftest import CaseFigures
from tests.reliability.support import (
    case_run,
    job_health,
    restored_checkpoint,
    wait_for_accounting,
    wait_for_checkpoint,
)

RECORDS = 2000
RATE = 50


@pytest.mark.full
def test_stop_with_savepoint_and_resume_loses_and_duplicates_nothing(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures
) -> None:
    started = time.monotonic()
    savepoints = tmp_path / "savepoints"
    with case_run(local_aws, tmp_path, "savepoint", "record", delivery=True) as run:
        first_port = free_port()
        with run.job(first_port, 2000, log_name="job-first.log") as job:
            producer = run.producer(RATE, RECORDS)
            # Stop mid-stream: some windows are committed, more records are on their way.
            wait_until(lambda: run.outputs.committed_ids(run.records) >= 300, 180, "windows")
            stop_started = time.monotonic()
            savepoint = stop_with_savepoint(job, first_port, savepoints)
            stopped_s = round(time.monotonic() - stop_started, 1)
            exit_code = job.returncode
            sent_at_stop = producer.sent
            committed_at_stop = run.outputs.account(run.records, RECORDS)

        second_port = free_port()
        resume_started = time.monotonic()
        with run.job(second_port, 2000, "--from-savepoint", str(savepoint), log_name="job-resumed.log"):
            sent_at_resume = producer.sent
            resumed_s = round(time.monotonic() - resume_started, 1)
            restored = restored_checkpoint(second_port)
            run.finish_input(producer, 180)
            accounting = wait_for_accounting(run.outputs, run.records, RECORDS, 240)
            s3_ids = {w["window_id"] for w in accounting.windows.values()}
            settled(lambda: s3_ids <= {w["window_id"] for w in run.outputs.delivered()}, 120, "every window delivered")
            health = wait_for_checkpoint(second_port, job_health(second_port).completed_checkpoints, 60)
            accounting = run.outputs.account(run.records, RECORDS)
            delivered = run.outputs.delivered()

    accounting.fill(case, run.records, producer.sent)
    case.faults_injected = 1 + run.records.malformed_count(producer.sent)  # the stop and restart, the malformed
    by_id = Counter(w["window_id"] for w in delivered)
    case.details.update(
        {
            "savepoint": savepoint.name,
            "stop_with_savepoint_s": stopped_s,
            "job_exit_code": exit_code,
            "sent_at_stop": sent_at_stop,
            "sent_while_stopped": sent_at_resume - sent_at_stop,
            "accounted_at_stop": len(committed_at_stop.occurrences),
            "restart_to_running_s": resumed_s,
            "restored": restored,
            "restarts": health.restarts,
            "delivery_records": len(delivered),
            "delivery_duplicates": len(delivered) - len(by_id),
            "wall_s": round(time.monotonic() - started, 1),
        }
    )

    assert exit_code == 0
    assert (savepoint / "_metadata").is_file()
    assert restored is not None and restored["is_savepoint"] is True
    assert Path(urlparse(restored["external_path"]).path) == savepoint
    assert sent_at_stop < RECORDS and sent_at_resume > sent_at_stop  # records came in while it was stopped
    assert producer.sent == RECORDS
    assert (health.state, health.restarts) == ("RUNNING", 0)
    accounting.assert_exactly_once(run.records)
    assert accounting.check_outcomes(run.records, RECORDS, "record", run.model.model) == []
    # What the first run committed stays, once.
    assert set(committed_at_stop.occurrences) <= set(accounting.occurrences)
    assert set(by_id) == {w["window_id"] for w in accounting.windows.values()}
