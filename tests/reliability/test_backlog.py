"""Backlog: a stream filled before the job starts, read from TRIM_HORIZON, must give every window
exactly, with no record dead-lettered as late, also after a restore in the middle of the drain.

The stream has four shards with unequal volumes (one holds ten times the records of each other),
all written before the job starts. Every shard holds records of every window, so while the job
drains the backlog a small shard runs far ahead of the big one in event time. The source keeps one
watermark per shard and emits the minimum over the shards it reads, so a shard read ahead must not
make the big shard's records late; with two source subtasks the window operator takes the minimum
over the subtasks too. Within a shard the records are out of order by less than the configured
out-of-orderness, so no record is late by the rule either. The last windows close by
``close.when.idle.ms`` once the backlog is drained.

The restore cases slow the source down (a small GetRecords limit), so that the drain spans several
checkpoints and window commits, and interrupt it: either the whole job process is killed (a crash,
also at parallelism 2) and a new job restores the latest completed checkpoint, or the job is
stopped with a savepoint and resumed from it. The restored job must read on from the checkpointed
positions: every window exact, none written twice to S3, none late.

The test computes every window's count and sum from what it wrote, and checks where each record
landed by reading the shards back.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from config import AppConfig, build_config, write_property_groups
from deploy.local.job_process import job_id, rest_json, running_job, stop_with_savepoint
from deploy.local.stack import LocalAws, create_resources, free_port
from deploy.local.testing import S3Lines, json_record_groups, settled, wait_until
from tests.reliability.conftest import CaseFigures
from tests.reliability.support import PROPERTIES_FILE, job_health, restored_checkpoint, wait_for_checkpoint

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a multiple of the window size
WINDOW_S = 2
WINDOWS = 8
SHARDS = 4
KEYS = ("k-a", "k-b", "k-c")
OUT_OF_ORDERNESS_MS = 500
# Disorder within a shard: a record is at most this much older than the newest one before it.
SHARD_DISORDER_MS = 300
CLOSE_WHEN_IDLE_MS = 3000
CHECKPOINT_INTERVAL_MS = 1000


@dataclass(frozen=True)
class BacklogRecord:
    shard: int
    key: str
    event_ms: int
    value: int

    def payload(self) -> bytes:
        return json.dumps({"k": self.key, "t": self.event_ms, "v": self.value}, separators=(",", ":")).encode()

    @property
    def window_start(self) -> str:
        start_ms = self.event_ms - self.event_ms % (WINDOW_S * 1000)
        return datetime.fromtimestamp(start_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def backlog_records(volumes: tuple[int, ...], seed: str) -> list[BacklogRecord]:
    """Each shard's records in the order they are written: event times spread evenly over every window
    (so each shard reaches every window), each record up to ``SHARD_DISORDER_MS`` later than its place."""
    span_ms = WINDOWS * WINDOW_S * 1000
    rng = random.Random(seed)
    records = []
    for shard, volume in enumerate(volumes):
        for index in range(volume):
            place = T0 + index * (span_ms - SHARD_DISORDER_MS) // volume
            event_ms = place + rng.randrange(SHARD_DISORDER_MS)
            records.append(BacklogRecord(shard, rng.choice(KEYS), event_ms, rng.randint(1, 1000)))
    return records


def expected_windows(records: list[BacklogRecord]) -> dict[tuple[str, str], tuple[int, int]]:
    """(key, window_start) -> (count, sum of v), from the records as written."""
    counts: Counter[tuple[str, str]] = Counter()
    sums: Counter[tuple[str, str]] = Counter()
    for record in records:
        counts[(record.key, record.window_start)] += 1
        sums[(record.key, record.window_start)] += record.value
    return {window: (counts[window], sums[window]) for window in counts}


def write_backlog(aws: LocalAws, stream: str, records: list[BacklogRecord]) -> dict[str, int]:
    """Put every record into its shard by ``ExplicitHashKey`` (the shard's first hash key), interleaving the
    shards as a live stream would; then read the shards back and return how many records each holds.
    Raises if a record is not on the shard it was meant for."""
    kinesis = aws.client("kinesis")
    shards = sorted(
        kinesis.list_shards(StreamName=stream)["Shards"], key=lambda s: int(s["HashKeyRange"]["StartingHashKey"])
    )
    assert len(shards) == SHARDS
    by_event_time = sorted(records, key=lambda r: r.event_ms)
    for start in range(0, len(by_event_time), 500):
        batch = by_event_time[start : start + 500]
        entries = [
            {
                "Data": record.payload(),
                "PartitionKey": record.key,
                "ExplicitHashKey": shards[record.shard]["HashKeyRange"]["StartingHashKey"],
            }
            for record in batch
        ]
        answer = kinesis.put_records(StreamName=stream, Records=entries)
        assert answer["FailedRecordCount"] == 0, answer
    landed = {}
    for number, shard in enumerate(shards):
        payloads = _shard_payloads(kinesis, stream, shard["ShardId"])
        meant = [r.payload() for r in by_event_time if r.shard == number]
        assert payloads == meant, f"{shard['ShardId']} holds other records than the ones meant for it"
        landed[shard["ShardId"]] = len(payloads)
    return landed


def _shard_payloads(kinesis: Any, stream: str, shard_id: str) -> list[bytes]:
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    payloads: list[bytes] = []
    while iterator:
        answer = kinesis.get_records(ShardIterator=iterator, Limit=10000)
        payloads.extend(record["Data"] for record in answer["Records"])
        if not answer["Records"]:
            return payloads
        iterator = answer.get("NextShardIterator")
    return payloads


@dataclass
class BacklogOutputs:
    """The job's committed windows and dead letters, compared with the windows the backlog must give."""

    expected: dict[tuple[str, str], tuple[int, int]]
    windows: S3Lines
    dead_letters: S3Lines

    def rows(self) -> list[dict[str, Any]]:
        return self.windows.read()

    def committed(self) -> set[tuple[str, str]]:
        return {(row["k"], row["window_start"]) for row in self.rows()}

    def complete(self) -> bool:
        return set(self.expected) <= self.committed()

    def check(self) -> BacklogCheck:
        return BacklogCheck.of(self.expected, self.rows(), self.dead_letters.read())


def is_late(letter: dict[str, Any]) -> bool:
    return letter.get("stage") == "window" and str(letter.get("reason", "")).startswith("late")


@dataclass
class BacklogCheck:
    """What the output holds against what it must hold, in records and in windows."""

    lost: int
    duplicated: int
    late: int
    dead_letters: Counter[str]
    window_rows: int
    duplicate_window_rows: int
    wrong: list[dict[str, object]] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(
        cls, expected: dict[tuple[str, str], tuple[int, int]], rows: list[dict[str, Any]], letters: list[dict[str, Any]]
    ) -> BacklogCheck:
        by_window: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows:
            by_window.setdefault((row["k"], row["window_start"]), []).append(row)
        lost = duplicated = 0
        wrong: list[dict[str, object]] = []
        for window, (count, total) in expected.items():
            got = by_window.get(window, [])
            got_count = sum(int(row["count"]) for row in got)
            lost += max(0, count - got_count)
            duplicated += max(0, got_count - count)
            if [(int(row["count"]), float(row["v_sum"])) for row in got] != [(count, float(total))]:
                wrong.append(
                    {"window": window, "expected": (count, total), "got": [(r["count"], r["v_sum"]) for r in got]}
                )
        strays = [window for window in by_window if window not in expected]
        wrong.extend({"window": window, "expected": None, "got": by_window[window]} for window in strays)
        late = sum(1 for letter in letters if is_late(letter))
        return cls(
            lost=lost,
            duplicated=duplicated,
            late=late,
            dead_letters=Counter(str(letter.get("stage")) for letter in letters),
            window_rows=len(rows),
            duplicate_window_rows=len(rows) - len(by_window),
            wrong=wrong,
            missing=sorted(set(expected) - set(by_window)),
        )

    def fill(self, case: CaseFigures, records: int) -> None:
        case.records_in = records
        case.lost = self.lost
        case.duplicated_s3 = self.duplicated
        case.details.update(
            {
                "late": self.late,
                "dead_letters": dict(self.dead_letters),
                "window_rows": self.window_rows,
                "duplicate_window_rows": self.duplicate_window_rows,
                "wrong_windows": self.wrong[:10],
                "missing_windows": self.missing[:10],
            }
        )

    def assert_exact(self, expected_windows: int) -> None:
        assert self.wrong == []
        assert (self.lost, self.duplicated, self.duplicate_window_rows) == (0, 0, 0)
        assert self.window_rows == expected_windows
        assert self.late == 0
        assert self.dead_letters == Counter()


@dataclass(frozen=True)
class Backlog:
    """A case's stream, filled before the job starts, and the properties of the job reading it."""

    name: str
    properties: Path
    config: AppConfig
    records: list[BacklogRecord]
    landed: dict[str, int]
    outputs: BacklogOutputs

    @property
    def shards_with_every_window(self) -> int:
        windows_by_shard: dict[int, set[str]] = {}
        for record in self.records:
            windows_by_shard.setdefault(record.shard, set()).add(record.window_start)
        return sum(1 for windows in windows_by_shard.values() if len(windows) == WINDOWS)


def fill_backlog(
    aws: LocalAws, directory: Path, prefix: str, volumes: tuple[int, ...], source: dict[str, str]
) -> Backlog:
    """Create the case's four-shard stream and bucket, write the backlog, and the job's properties."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    groups = json_record_groups(name, WINDOW_S, "v")
    groups["kinesis.source"].update(source)
    groups["records"]["watermark.out.of.orderness.ms"] = str(OUT_OF_ORDERNESS_MS)
    groups["window"]["close.when.idle.ms"] = str(CLOSE_WHEN_IDLE_MS)
    properties = directory / PROPERTIES_FILE
    write_property_groups(properties, groups)
    config = build_config(groups, aws.endpoint_environment())
    create_resources(aws, config, shards=SHARDS)
    records = backlog_records(volumes, name)
    landed = write_backlog(aws, config.source.stream_name, records)
    outputs = BacklogOutputs(
        expected_windows(records),
        S3Lines(aws, config.sink_s3.location),
        S3Lines(aws, config.dead_letter.location),
    )
    return Backlog(name, properties, config, records, landed, outputs)


@contextmanager
def backlog_job(
    aws: LocalAws, backlog: Backlog, directory: Path, log_name: str, rest_port: int, *args: str
) -> Iterator[Any]:
    extra = ("--checkpoint-interval-ms", str(CHECKPOINT_INTERVAL_MS), *args)
    with running_job(aws, backlog.properties, directory / log_name, rest_port, extra) as job:
        yield job


def wait_for_all_windows(backlog: Backlog, rest_port: int, timeout_s: float) -> BacklogCheck:
    """Wait until every window is committed, then for one more checkpoint (a duplicate would be committed
    by then); the check of the output then, or as it is at the deadline."""
    settled(backlog.outputs.complete, timeout_s, "every window committed")
    wait_for_checkpoint(rest_port, job_health(rest_port).completed_checkpoints, 60)
    return backlog.outputs.check()


def source_records_in(rest_port: int) -> int:
    """Records the job's source has read so far (the REST API's figure for the source vertex, refreshed every
    few seconds; its records out are the local window aggregates chained to it, far fewer)."""
    job = rest_json(rest_port, f"/jobs/{job_id(rest_port)}")
    (source,) = [v for v in job["vertices"] if v["name"].startswith("Source")]
    return int(source["metrics"]["read-records"])


# Longer than the REST API's metric refresh (metrics.fetcher.update-interval, 10 s by default).
METRICS_REFRESH_S = 12


def settled_source_records_in(rest_port: int) -> int:
    """The records the source has read once the figure has stood still for longer than the REST API takes
    to refresh its metrics: the final count of a job that has read everything."""
    readings: list[tuple[float, int]] = []

    def unchanged() -> bool:
        readings.append((time.monotonic(), source_records_in(rest_port)))
        now, value = readings[-1]
        return any(now - at >= METRICS_REFRESH_S and seen == value for at, seen in readings)

    wait_until(unchanged, 120, "the source's record count to settle", interval_s=1)
    return readings[-1][1]


# -- backlog across shards ---------------------------------------------------------------------------------------

QUICK_VOLUMES = (500, 50, 50, 50)


def run_backlog_case(local_aws: LocalAws, tmp_path: Path, case: CaseFigures, parallelism: int) -> None:
    started = time.monotonic()
    backlog = fill_backlog(local_aws, tmp_path, f"backlog-p{parallelism}", QUICK_VOLUMES, {})
    port = free_port()
    with backlog_job(local_aws, backlog, tmp_path, "job.log", port, "--parallelism", str(parallelism)):
        check = wait_for_all_windows(backlog, port, 180)
        health = job_health(port)

    check.fill(case, len(backlog.records))
    case.details.update(
        {
            "windows": len(backlog.outputs.expected),
            "shards": backlog.landed,
            "parallelism": parallelism,
            "restarts": health.restarts,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    assert sorted(backlog.landed.values()) == sorted(QUICK_VOLUMES)
    assert backlog.shards_with_every_window == SHARDS
    assert (health.state, health.restarts) == ("RUNNING", 0)
    check.assert_exact(len(backlog.outputs.expected))


def test_backlog_across_unequal_shards_gives_every_window_exactly(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures
) -> None:
    run_backlog_case(local_aws, tmp_path, case, 1)


@pytest.mark.full
def test_backlog_across_unequal_shards_at_parallelism_2_gives_every_window_exactly(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures
) -> None:
    run_backlog_case(local_aws, tmp_path, case, 2)


# -- restore in the middle of a drain ----------------------------------------------------------------------------

DRAIN_VOLUMES = (3000, 300, 300, 300)
# 20 records a call at 5 calls a second per shard: the big shard drains in 30 s at the least.
SLOW_SOURCE = {"shard.get-records.max-record-count": "20", "reader.empty-records-fetch-interval": "1 s"}


def latest_checkpoint(checkpoint_dir: Path) -> Path:
    """The newest complete checkpoint the killed job left: the highest ``chk-N`` holding its ``_metadata``."""
    complete = [metadata.parent for metadata in checkpoint_dir.glob("*/chk-*/_metadata")]
    assert complete, f"no complete checkpoint under {checkpoint_dir}"
    return max(complete, key=lambda directory: int(directory.name.removeprefix("chk-")))


def crash(job: Any) -> None:
    """SIGKILL the job's whole process group: the mini cluster dies with no chance to clean up."""
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=30)


@pytest.mark.full
@pytest.mark.parametrize(("restore", "parallelism"), [("crash", 1), ("savepoint", 1), ("crash", 2)])
def test_backlog_restored_mid_drain_gives_every_window_exactly_once(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures, restore: str, parallelism: int
) -> None:
    started = time.monotonic()
    backlog = fill_backlog(local_aws, tmp_path, f"backlog-{restore}-p{parallelism}", DRAIN_VOLUMES, SLOW_SOURCE)
    expected = backlog.outputs.expected
    checkpoints = tmp_path / "checkpoints"
    first_port = free_port()
    first_args = ("--parallelism", str(parallelism), "--checkpoint-dir", str(checkpoints))
    with backlog_job(local_aws, backlog, tmp_path, "job-first.log", first_port, *first_args) as job:
        # Mid-drain: a checkpoint completed and the first windows committed, most of the backlog unread.
        wait_until(lambda: len({w for _, w in backlog.outputs.committed()}) >= 2, 240, "two windows committed")
        before = job_health(first_port)
        committed_before = backlog.outputs.committed()
        if restore == "crash":
            crash(job)
            restore_from = latest_checkpoint(checkpoints)
        else:
            restore_from = stop_with_savepoint(job, first_port, tmp_path / "savepoints")
        interrupted_s = round(time.monotonic() - started, 1)
    committed_at_restore = backlog.outputs.committed()

    second_port = free_port()
    second_args = ("--parallelism", str(parallelism), "--from-savepoint", str(restore_from))
    with backlog_job(local_aws, backlog, tmp_path, "job-restored.log", second_port, *second_args):
        restored = restored_checkpoint(second_port)
        check = wait_for_all_windows(backlog, second_port, 300)
        # What the restored job read: more than nothing means the restored positions were mid-drain.
        reread = settled_source_records_in(second_port)
        health = job_health(second_port)

    check.fill(case, len(backlog.records))
    case.faults_injected = 1
    case.details.update(
        {
            "restore": restore,
            "parallelism": parallelism,
            "restored_from": restore_from.name,
            "restored": restored,
            "checkpoints_before": before.completed_checkpoints,
            "windows": len(expected),
            "windows_committed_before": len(committed_before),
            "windows_committed_at_restore": len(committed_at_restore),
            "records_read_after_restore": reread,
            "records_read_before_restored_snapshot": len(backlog.records) - reread,
            "shards": backlog.landed,
            "restarts": health.restarts,
            "restores": health.restores,
            "interrupted_at_s": interrupted_s,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    assert sorted(backlog.landed.values()) == sorted(DRAIN_VOLUMES)
    assert backlog.shards_with_every_window == SHARDS
    assert before.completed_checkpoints >= 1
    assert 0 < len(committed_at_restore) < len(expected)
    # A restore by path counts as a savepoint restore, whether the path holds a savepoint or a checkpoint.
    assert restored is not None and restored["is_savepoint"] is True
    assert Path(urlparse(restored["external_path"]).path) == restore_from.resolve()
    assert restore_from.name.startswith("chk-" if restore == "crash" else "savepoint-")
    assert (health.state, health.restarts, health.restores) == ("RUNNING", 0, 1)
    # The restored job read a part of the backlog, not all of it again.
    assert 0 < reread < len(backlog.records)
    check.assert_exact(len(expected))
