"""Throttling: the job's Kinesis and delivery-stream calls go through the fault proxy, which throttles,
expires iterators and fails single records the way Kinesis and Firehose do; nothing may be lost or
restart the job.

The job reaches Kinesis and Firehose only through ``deploy/local/fault_proxy.py``
(``AWS_ENDPOINT_URL_KINESIS`` and ``AWS_ENDPOINT_URL_FIREHOSE``), S3 directly on moto; the producer and
the case's reads go to moto directly. The proxy throttles 20% of GetRecords calls and answers 5% with
an expired iterator; it throttles 10% of the delivery stream's PutRecords or PutRecordBatch calls and
fails a random subset of the records of another 10%. Records are produced until the delivery stream's
faults have been injected and counted by the sink; the source's faults show as the job keeps polling
the shard, idle or not. So the case waits on the faults rather than counting on luck. Event time
advances 100 ms a record, so a one-second window closes every ten records and the delivery stream gets
a request about every second (the sink's longest buffering), enough calls for its faults to show.

The AWS SDK repeats a throttled call itself (3 attempts in its standard mode) before the source sees
the error, so the source's ``getRecordsThrottled`` counts only throttles that outlast those attempts;
an expired iterator is not repeated by the SDK, so ``expiredIterators`` counts every one the proxy
sent. A partially failed batch is a successful call, so the sink counts each failed record in
``numRecordsOutErrors`` and ``retriedRecords`` and sends exactly those again.

Expected: every record exactly once across the S3 windows and dead letters, every window in the
delivery stream (at least once; with no restart and no record written twice by the proxy, once),
no restart.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploy.local.fault_proxy import FaultProxy, fault_proxy
from deploy.local.job_process import job_id, rest_json, running_job
from deploy.local.producer import RecordProducer
from deploy.local.stack import LocalAws, free_port
from deploy.local.testing import prepare, settled, wait_until
from tests.reliability.conftest import CaseFigures
from tests.reliability.support import (
    PROPERTIES_FILE,
    T0,
    Accounting,
    CaseOutputs,
    IdRecords,
    id_record_groups,
    job_health,
    wait_for_accounting,
    wait_for_checkpoint,
)

RATE = 50
STEP_MS = 100
# Records are produced until the delivery stream's faults have shown, at least this many.
MIN_RECORDS = 1000
SINK_FAULTS_TIMEOUT_S = 300
# The source counts a throttle only once the SDK's own attempts are used up: about once a minute here, at
# any time, as the source polls an idle shard as often as a busy one.
SOURCE_FAULTS_TIMEOUT_S = 600
GET_RECORDS_FAULTS = {"throttle": 0.2, "expire": 0.05}
PUT_FAULTS = {"throttle": 0.1, "partial": 0.1}
PUT_OPERATION = {"firehose": "PutRecordBatch", "kinesis": "PutRecords"}
SOURCE_OPERATOR = "Source__Kinesis_source"
SOURCE_COUNTERS = ("getRecordsThrottled", "getShardIteratorThrottled", "expiredIterators", "getRecordsRetries")
# Flink 2.2 reports the sink's numRecordsOutErrors counter under its newer name, numRecordsSendErrors.
SINK_COUNTERS = ("numRecordsSendErrors", "retriedRecords")


@dataclass(frozen=True)
class SparseIdRecords(IdRecords):
    """The case's records ``STEP_MS`` apart in event time: ten to a one-second window."""

    def fields(self, index: int) -> dict[str, Any]:
        return {**super().fields(index), "t": T0 + index * STEP_MS}

    def closing(self, count: int) -> bytes:
        fields = {**self.fields(count), "id": self.closing_id, "t": T0 + count * STEP_MS + 60_000}
        return json.dumps(fields, separators=(",", ":")).encode()


def operator_counters(rest_port: int, operator: str, names: tuple[str, ...]) -> dict[str, int]:
    """The counters ``names`` of ``operator`` (as the REST API spells it, ``Delivery_kinesis__Writer``), summed
    over its subtasks; a counter the REST API does not hold yet is missing from the answer."""
    jid = job_id(rest_port)
    wanted = {f"{operator}.{name}": name for name in names}
    for vertex in rest_json(rest_port, f"/jobs/{jid}")["vertices"]:
        base = f"/jobs/{jid}/vertices/{vertex['id']}/subtasks/metrics"
        ids = [metric["id"] for metric in rest_json(rest_port, base) if metric["id"] in wanted]
        if ids:
            answer = rest_json(rest_port, f"{base}?get={','.join(ids)}&agg=sum")
            return {wanted[metric["id"]]: int(metric["sum"]) for metric in answer}
    return {}


def sink_operator(kind: str) -> str:
    return f"Delivery_{kind}__Writer"


def fault_spec(kind: str) -> dict[str, dict[str, float]]:
    return {"GetRecords": GET_RECORDS_FAULTS, PUT_OPERATION[kind]: PUT_FAULTS}


def sink_faults_shown(proxy: FaultProxy, rest_port: int, kind: str) -> bool:
    """Whether the delivery stream's calls were throttled and partially failed, and the sink counted it."""
    puts = proxy.stats().get(PUT_OPERATION[kind])
    if puts is None or min(puts.throttle, puts.partial) == 0:
        return False
    return operator_counters(rest_port, sink_operator(kind), SINK_COUNTERS).get("numRecordsSendErrors", 0) > 0


def source_faults_shown(proxy: FaultProxy, rest_port: int) -> bool:
    """Whether GetRecords calls were throttled and expired, and the source counted both."""
    reads = proxy.stats().get("GetRecords")
    if reads is None or min(reads.throttle, reads.expire) == 0:
        return False
    source = operator_counters(rest_port, SOURCE_OPERATOR, SOURCE_COUNTERS)
    return source.get("getRecordsThrottled", 0) > 0 and source.get("expiredIterators", 0) > 0


@pytest.mark.full
@pytest.mark.parametrize("kind", ["firehose", "kinesis"])
def test_throttling_and_partial_failures_lose_nothing_and_restart_nothing(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures, kind: str
) -> None:
    started = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - started, 1)

    name = f"throttling-{kind}-{uuid.uuid4().hex[:8]}"
    records = SparseIdRecords(name)
    groups = id_record_groups(name)
    groups["sink.delivery"] = {"type": kind, "stream.name": f"{name}-out"}
    with fault_proxy(local_aws.endpoint, fault_spec(kind), seed=17) as proxy:
        environ = {"AWS_ENDPOINT_URL_KINESIS": proxy.url, "AWS_ENDPOINT_URL_FIREHOSE": proxy.url}
        config = prepare(local_aws, groups, tmp_path / PROPERTIES_FILE, environ)
        outputs = CaseOutputs(local_aws, config)
        port = free_port()
        args = ("--checkpoint-interval-ms", "2000")
        with running_job(local_aws, tmp_path / PROPERTIES_FILE, tmp_path / "job.log", port, args, env=environ):
            phase("running")
            producer = RecordProducer(local_aws.client("kinesis"), config.source.stream_name, RATE, records.payload)
            producer.start()
            # The delivery stream's faults need windows on their way, so records come until they have shown.
            wait_until(
                lambda: producer.sent >= MIN_RECORDS and sink_faults_shown(proxy, port, kind),
                SINK_FAULTS_TIMEOUT_S,
                "the delivery stream's faults injected and counted",
            )
            producer.stop()
            if producer.error is not None:
                raise producer.error
            sent = producer.sent
            records.put_closing(local_aws, config.source.stream_name, sent)
            phase("input_ended")
            accounting = wait_for_accounting(outputs, records, sent, 240)
            s3_ids = {w["window_id"] for w in accounting.windows.values()}
            settled(lambda: s3_ids <= {w["window_id"] for w in outputs.delivered()}, 120, "every window delivered")
            phase("accounted")
            wait_until(lambda: source_faults_shown(proxy, port), SOURCE_FAULTS_TIMEOUT_S, "the source's faults counted")
            phase("source_faults_shown")
            # The faults stop, so the job's counters can catch up with the proxy's.
            proxy.set_faults({})
            injected = proxy.stats()
            reads, puts = injected["GetRecords"], injected[PUT_OPERATION[kind]]
            source = wait_until(
                lambda: (
                    (c := operator_counters(port, SOURCE_OPERATOR, SOURCE_COUNTERS)).get("expiredIterators")
                    == reads.expire
                    and c
                ),
                60,
                "the source's counters to settle",
            )
            sink = wait_until(
                lambda: (
                    (c := operator_counters(port, sink_operator(kind), SINK_COUNTERS)).get("numRecordsSendErrors", 0)
                    >= puts.records_failed
                    and c
                ),
                60,
                "the sink's counters to settle",
            )
            # One more commit: a duplicate would show up by now.
            health = wait_for_checkpoint(port, job_health(port).completed_checkpoints, 60)
            accounting = outputs.account(records, sent)
            delivered = outputs.delivered()

    by_id = Counter(w["window_id"] for w in delivered)
    accounting.fill(case, records, sent)
    case.faults_injected = reads.throttle + reads.expire + puts.throttle + puts.partial
    case.details.update(
        {
            "delivery": kind,
            "proxy": {operation: counts.to_json() for operation, counts in injected.items()},
            "source_counters": source,
            "sink_counters": {
                "numRecordsOutErrors": sink["numRecordsSendErrors"],
                "retriedRecords": sink["retriedRecords"],
            },
            "restarts": health.restarts,
            "delivery_records": len(delivered),
            "delivery_duplicates": len(delivered) - len(by_id),
            "phases_s": phases,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )

    assert sent >= MIN_RECORDS
    assert (health.state, health.restarts) == ("RUNNING", 0)
    accounting.assert_exactly_once(records)
    check_outcomes(accounting, records, sent)
    # Every fault happened, and the job's counters agree with the proxy's.
    assert min(reads.throttle, reads.expire, puts.throttle, puts.partial) > 0
    # Each throttle the source counts is the last of the SDK's three attempts.
    assert 0 < 3 * source["getRecordsThrottled"] <= reads.throttle
    assert source["expiredIterators"] == reads.expire
    assert (source["getShardIteratorThrottled"], source["getRecordsRetries"]) == (0, 0)
    assert sink["numRecordsSendErrors"] >= puts.records_failed > 0
    assert sink["retriedRecords"] == sink["numRecordsSendErrors"]
    # Every window delivered, as in S3; the proxy writes none of the records it fails, and the job
    # did not restart, so no window was sent twice.
    s3_windows = {w["window_id"]: w for w in accounting.windows.values()}
    assert set(by_id) == set(s3_windows)
    assert all(window == s3_windows[window["window_id"]] for window in delivered)
    assert len(delivered) == len(by_id)


def check_outcomes(accounting: Accounting, records: IdRecords, count: int) -> None:
    """A malformed record is a dead letter with its stage and reason; a sound one is its own window."""
    for index in range(count):
        name, stage = records.id(index), records.malformed(index)
        if stage is not None:
            letter = accounting.dead_letters[name]
            assert (letter["stage"], letter["reason"]) == (stage, records.expected_reason(index))
        else:
            window, trip = accounting.windows[name], records.fields(index)
            assert (window["count"], window["trip_distance_sum"]) == (1, trip["trip_distance"])
