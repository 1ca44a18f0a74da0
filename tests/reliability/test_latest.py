"""LATEST across failures and a savepoint: a job that starts at LATEST must read every record put
into any shard after it started, whatever happened to the job since.

The source stores LATEST as AT_TIMESTAMP of the enumerator's first start, so a shard that had no
record at a checkpoint or savepoint is checkpointed at that timestamp, not at "latest" again. The
cases run on a two-shard stream, put the first records on shard A only, so that shard B's split
holds its initial position when the job is checkpointed, stopped or restarted, and then put
records on B (or both) and check that none is lost:

- after a failure restored from a checkpoint taken while B was empty,
- after a failure before any checkpoint, where the job restarts from scratch and LATEST must
  stay the time the job first started, not the restart's,
- after a stop with savepoint while B was empty, resumed from the savepoint location exactly as
  the REST API reports it (``file:/...``), with records put on both shards while it was stopped.

Records put before the job started must never arrive. The failure is the one of the failover
cases: the Python worker of the inference stage is killed while records flow. Checkpoints run
every day in the failure cases, so that the only ones are those the case triggers through the
REST API (``POST /jobs/<id>/checkpoints``); the S3 sinks commit on those.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploy.local.job_process import job_id, rest_json
from deploy.local.model_server import running_model_server
from deploy.local.stack import LocalAws, free_port
from deploy.local.testing import Groups, prepare, settled, wait_until
from tests.reliability.conftest import CaseFigures
from tests.reliability.support import (
    PROPERTIES_FILE,
    Accounting,
    CaseOutputs,
    CaseRun,
    IdRecords,
    id_record_groups,
    job_health,
    kill_python_worker,
    last_failure,
    python_worker_pids,
    restored_checkpoint,
    wait_for_checkpoint,
    wait_for_restarts,
)

# Records per shard and phase: a few seconds of event time (10 ms apart), so some windows close
# before the next phase while the last ones are still open.
PER_PHASE = 200
# Records put before the job starts, half on each shard; LATEST must skip them all.
EARLY = 20
# Shard B's records of the failure cases are put at this rate, the failure coming in their midst.
RATE = 100
# No periodic checkpoint in the failure cases: only those the case triggers.
NO_PERIODIC_CHECKPOINT_MS = 86_400_000
SOURCE_OPTIONS = {"init.position": "LATEST", "shard.discovery.interval": "1 s"}
# Shard B is idle before its first record: the watermark follows A so that A's windows close.
# Only where no shard has a backlog after the restore: a shard whose fetched records wait that long
# behind another shard's (a restarted job's first Python bundles take seconds) is marked idle too,
# and the other shard's records then make its own late.
B_IDLE_OPTIONS = {"watermark.idleness.ms": "2000"}


# -- a case on a stream of two shards ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamShards:
    """A stream's shards in hash key order, each with the explicit hash key that puts a record on it."""

    stream_name: str
    ids: tuple[str, ...]
    hash_keys: tuple[str, ...]

    @classmethod
    def of(cls, kinesis: Any, stream_name: str) -> StreamShards:
        shards = sorted(
            kinesis.list_shards(StreamName=stream_name)["Shards"],
            key=lambda shard: int(shard["HashKeyRange"]["StartingHashKey"]),
        )
        return cls(
            stream_name,
            tuple(shard["ShardId"] for shard in shards),
            tuple(shard["HashKeyRange"]["StartingHashKey"] for shard in shards),
        )

    def put(self, kinesis: Any, shard: int, payloads: list[bytes]) -> list[str]:
        """Put the payloads on shard number ``shard`` in order; their sequence numbers. Fails if Kinesis put
        one elsewhere or refused one (a retried entry would be out of order)."""
        sequence_numbers: list[str] = []
        for start in range(0, len(payloads), 500):
            entries = [
                {"Data": data, "PartitionKey": "p", "ExplicitHashKey": self.hash_keys[shard]}
                for data in payloads[start : start + 500]
            ]
            results = kinesis.put_records(StreamName=self.stream_name, Records=entries)["Records"]
            landed = {result.get("ShardId", result.get("ErrorCode")) for result in results}
            assert landed == {self.ids[shard]}, f"records for {self.ids[shard]} landed on {landed}"
            sequence_numbers.extend(result["SequenceNumber"] for result in results)
        return sequence_numbers


class ShardWriter(threading.Thread):
    """Puts ``payloads`` on one shard at ``rate`` records a second, in order; ``sent`` counts them."""

    def __init__(self, kinesis: Any, shards: StreamShards, shard: int, payloads: list[bytes], rate: float) -> None:
        super().__init__(name="shard-writer", daemon=True)
        self._kinesis, self._shards, self._shard = kinesis, shards, shard
        self._payloads, self._rate = payloads, rate
        self.sent = 0
        self.error: Exception | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        try:
            while self.sent < len(self._payloads):
                due = min(len(self._payloads), int((time.monotonic() - start) * self._rate) + 1)
                if due > self.sent:
                    self._shards.put(self._kinesis, self._shard, self._payloads[self.sent : due])
                    self.sent = due
                self.finished.wait(0.05)
        except Exception as error:  # noqa: BLE001 - surfaced by the case through .error
            self.error = error
        finally:
            self.finished.set()

    def wait(self, timeout_s: float) -> int:
        wait_until(self.finished.is_set, timeout_s, "the shard writer to put every record")
        if self.error is not None:
            raise self.error
        return self.sent


@contextmanager
def two_shard_run(
    aws: LocalAws, directory: Path, prefix: str, source: Groups | None = None, inference_mode: str | None = "record"
) -> Iterator[tuple[CaseRun, StreamShards]]:
    """Like :func:`support.case_run`, on an input stream of two shards, with ``source`` (the
    ``kinesis.source`` and ``records`` options) on top of the defaults, and Flink's log in the case's
    folder (``flink-log``)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    groups = id_record_groups(name, inference_mode)
    for group, options in (source or {}).items():
        groups[group].update(options)
    kinesis = aws.client("kinesis")
    stream_name = f"{name}-in"
    # Created before the other resources, which then find it.
    kinesis.create_stream(StreamName=stream_name, ShardCount=2)
    wait_until(
        lambda: (
            kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["StreamStatus"]
            == "ACTIVE"
        ),
        30,
        f"stream {stream_name} to become ACTIVE",
    )
    logs = directory / "flink-log"
    logs.mkdir()
    with running_model_server(auth="iam", seed=11) as model:
        environ = {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url, "FLINK_LOG_DIR": str(logs)}
        config = prepare(aws, groups, directory / PROPERTIES_FILE, environ)
        assert config.source.stream_name == stream_name
        run = CaseRun(aws, directory, IdRecords(name), config, model, CaseOutputs(aws, config), environ)
        yield run, StreamShards.of(kinesis, stream_name)


def put_closing(run: CaseRun, shards: StreamShards, count: int) -> None:
    """The closing record on every shard: each shard's watermark then passes every window of the case."""
    for shard in range(len(shards.ids)):
        shards.put(run.aws.client("kinesis"), shard, [run.records.closing(count)])


def payloads(records: IdRecords, indexes: range) -> list[bytes]:
    return [records.payload(index) for index in indexes]


def early_records(run: CaseRun, shards: StreamShards) -> IdRecords:
    """Put records before the job starts, half on each shard; a job at LATEST must never read them."""
    early = IdRecords(f"{run.records.prefix}-early", malformed_every=0)
    half = EARLY // 2
    shards.put(run.aws.client("kinesis"), 0, payloads(early, range(half)))
    shards.put(run.aws.client("kinesis"), 1, payloads(early, range(half, EARLY)))
    return early


def early_received(run: CaseRun, early: IdRecords) -> int:
    """How many times records put before the job started occur in its output."""
    accounting = run.outputs.account(early, EARLY)
    return sum(accounting.occurrences[early.id(index)] for index in range(EARLY))


# -- checkpoints on demand --------------------------------------------------------------------------------------


def trigger_checkpoint(rest_port: int, timeout_s: float = 60) -> int:
    """Trigger a checkpoint through the REST API and wait until it completed; its id."""
    jid = job_id(rest_port)
    trigger = rest_json(rest_port, f"/jobs/{jid}/checkpoints", {})["request-id"]
    answer: dict[str, Any] = wait_until(
        lambda: (a := rest_json(rest_port, f"/jobs/{jid}/checkpoints/{trigger}"))["status"]["id"] == "COMPLETED" and a,
        timeout_s,
        "the triggered checkpoint",
    )
    operation = answer["operation"]
    if "failure-cause" in operation:
        raise RuntimeError(f"checkpoint failed: {operation['failure-cause'].get('stack-trace', operation)}")
    return int(operation["checkpointId"])


def committed_by_checkpoints(rest_port: int, condition: Callable[[], bool], timeout_s: float, what: str) -> int:
    """Trigger checkpoints (the S3 sinks commit on them) until ``condition`` holds; the last one's id."""
    last: list[int] = []

    def commit_and_check() -> bool:
        last.append(trigger_checkpoint(rest_port))
        return condition()

    wait_until(commit_and_check, timeout_s, what)
    return last[-1]


def account_all_by_checkpoints(run: CaseRun, rest_port: int, count: int, timeout_s: float) -> Accounting:
    """Commit until every record of the case is accounted for, then once more (a duplicate would show);
    the accounting then."""
    settled(
        lambda: trigger_checkpoint(rest_port) and run.outputs.account(run.records, count).complete(run.records),
        timeout_s,
        "every id committed",
    )
    trigger_checkpoint(rest_port)
    return run.outputs.account(run.records, count)


def all_tasks_running(rest_port: int) -> bool:
    """Whether every task of the job runs (the job is RUNNING before its tasks are)."""
    vertices = rest_json(rest_port, f"/jobs/{job_id(rest_port)}")["vertices"]
    return all(vertex["status"] == "RUNNING" for vertex in vertices)


def source_records_out(rest_port: int) -> int:
    """How many records the Kinesis source operator has emitted (the REST API refreshes metrics every few
    seconds). Windows' output would not do: the local window aggregate chained to the source holds
    records until the watermark closes their windows."""
    jid = job_id(rest_port)
    vertices = rest_json(rest_port, f"/jobs/{jid}")["vertices"]
    (source,) = [vertex for vertex in vertices if vertex["name"].startswith("Source: Kinesis source")]
    path = f"/jobs/{jid}/vertices/{source['id']}/subtasks/metrics"
    (metric,) = [
        m["id"]
        for m in rest_json(rest_port, path)
        if m["id"].startswith("Source__Kinesis_source") and m["id"].endswith(".numRecordsOut")
    ]
    (value,) = rest_json(rest_port, f"{path}?get={metric}")
    return int(float(value["sum"]))


# -- the cases --------------------------------------------------------------------------------------------------


def fill_shard_figures(
    case: CaseFigures, accounting: Accounting, records: IdRecords, indexes: range, shard: str
) -> None:
    """The written, received and lost records of the case's records ``indexes`` (those of one shard or both)."""
    received = sum(1 for index in indexes if accounting.occurrences[records.id(index)] > 0)
    case.details.update(
        {f"{shard}_written": len(indexes), f"{shard}_received": received, f"{shard}_lost": len(indexes) - received}
    )


def fail_while_b_is_written(
    run: CaseRun, shards: StreamShards, job: Any, rest_port: int, b_indexes: range
) -> dict[str, Any]:
    """Put B's records at ``RATE``; kill the Python worker once half are in (the task fails at the next
    record) and wait until the job runs again with a new worker. Returns what happened."""
    before = job_health(rest_port)
    writer = ShardWriter(run.aws.client("kinesis"), shards, 1, payloads(run.records, b_indexes), RATE)
    writer.start()
    wait_until(lambda: writer.sent >= len(b_indexes) // 2 or writer.finished.is_set(), 60, "half of B's records")
    sent_at_kill = writer.sent
    killed = kill_python_worker(job)
    health = wait_for_restarts(rest_port, before.restarts + 1, 180)
    wait_until(lambda: job_health(rest_port).state == "RUNNING", 120, "the job RUNNING again")
    wait_until(lambda: python_worker_pids(job) not in ([], [killed]), 120, "a new Python worker")
    writer.wait(60)
    restored = restored_checkpoint(rest_port)
    return {
        "b_sent_at_kill": sent_at_kill,
        "checkpoints_before_kill": before.completed_checkpoints,
        "restored_checkpoint": restored["id"] if restored else None,
        "restarts": health.restarts,
        "restores": job_health(rest_port).restores,
        "failure": last_failure(rest_port),
    }


@pytest.mark.full
def test_latest_shard_empty_at_the_checkpoint_loses_nothing_on_restore(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures
) -> None:
    started = time.monotonic()
    options = {"kinesis.source": SOURCE_OPTIONS, "records": B_IDLE_OPTIONS}
    a_indexes, b_indexes = range(PER_PHASE), range(PER_PHASE, 2 * PER_PHASE)
    count = 2 * PER_PHASE
    with two_shard_run(local_aws, tmp_path, "latest-ckpt", options) as (run, shards):
        early = early_records(run, shards)
        port = free_port()
        with run.job(port, NO_PERIODIC_CHECKPOINT_MS) as job:
            shards.put(local_aws.client("kinesis"), 0, payloads(run.records, a_indexes))
            # A's first windows close (B is idle) and are committed: the checkpoint holds A's progress
            # and B's split at its initial position.
            first_half = PER_PHASE // 2
            checkpoint = committed_by_checkpoints(
                port,
                lambda: run.outputs.account(run.records, first_half).complete(run.records),
                120,
                "A's first windows committed",
            )
            committed_before = run.outputs.account(run.records, count)
            failure = fail_while_b_is_written(run, shards, job, port, b_indexes)
            put_closing(run, shards, count)
            accounting = account_all_by_checkpoints(run, port, count, 180)
            health = job_health(port)
            early_seen = early_received(run, early)

    accounting.fill(case, run.records, count)
    case.faults_injected = 1 + run.records.malformed_count(count)
    fill_shard_figures(case, accounting, run.records, b_indexes, "b")
    case.details.update(
        {
            "shards": list(shards.ids),
            "checkpoint_before_b": checkpoint,
            "committed_before_b": len(committed_before.occurrences),
            "failure": failure,
            "early_written": EARLY,
            "early_received": early_seen,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    assert failure["checkpoints_before_kill"] == checkpoint
    # Restored from the checkpoint taken before B's first record: no other came in between.
    assert (failure["restored_checkpoint"], failure["restarts"], failure["restores"]) == (checkpoint, 1, 1)
    assert (health.state, health.restarts, health.restores) == ("RUNNING", 1, 1)
    assert (case.details["b_written"], case.details["b_lost"]) == (PER_PHASE, 0)
    assert early_seen == 0
    accounting.assert_exactly_once(run.records)
    assert accounting.check_outcomes(run.records, count, "record", run.model.model) == []
    assert set(committed_before.occurrences) <= set(accounting.occurrences)


@pytest.mark.full
def test_latest_is_the_first_start_when_failing_before_any_checkpoint(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures
) -> None:
    started = time.monotonic()
    # Both shards have a backlog at the restart, A's split first (the order of discovery), so B's
    # fetched records wait behind A's, whose event times are earlier: B marked idle meanwhile is harmless.
    options = {"kinesis.source": SOURCE_OPTIONS, "records": B_IDLE_OPTIONS}
    a_indexes, b_indexes = range(PER_PHASE), range(PER_PHASE, 2 * PER_PHASE)
    count = 2 * PER_PHASE
    with two_shard_run(local_aws, tmp_path, "latest-scratch", options) as (run, shards):
        early = early_records(run, shards)
        port = free_port()
        with run.job(port, NO_PERIODIC_CHECKPOINT_MS) as job:
            wait_until(lambda: all_tasks_running(port), 120, "every task RUNNING")
            shards.put(local_aws.client("kinesis"), 0, payloads(run.records, a_indexes))
            wait_until(lambda: source_records_out(port) >= PER_PHASE, 120, "A's records read")
            records_out_before_b = source_records_out(port)
            # B's records are put after the job started and, half of them, before it restarts.
            failure = fail_while_b_is_written(run, shards, job, port, b_indexes)
            put_closing(run, shards, count)
            accounting = account_all_by_checkpoints(run, port, count, 180)
            health = job_health(port)
            early_seen = early_received(run, early)

    accounting.fill(case, run.records, count)
    case.faults_injected = 1 + run.records.malformed_count(count)
    fill_shard_figures(case, accounting, run.records, a_indexes, "a")
    fill_shard_figures(case, accounting, run.records, b_indexes, "b")
    case.details.update(
        {
            "shards": list(shards.ids),
            "records_out_before_b": records_out_before_b,
            "failure": failure,
            "early_written": EARLY,
            "early_received": early_seen,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    # Restarted from scratch: no checkpoint before the failure, none restored.
    assert failure["checkpoints_before_kill"] == 0
    assert (failure["restored_checkpoint"], failure["restarts"], failure["restores"]) == (None, 1, 0)
    assert (health.state, health.restarts, health.restores) == ("RUNNING", 1, 0)
    assert (case.details["a_lost"], case.details["b_written"], case.details["b_lost"]) == (0, PER_PHASE, 0)
    assert early_seen == 0
    accounting.assert_exactly_once(run.records)
    assert accounting.check_outcomes(run.records, count, "record", run.model.model) == []


def stop_with_reported_savepoint(job: Any, rest_port: int, target_dir: Path, timeout_s: float = 120) -> str:
    """Stop the job with a savepoint, as ``job_process.stop_with_savepoint`` does, and return the savepoint's
    location exactly as the REST API reports it.

    The trigger's answer is COMPLETED only once the job has ended, and the local cluster, REST API
    included, goes away with the job's process right after: the answer is read at short intervals,
    and the case fails if the process ended before it was read. (The checkpoint statistics, which
    report the savepoint earlier, are cached for seconds by the REST API.)
    """
    jid = job_id(rest_port)
    request = {"targetDirectory": target_dir.resolve().as_uri(), "drain": False}
    trigger = rest_json(rest_port, f"/jobs/{jid}/stop", request)["request-id"]
    deadline = time.monotonic() + timeout_s
    operation: dict[str, Any] | None = None
    while operation is None:
        ended = job.poll() is not None
        try:
            answer = rest_json(rest_port, f"/jobs/{jid}/savepoints/{trigger}")
        except OSError:
            answer = None
        if answer is not None and answer["status"]["id"] == "COMPLETED":
            operation = answer["operation"]
        elif ended:
            raise AssertionError("the job's process ended before the REST API reported the savepoint")
        elif time.monotonic() > deadline:
            raise TimeoutError(f"the savepoint did not complete within {timeout_s:.0f} s")
        else:
            time.sleep(0.02)
    if "failure-cause" in operation:
        raise AssertionError(f"stop with savepoint failed: {operation['failure-cause']}")
    assert job.wait(timeout=timeout_s) == 0
    return str(operation["location"])


@pytest.mark.full
def test_latest_shard_empty_at_a_savepoint_loses_nothing_on_resume(
    local_aws: LocalAws, tmp_path: Path, case: CaseFigures
) -> None:
    started = time.monotonic()
    # Both shards have a backlog at the resume: the default idleness, so no window closes before the stop.
    options = {"kinesis.source": SOURCE_OPTIONS}
    first, stopped = range(PER_PHASE), range(PER_PHASE, 3 * PER_PHASE)
    count = 3 * PER_PHASE
    savepoints = tmp_path / "savepoints"
    with two_shard_run(local_aws, tmp_path, "latest-save", options) as (run, shards):
        early = early_records(run, shards)
        kinesis = local_aws.client("kinesis")
        first_port = free_port()
        with run.job(first_port, 1000, log_name="job-first.log") as job:
            wait_until(lambda: all_tasks_running(first_port), 120, "every task RUNNING")
            shards.put(kinesis, 0, payloads(run.records, first))
            # A's records are read and in the windows' state (or set aside) when the job stops.
            wait_until(lambda: source_records_out(first_port) >= PER_PHASE, 120, "A's records read")
            location = stop_with_reported_savepoint(job, first_port, savepoints)
            committed_at_stop = run.outputs.account(run.records, count)

        # While stopped: records on both shards, alternately, in index order on each.
        shards.put(kinesis, 0, payloads(run.records, range(stopped.start, stopped.stop, 2)))
        shards.put(kinesis, 1, payloads(run.records, range(stopped.start + 1, stopped.stop, 2)))
        second_port = free_port()
        with run.job(second_port, 1000, "--from-savepoint", location, log_name="job-resumed.log"):
            restored = restored_checkpoint(second_port)
            put_closing(run, shards, count)
            settled(lambda: run.outputs.account(run.records, count).complete(run.records), 180, "every id committed")
            health = wait_for_checkpoint(second_port, job_health(second_port).completed_checkpoints, 60)
            accounting = run.outputs.account(run.records, count)
            early_seen = early_received(run, early)

    accounting.fill(case, run.records, count)
    case.faults_injected = 1 + run.records.malformed_count(count)
    fill_shard_figures(case, accounting, run.records, stopped, "both")
    fill_shard_figures(case, accounting, run.records, range(stopped.start + 1, stopped.stop, 2), "b")
    case.details.update(
        {
            "shards": list(shards.ids),
            "savepoint_location": location,
            "accounted_at_stop": len(committed_at_stop.occurrences),
            "restored": restored,
            "restarts": health.restarts,
            "early_written": EARLY,
            "early_received": early_seen,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    (metadata,) = savepoints.glob("savepoint-*/_metadata")
    assert location == f"file:{metadata.parent}"
    assert restored is not None and restored["is_savepoint"] is True
    assert restored["external_path"] == location
    assert (health.state, health.restarts) == ("RUNNING", 0)
    assert (case.details["both_written"], case.details["both_lost"]) == (2 * PER_PHASE, 0)
    assert (case.details["b_written"], case.details["b_lost"]) == (PER_PHASE, 0)
    assert early_seen == 0
    accounting.assert_exactly_once(run.records)
    assert accounting.check_outcomes(run.records, count, "record", run.model.model) == []
    assert set(committed_at_stop.occurrences) <= set(accounting.occurrences)
