"""Accounting under faults: malformed records and an unreliable model endpoint, with no record lost.

A bounded run of trips, each with a unique id, 10% of them malformed, goes through the real job
with the inference stage on. The local model server answers about 20% of requests with 500 and
10% with 429, delays 5% past the stage's request timeout, and is down for 30 seconds mid-run.
Every id must come out exactly once: in its own window (the id is the window key) with the model's
prediction, or as a dead letter naming stage and reason; the job must neither fail nor restart.

Both inference modes run: ``record`` sends every record through the async stage, ``window`` every
window (here one per record).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from deploy.local.model_server import Faults
from deploy.local.stack import LocalAws, free_port
from deploy.local.testing import wait_until
from tests.reliability.conftest import CaseFigures
from tests.reliability.support import case_run, job_health, wait_for_accounting, wait_for_checkpoint

RECORDS = 3000
# Slow enough that records still come in for a while after the outage.
RATE = 50
OUTAGE_S = 30
# A spike outlasts the request timeout, so the stage gives up on the request and retries it.
TIMEOUT_MS = 1000
ENDPOINT_FAULTS = Faults(
    error_rate=0.2, error_status=500, throttle_rate=0.1, spike_rate=0.05, spike_ms=TIMEOUT_MS * 1.5
)
# The outage answers 503; the error rate answers 500, so the two stay apart in the server's counts.
OUTAGE_STATUS = 503


@pytest.mark.full
@pytest.mark.parametrize("mode", ["record", "window"])
def test_every_record_is_accounted_for_under_endpoint_faults(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures, mode: str
) -> None:
    started = time.monotonic()
    inference = {"timeout.ms": str(TIMEOUT_MS)}
    with case_run(local_aws, tmp_path, f"faults-{mode}", mode, ENDPOINT_FAULTS, inference=inference) as run:
        port = free_port()
        with run.job(port, 5000):
            producer = run.producer(RATE, RECORDS)
            # The outage starts once the endpoint has scored a share of the records, the job running in full.
            wait_until(lambda: run.model.stats().instances >= RECORDS // 6, 180, "the first scored records")
            run.model.set_faults(ENDPOINT_FAULTS, outage_until=time.time() + OUTAGE_S)
            outage_started, sent_before_outage = round(time.monotonic() - started, 1), producer.sent
            scored_before_outage = run.model.stats().instances
            run.finish_input(producer, 120)
            accounting = wait_for_accounting(run.outputs, run.records, RECORDS, 300)
            # One more commit: a duplicate would show up by now.
            health = wait_for_checkpoint(port, job_health(port).completed_checkpoints, 60)
            accounting = run.outputs.account(run.records, RECORDS)
        stats, spikes = run.model.stats(), run.model.spikes()

    records = run.records
    statuses = stats.by_status
    endpoint_faults = statuses.get(500, 0) + statuses.get(429, 0) + spikes
    letters = accounting.dead_letters.values()
    accounting.fill(case, records, producer.sent)
    case.faults_injected = records.malformed_count(producer.sent) + endpoint_faults + 1  # the outage counts once
    case.details.update(
        {
            "mode": mode,
            "endpoint_requests": stats.requests,
            "answered_500": statuses.get(500, 0),
            "answered_429": statuses.get(429, 0),
            "spikes_past_timeout": spikes,
            "outage_s": OUTAGE_S,
            "outage_started_s": outage_started,
            "sent_before_outage": sent_before_outage,
            "scored_before_outage": scored_before_outage,
            "scored": stats.instances,
            "answered_503_in_outage": statuses.get(OUTAGE_STATUS, 0),
            "inference_reasons": dict(
                Counter(_reason_kind(letter["reason"]) for letter in letters if letter["stage"] == "inference")
            ),
            "job_state": health.state,
            "restarts": health.restarts,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )

    assert producer.sent == RECORDS
    assert sent_before_outage < RECORDS  # records kept coming during the outage
    assert stats.instances > scored_before_outage  # and the endpoint scored again after it
    accounting.assert_exactly_once(records)
    assert (health.state, health.restarts) == ("RUNNING", 0)
    # Every fault did happen, and nothing else went wrong at the endpoint.
    assert statuses.get(500, 0) > 0 and statuses.get(429, 0) > 0 and statuses.get(OUTAGE_STATUS, 0) > 0
    assert spikes > 0
    assert set(statuses) <= {200, 429, 500, OUTAGE_STATUS}

    set_aside = accounting.check_outcomes(records, RECORDS, mode, run.model.model)
    reasons = {_reason_kind(accounting.dead_letters[name]["reason"]) for name in set_aside}
    assert reasons <= {"attempts exhausted", "inference stage timed out"}
    # The outage outlasts every request's retries, so some records are set aside for it.
    assert any(f"status {OUTAGE_STATUS}" in accounting.dead_letters[name]["reason"] for name in set_aside)


def _reason_kind(reason: str) -> str:
    """The reason without its details: ``attempts exhausted``, ``inference stage timed out``, ..."""
    return reason.split(",", 1)[0].split(":", 1)[0]
