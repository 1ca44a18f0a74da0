"""KPL aggregation: Kinesis records that each carry many user records (``deploy/local/kpl.py``), mixed with
plain records and one corrupt aggregate, must come out user record by user record, exactly once.

The stream holds the case's records (``IdRecords``: the id is the window key, every tenth record
malformed) in index order: aggregates of consecutive records, each followed by a few plain records,
and one aggregate whose checksum is broken. The job reads from TRIM_HORIZON. Every user record must
land once in its own window (count 1, in the window its event time gives) or, if malformed, in the
dead letters with its stage; the corrupt aggregate is one dead letter of stage ``parse`` whose reason
starts ``corrupt KPL aggregate`` and whose payload is the record's bytes in base64.

The second case stops the job with a savepoint while aggregates of 200 user records are being read
one Kinesis record per GetRecords call, and resumes it from that savepoint. The source keeps its
position at user-record granularity (sequence number and sub-sequence number), so a restore inside
an aggregate would skip the user records already emitted; the emitter, though, emits all user
records of a Kinesis record in one call, so a checkpoint always falls between Kinesis records and
never inside an aggregate. The case shows exactly once across the restore with aggregates in flight
either way.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from config import AppConfig
from deploy.local import kpl
from deploy.local.job_process import running_job, stop_with_savepoint
from deploy.local.producer import RecordProducer
from deploy.local.stack import LocalAws, free_port
from deploy.local.testing import Groups, prepare, wait_until
from tests.reliability.conftest import CaseFigures
from tests.reliability.support import (
    PROPERTIES_FILE,
    WINDOW_S,
    Accounting,
    CaseOutputs,
    IdRecords,
    id_record_groups,
    job_health,
    restored_checkpoint,
    wait_for_accounting,
    wait_for_checkpoint,
)

# User records get one of a few partition keys, so an aggregate's key table holds several.
PARTITION_KEYS = 7
CORRUPT_REASON = "corrupt KPL aggregate"
# PutRecords takes at most 500 records.
PUT_BATCH = 100


@dataclass
class KplStream:
    """The Kinesis records of a case in stream order, and what they hold."""

    records: IdRecords
    kinesis_records: list[bytes] = field(default_factory=list)
    # How many of the case's records (indexes 0 .. user_records - 1) are in it, aggregated or plain.
    user_records: int = 0
    aggregates: int = 0
    aggregated_records: int = 0
    plain_records: int = 0
    corrupt: bytes = b""

    def add_aggregate(self, size: int) -> None:
        indexes = range(self.user_records, self.user_records + size)
        _, data = kpl.aggregate([(str(i % PARTITION_KEYS), self.records.payload(i)) for i in indexes])
        self.kinesis_records.append(data)
        self.user_records += size
        self.aggregates += 1
        self.aggregated_records += size

    def add_plain(self, count: int) -> None:
        for index in range(self.user_records, self.user_records + count):
            self.kinesis_records.append(self.records.payload(index))
        self.user_records += count
        self.plain_records += count

    def add_corrupt(self, size: int) -> None:
        """An aggregate of user records outside the case's ids, with a broken checksum."""
        users = [(str(j), json.dumps({"id": f"{self.records.prefix}-corrupt-{j}"}).encode()) for j in range(size)]
        self.corrupt = kpl.corrupt(kpl.aggregate(users)[1])
        self.kinesis_records.append(self.corrupt)

    def user_records_within(self, kinesis_records: int) -> int:
        """How many of the case's records the first ``kinesis_records`` Kinesis records hold."""
        count = 0
        for data in self.kinesis_records[:kinesis_records]:
            if data != self.corrupt:
                count += len(kpl.deaggregate(data))
        return count


def kpl_stream(records: IdRecords, aggregates: int, size: int, plain_between: int, corrupt_after: int) -> KplStream:
    """Aggregates of ``size`` records, each followed by ``plain_between`` plain records; the corrupt aggregate
    follows aggregate number ``corrupt_after``."""
    stream = KplStream(records)
    for number in range(1, aggregates + 1):
        stream.add_aggregate(size)
        if number == corrupt_after:
            stream.add_corrupt(size)
        stream.add_plain(plain_between)
    return stream


def put_in_order(aws: LocalAws, stream_name: str, data: list[bytes]) -> None:
    """Put ``data`` into the stream in this order, one PutRecords call at a time."""
    kinesis = aws.client("kinesis")
    for start in range(0, len(data), PUT_BATCH):
        entries = [{"Data": item, "PartitionKey": "1"} for item in data[start : start + PUT_BATCH]]
        response = kinesis.put_records(StreamName=stream_name, Records=entries)
        # moto refuses nothing; a refused entry would break the order the case relies on.
        assert response["FailedRecordCount"] == 0, response


def kpl_groups(name: str, source: dict[str, str]) -> Groups:
    groups = id_record_groups(name)
    groups["kinesis.source"].update(source)
    return groups


def window_start(event_time_ms: int) -> str:
    start = event_time_ms - event_time_ms % (WINDOW_S * 1000)
    return datetime.datetime.fromtimestamp(start / 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class KplOutcome:
    """What the job wrote for a case's KPL stream."""

    accounting: Accounting
    corrupt_letters: list[dict[str, Any]]
    # Count per (id, window start): expected from the user records, and as the S3 windows hold them.
    expected_counts: Counter[tuple[str, str]]
    window_counts: Counter[tuple[str, str]]

    def count_mismatches(self) -> list[tuple[str, str]]:
        """The (id, window start) pairs whose count in S3 is not the one the user records give."""
        pairs = self.expected_counts.keys() | self.window_counts.keys()
        return sorted(pair for pair in pairs if self.expected_counts[pair] != self.window_counts[pair])


def kpl_outcome(outputs: CaseOutputs, stream: KplStream) -> KplOutcome:
    records = stream.records
    accounting = outputs.account(records, stream.user_records)
    payload = base64.b64encode(stream.corrupt).decode()
    corrupt_letters = [letter for letter in outputs.dead_letters.read() if letter.get("payload") == payload]
    expected: Counter[tuple[str, str]] = Counter()
    for index in range(stream.user_records):
        if records.malformed(index) is None:
            expected[(records.id(index), window_start(records.fields(index)["t"]))] += 1
    windows: Counter[tuple[str, str]] = Counter()
    for row in outputs.windows.read():
        if row["id"] != records.closing_id:
            windows[(str(row["id"]), str(row["window_start"]))] += int(row["count"])
    return KplOutcome(accounting, corrupt_letters, expected, windows)


def fill(case: CaseFigures, stream: KplStream, outcome: KplOutcome, restore: str) -> None:
    outcome.accounting.fill(case, stream.records, stream.user_records)
    case.faults_injected = 1 + stream.records.malformed_count(stream.user_records)
    case.details.update(
        {
            "aggregates": stream.aggregates,
            "user_records": stream.aggregated_records,
            "plain_records": stream.plain_records,
            "corrupt_dead_lettered": len(outcome.corrupt_letters),
            "restore": restore,
            "window_count_mismatches": len(outcome.count_mismatches()),
        }
    )


def assert_read_exactly_once(stream: KplStream, outcome: KplOutcome) -> None:
    accounting, records = outcome.accounting, stream.records
    assert accounting.missing(records) == []
    assert accounting.duplicated == []
    assert accounting.strays == []
    # The one dead letter without an id is the corrupt aggregate, whose payload is base64.
    assert (accounting.unnamed_dead_letters, accounting.bad_dead_letters) == (1, 0)
    assert outcome.window_counts == outcome.expected_counts
    for index in range(stream.user_records):
        stage = records.malformed(index)
        if stage is not None:
            letter = accounting.dead_letters[records.id(index)]
            assert (letter["stage"], letter["reason"]) == (stage, records.expected_reason(index))
        else:
            window, trip = accounting.windows[records.id(index)], records.fields(index)
            assert (window["count"], window["trip_distance_sum"]) == (1, trip["trip_distance"])
    (letter,) = outcome.corrupt_letters
    assert letter["stage"] == "parse"
    assert letter["reason"].startswith(f"{CORRUPT_REASON}: "), letter["reason"]


def test_kpl_aggregates_plain_and_corrupt_records_are_read_exactly_once(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures
) -> None:
    started = time.monotonic()
    name = f"kpl-{uuid.uuid4().hex[:8]}"
    records = IdRecords(name)
    stream = kpl_stream(records, aggregates=30, size=10, plain_between=3, corrupt_after=15)
    config = prepare(local_aws, kpl_groups(name, {}), tmp_path / PROPERTIES_FILE)
    put_in_order(local_aws, config.source.stream_name, stream.kinesis_records)
    records.put_closing(local_aws, config.source.stream_name, stream.user_records)
    outputs = CaseOutputs(local_aws, config)
    port = free_port()
    with running_job(
        local_aws, tmp_path / PROPERTIES_FILE, tmp_path / "job.log", port, ("--checkpoint-interval-ms", "1000")
    ):
        wait_for_accounting(outputs, records, stream.user_records, 180)
        # One more commit: a duplicate would show up by now.
        health = wait_for_checkpoint(port, job_health(port).completed_checkpoints, 60)
        outcome = kpl_outcome(outputs, stream)

    fill(case, stream, outcome, "none")
    case.details.update({"restarts": health.restarts, "wall_s": round(time.monotonic() - started, 1)})
    assert (stream.aggregates, stream.aggregated_records, stream.plain_records) == (30, 300, 90)
    assert (health.state, health.restarts) == ("RUNNING", 0)
    assert_read_exactly_once(stream, outcome)


# Kinesis records a second: an aggregate of 200 and its five plain records about every two seconds.
KINESIS_RATE = 3
# One Kinesis record per GetRecords call: the reader takes the aggregates one at a time, so a checkpoint
# may fall between any two of them, not only after a whole fetch of the backlog.
GET_RECORDS_LIMIT = "1"


def kinesis_producer(aws: LocalAws, config: AppConfig, stream: KplStream) -> RecordProducer:
    """A producer of the stream's Kinesis records, in order, ``KINESIS_RATE`` a second (not started)."""
    data = stream.kinesis_records
    return RecordProducer(
        aws.client("kinesis"), config.source.stream_name, KINESIS_RATE, data.__getitem__, limit=len(data)
    )


@pytest.mark.full
def test_kpl_aggregates_in_flight_are_read_exactly_once_across_a_stop_with_savepoint(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures
) -> None:
    started = time.monotonic()
    name = f"kpl-restore-{uuid.uuid4().hex[:8]}"
    records = IdRecords(name)
    stream = kpl_stream(records, aggregates=20, size=200, plain_between=5, corrupt_after=8)
    groups = kpl_groups(name, {"shard.get-records.max-record-count": GET_RECORDS_LIMIT})
    config = prepare(local_aws, groups, tmp_path / PROPERTIES_FILE)
    outputs = CaseOutputs(local_aws, config)
    producer = kinesis_producer(local_aws, config, stream)
    args = ("--checkpoint-interval-ms", "1000")

    first_port = free_port()
    with running_job(local_aws, tmp_path / PROPERTIES_FILE, tmp_path / "job-first.log", first_port, args) as job:
        producer.start()
        # Stop mid-stream: some windows are committed, aggregates are still coming.
        wait_until(lambda: outputs.committed_ids(records) >= 1000, 180, "the first committed windows")
        checkpoints_before_stop = job_health(first_port).completed_checkpoints
        savepoint = stop_with_savepoint(job, first_port, tmp_path / "savepoints")
        sent_at_stop = producer.sent
    # The stop committed what the savepoint holds; the rest is in its state or still unread.
    accounted_at_stop = len(outputs.account(records, stream.user_records).occurrences)

    second_port = free_port()
    resume_args = (*args, "--from-savepoint", str(savepoint))
    with running_job(local_aws, tmp_path / PROPERTIES_FILE, tmp_path / "job-resumed.log", second_port, resume_args):
        sent_at_resume = producer.sent
        restored = restored_checkpoint(second_port)
        wait_until(producer.finished.is_set, 180, "the producer to put every record")
        if producer.error is not None:
            raise producer.error
        records.put_closing(local_aws, config.source.stream_name, stream.user_records)
        wait_for_accounting(outputs, records, stream.user_records, 300)
        health = wait_for_checkpoint(second_port, job_health(second_port).completed_checkpoints, 60)
        outcome = kpl_outcome(outputs, stream)

    fill(case, stream, outcome, "stop-with-savepoint")
    case.details.update(
        {
            "user_records_per_aggregate": 200,
            "get_records_limit": int(GET_RECORDS_LIMIT),
            "checkpoints_before_stop": checkpoints_before_stop,
            "kinesis_records_at_stop": sent_at_stop,
            "user_records_at_stop": stream.user_records_within(sent_at_stop),
            "accounted_at_stop": accounted_at_stop,
            "kinesis_records_while_stopped": sent_at_resume - sent_at_stop,
            "savepoint": savepoint.name,
            "restarts": health.restarts,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    assert (stream.aggregates, stream.aggregated_records, stream.plain_records) == (20, 4000, 100)
    assert restored is not None and restored["is_savepoint"] is True
    # Stopped mid-stream, with read records not yet committed, and records came in while it was stopped.
    assert 0 < accounted_at_stop < stream.user_records_within(sent_at_stop) < stream.user_records
    assert sent_at_resume > sent_at_stop
    assert producer.sent == len(stream.kinesis_records)
    assert (health.state, health.restarts) == ("RUNNING", 0)
    assert_read_exactly_once(stream, outcome)
