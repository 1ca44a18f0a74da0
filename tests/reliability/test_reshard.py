"""Resharding: the stream is split, merged and rescaled while records flow and the job, at
parallelism 2, fails over in the middle; every record must still arrive exactly once and no key's
records may be read out of order.

Kinesis keeps a key's records in order within a shard; after a reshard a key's next records go to
a child shard while the rest of them still wait in the parent. The source must read the parent to
its end before the child (the enumerator hands a child out only once its parents are done), or a
child's records overtake the parent's. Only kinesis-mock reshards as Kinesis does (a drained
parent ends with a null ``NextShardIterator`` and names its ``ChildShards``); moto copies records
into the children, so this case runs on kinesis-mock, with S3 on moto.

Records of a handful of keys, each with a per-key counter ``n`` and an event time ``t`` that
increases with ``n``, land in one-second windows keyed by ``k``. The windows cannot show the order
in which records were read, but lateness can: a child record read before its parent's remaining
records would move the watermark past them, and they would be dead-lettered as late; and so would
a child's first records if the watermark moved on, driven by the other shards, while the child
waited for its parents. So a sound run has, per key, windows whose ``n`` values are contiguous
ranges following one another, and no late dead letters; a late record's event time, before or after
the nearest reshard, tells which of the two it was.

To read the exact set of ``n`` values of a window from its aggregates, every record also carries
``b = 2 ** (n % 48)``: the sum of ``b`` over a window spanning fewer than 48 counters is a bit mask
of its counters, and it has as many bits set as the window has records only if no counter is in it
twice (a repeated power of two carries into the next bit).

The failover is a real task failure: the job scores each window with the local model server, and
one of its Python workers is killed, as in ``test_failover.py``. The job restarts from its last
checkpoint, in which parent and child shards are part read.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from config import AppConfig, build_config, write_property_groups
from deploy.local.demo import inference_properties
from deploy.local.job_process import PROCESS_WORKERS, job_id, rest_json, running_job
from deploy.local.kinesis_mock import KinesisMock
from deploy.local.model_server import running_model_server
from deploy.local.stack import LOCAL_ACCOUNT, LocalAws, create_resources, free_port
from deploy.local.testing import Groups, S3Lines, settled, wait_until
from tests.reliability.conftest import CaseFigures
from tests.reliability.support import (
    job_health,
    last_failure,
    python_worker_pids,
    restored_checkpoint,
    wait_for_checkpoint,
    wait_for_restarts,
)

KEYS = 8
HASH_SPACE = 2**128
# Each key has an eighth of the hash space to itself.
KEY_RANGE = HASH_SPACE // KEYS
# One record of every key per tick: about 5 records per key per one-second window.
TICK_S = 0.2
WINDOW_S = 1
MASK_BITS = 48
INITIAL_SHARDS = 2
# Long enough to outlast a subtask's wait for a child shard, short enough to close the last windows soon.
CLOSE_WHEN_IDLE_MS = 10_000
CHECKPOINT_INTERVAL_MS = 1000


def key_name(index: int) -> str:
    return f"key-{index}"


def explicit_hash_key(index: int) -> int:
    """The middle of the key's range of the hash space; the reshards split at range boundaries."""
    return index * KEY_RANGE + KEY_RANGE // 2


class CounterProducer(threading.Thread):
    """Puts one record of every key per tick, ``{"k", "n", "t", "b", "v"}``, until stopped.

    ``n`` counts the key's records from 0 and ``t`` (epoch ms) increases strictly with it, so the
    order of a key's records is the order of their event times. Each key goes to the shard owning
    its explicit hash key. A PutRecords call holds at most one record of a key and an entry Kinesis
    refuses is put again before the next call, so every key's records enter the stream in order.
    There is no catching up after a slow call: a window never holds more than a few records of a key.
    """

    def __init__(self, kinesis: Any, stream_name: str) -> None:
        super().__init__(name="counter-producer", daemon=True)
        self._kinesis = kinesis
        self._stream_name = stream_name
        self._stop_requested = threading.Event()
        self._last_t = [0] * KEYS
        # Records of each key Kinesis accepted: the key's counters 0 .. sent - 1.
        self.sent = [0] * KEYS
        self.error: Exception | None = None

    @property
    def total(self) -> int:
        return sum(self.sent)

    def stop(self) -> None:
        self._stop_requested.set()
        self.join()
        if self.error is not None:
            raise self.error

    def run(self) -> None:
        try:
            while not self._stop_requested.is_set():
                self._put([self._entry(index) for index in range(KEYS)])
                self._stop_requested.wait(TICK_S)
        except Exception as error:  # noqa: BLE001 - raised by stop()
            self.error = error

    def _entry(self, index: int) -> dict[str, Any]:
        n = self.sent[index]
        self._last_t[index] = max(int(time.time() * 1000), self._last_t[index] + 1)
        record = {"k": key_name(index), "n": n, "t": self._last_t[index], "b": 2 ** (n % MASK_BITS), "v": 1}
        return {
            "Data": json.dumps(record, separators=(",", ":")).encode(),
            "PartitionKey": key_name(index),
            "ExplicitHashKey": str(explicit_hash_key(index)),
        }

    def _put(self, entries: list[dict[str, Any]]) -> None:
        pending = entries
        while pending:
            results = self._kinesis.put_records(StreamName=self._stream_name, Records=pending)["Records"]
            refused = []
            for entry, result in zip(pending, results, strict=True):
                if "ErrorCode" in result:
                    refused.append(entry)
                else:
                    self.sent[int(json.loads(entry["Data"])["k"].split("-")[1])] += 1
            pending = refused


def reshard_groups(name: str) -> Groups:
    """Records keyed by ``k`` with event time ``t`` in one-second windows, each window scored by the
    local model server; the source looks for new shards every second."""
    inference = inference_properties("sagemaker", "window", "http://unused")
    inference["features"] = "count,n_mean"
    return {
        "kinesis.source": {
            "stream.arn": f"arn:aws:kinesis:us-east-1:{LOCAL_ACCOUNT}:stream/{name}-in",
            "init.position": "TRIM_HORIZON",
            "shard.discovery.interval": "1 s",
        },
        "records": {
            "format": "json",
            "key.fields": "k",
            "event.time.field": "t",
            "event.time.format": "epoch_ms",
            "watermark.out.of.orderness.ms": "0",
        },
        "window": {
            "size.seconds": str(WINDOW_S),
            "aggregate.fields": "n,b",
            "close.when.idle.ms": str(CLOSE_WHEN_IDLE_MS),
        },
        "sink.s3": {"path": f"s3://{name}/windows"},
        "sink.dlq": {"path": f"s3://{name}/dead-letters"},
        "inference": inference,
    }


@dataclass
class KeyWindow:
    """The counters of one key in one window, read from the window's aggregates."""

    start: str
    counters: list[int]
    # False if the aggregates do not name a set of distinct counters (a counter twice, or too wide a span).
    exact: bool


def window_counters(row: dict[str, Any]) -> KeyWindow:
    count, low, high = int(row["count"]), int(row["n_min"]), int(row["n_max"])
    mask = int(row["b_sum"])
    if high - low >= MASK_BITS or float(row["b_sum"]) != mask or mask.bit_count() != count:
        return KeyWindow(str(row["window_start"]), [low, high], exact=False)
    counters = sorted(low + (bit - low) % MASK_BITS for bit in range(MASK_BITS) if mask >> bit & 1)
    exact = counters[0] == low and counters[-1] == high and sum(counters) == int(row["n_sum"])
    return KeyWindow(str(row["window_start"]), counters, exact)


@dataclass
class ReshardAccounting:
    """Where every key's counters ended up: in windows (scored in S3, or set aside by inference) or
    dead-lettered as late."""

    seen: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    windows: dict[str, list[KeyWindow]] = field(default_factory=lambda: defaultdict(list))
    # (key, n, t) of each record dead-lettered as late.
    late: list[tuple[str, int, int]] = field(default_factory=list)
    # Rows and dead letters that name no key of the case, no counter, or another stage.
    unexpected: list[str] = field(default_factory=list)

    def add_window(self, row: dict[str, Any]) -> None:
        key = str(row.get("k"))
        window = window_counters(row)
        self.windows[key].append(window)
        if window.exact:
            self.seen[key].update(window.counters)
        else:
            self.unexpected.append(f"window without an exact set of counters: {row}")

    def committed(self) -> int:
        return sum(sum(counts.values()) for counts in self.seen.values())

    def missing(self, sent: list[int]) -> list[tuple[str, int]]:
        return [(key_name(i), n) for i in range(KEYS) for n in range(sent[i]) if self.seen[key_name(i)][n] == 0]

    def duplicated(self) -> list[tuple[str, int]]:
        return sorted((key, n) for key, counts in self.seen.items() for n, times in counts.items() if times > 1)

    def strays(self, sent: list[int]) -> list[tuple[str, int]]:
        known = {key_name(i): sent[i] for i in range(KEYS)}
        return sorted(
            (key, n) for key, counts in self.seen.items() for n in counts if key not in known or n >= known[key]
        )

    def keys_out_of_order(self) -> list[str]:
        """Keys whose windows, in event-time order, do not hold increasing contiguous ranges of counters."""
        disordered = []
        for key, windows in sorted(self.windows.items()):
            previous_high = -1
            for window in sorted(windows, key=lambda w: w.start):
                contiguous = window.counters == list(range(window.counters[0], window.counters[-1] + 1))
                if not window.exact or not contiguous or window.counters[0] <= previous_high:
                    disordered.append(key)
                    break
                previous_high = window.counters[-1]
        return disordered


class ReshardOutputs:
    """The case's S3 windows and dead letters."""

    def __init__(self, aws: LocalAws, config: AppConfig) -> None:
        self.windows = S3Lines(aws, config.sink_s3.location)
        self.dead_letters = S3Lines(aws, config.dead_letter.location)

    def account(self) -> ReshardAccounting:
        accounting = ReshardAccounting()
        for row in self.windows.read():
            accounting.add_window(row)
        for letter in self.dead_letters.read():
            stage, reason = letter.get("stage"), str(letter.get("reason"))
            try:
                payload = json.loads(letter["payload"])
            except (KeyError, TypeError, ValueError):
                accounting.unexpected.append(f"dead letter without a JSON payload: {letter}")
                continue
            if stage == "window" and reason.startswith("late: "):
                key, n = str(payload["k"]), int(payload["n"])
                accounting.late.append((key, n, int(payload["t"])))
                accounting.seen[key][n] += 1
            elif stage == "inference" and "window_id" in payload:
                accounting.add_window(payload)
            else:
                accounting.unexpected.append(f"dead letter of stage {stage}: {reason}")
        return accounting

    def latest_window_start(self) -> dict[str, str]:
        """Per key, the start of its latest committed window."""
        latest: dict[str, str] = {}
        for row in self.windows.read():
            key, start = str(row["k"]), str(row["window_start"])
            latest[key] = max(latest.get(key, start), start)
        return latest


def late_record(record: tuple[str, int, int], reshard_times: list[int]) -> dict[str, Any]:
    """A late record and how long after the nearest reshard its event time lies: a record put after a
    reshard went to a child shard (positive), one put before it to the parent (negative)."""
    key, n, t = record
    nearest = min(reshard_times, key=lambda at: abs(t - at), default=None)
    return {"k": key, "n": n, "ms_after_reshard": None if nearest is None else t - nearest}


def iso_seconds(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def wait_for_windows_after(outputs: ReshardOutputs, epoch_s: float, timeout_s: float, what: str) -> None:
    """Wait until every key has a committed window starting after ``epoch_s``: its records put after
    then, in the children of a reshard at that time, have been read."""
    after = iso_seconds(epoch_s + WINDOW_S)

    def every_key_past() -> bool:
        latest = outputs.latest_window_start()
        return len(latest) == KEYS and min(latest.values()) > after

    wait_until(every_key_past, timeout_s, what)


def shard(number: int) -> str:
    return f"shardId-{number:012d}"


def open_shards(kinesis: Any, stream_name: str) -> list[str]:
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    return sorted(s["ShardId"] for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"])


def shard_readers(rest_port: int) -> dict[str, list[str]]:
    """The shards each source subtask read, by subtask index, as far as the REST API saw their
    ``millisBehindLatest`` gauges: it keeps a gauge after its shard is done, and misses a shard read
    for less than its metric refresh interval."""
    jid = job_id(rest_port)
    vertices = rest_json(rest_port, f"/jobs/{jid}")["vertices"]
    (source,) = [v for v in vertices if "Source" in v["name"]]
    readers = {}
    for subtask in range(int(source["parallelism"])):
        metrics = rest_json(rest_port, f"/jobs/{jid}/vertices/{source['id']}/subtasks/{subtask}/metrics")
        shards = re.findall(r"\.shardId\.(shardId-\d+)\.millisBehindLatest$", "\n".join(m["id"] for m in metrics), re.M)
        readers[str(subtask)] = sorted(shards)
    return readers


def wait_active(kinesis: Any, stream_name: str) -> None:
    wait_until(
        lambda: (
            kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["StreamStatus"]
            == "ACTIVE"
        ),
        30,
        f"stream {stream_name} to become ACTIVE",
    )


def kill_a_python_worker(job: Any, rest_port: int) -> dict[str, Any]:
    """SIGKILL one of the job's Python workers; wait until the job restored a checkpoint, runs with new
    workers and completed a checkpoint since. Returns what happened."""
    before = job_health(rest_port)
    workers = wait_until(lambda: python_worker_pids(job), 60, "the job's Python workers")
    killed = workers[0]
    os.kill(killed, signal.SIGKILL)
    started = time.monotonic()
    wait_until(
        lambda: (h := job_health(rest_port)).restores > before.restores and h.state == "RUNNING",
        180,
        f"the job to restore a checkpoint (before the kill: {before})",
    )
    wait_until(lambda: killed not in python_worker_pids(job) and python_worker_pids(job), 120, "new Python workers")
    health = wait_for_checkpoint(rest_port, job_health(rest_port).completed_checkpoints, 120)
    restored = restored_checkpoint(rest_port)
    return {
        "killed_pid": killed,
        "workers": len(workers),
        "restored_checkpoint": restored["id"] if restored else None,
        "restores": health.restores,
        "failure": last_failure(rest_port),
        "recovered_s": round(time.monotonic() - started, 1),
    }


@pytest.mark.full
def test_reshards_with_a_failover_keep_every_key_in_order_and_exactly_once(
    local_aws: LocalAws, kinesis_mock: KinesisMock, tmp_path: Path, case: CaseFigures
) -> None:
    started = time.monotonic()
    aws = local_aws.with_service_endpoint("kinesis", kinesis_mock.endpoint)
    name = f"reshard-{uuid.uuid4().hex[:8]}"
    groups = reshard_groups(name)
    properties = tmp_path / "application_properties.json"
    reshards: list[dict[str, Any]] = []
    reshard_times: list[int] = []
    phases: dict[str, float] = {}

    def phase(what: str) -> None:
        phases[what] = round(time.monotonic() - started, 1)

    with running_model_server(auth="iam", seed=11) as model:
        environ = {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url}
        write_property_groups(properties, groups)
        config = build_config(groups, {**aws.endpoint_environment(), **environ})
        create_resources(aws, config, shards=INITIAL_SHARDS)
        stream = config.source.stream_name
        kinesis = aws.client("kinesis")
        outputs = ReshardOutputs(aws, config)
        producer = CounterProducer(aws.client("kinesis"), stream)
        port = free_port()

        def reshard(operation: str, progress: bool = True, **arguments: Any) -> None:
            """Reshard; unless told otherwise, wait until every key's records put since are in S3."""
            at = time.time()
            reshard_times.append(int(at * 1000))
            getattr(kinesis, operation)(StreamName=stream, **arguments)
            wait_active(kinesis, stream)
            reshards.append({"operation": operation, **arguments, "open_shards": open_shards(kinesis, stream)})
            if progress:
                wait_for_windows_after(outputs, at, 120, f"every key's records after reshard {len(reshards)}")
            phase(f"reshard_{len(reshards)}")

        job_args = ("--checkpoint-interval-ms", str(CHECKPOINT_INTERVAL_MS), "--parallelism", "2")
        job_env = {**environ, **PROCESS_WORKERS}
        with running_job(aws, properties, tmp_path / "job.log", port, job_args, env=job_env) as job:
            phase("running")
            producer.start()
            wait_for_windows_after(outputs, time.time(), 180, "the first windows of every key")
            phase("first_windows")

            # Two shards to four: shardId-0 (keys 0-3) into shardId-2 (keys 0, 1) and shardId-3 (keys
            # 2, 3), shardId-1 (keys 4-7) into shardId-4 (keys 4, 5) and shardId-5 (keys 6, 7).
            reshard("split_shard", ShardToSplit=shard(0), NewStartingHashKey=str(2 * KEY_RANGE))
            reshard("split_shard", ShardToSplit=shard(1), NewStartingHashKey=str(6 * KEY_RANGE))
            # With four shards or more on two subtasks, every subtask reads a live shard beside the
            # ones resharded: its watermark moves on while a child waits for its parents.
            reshard("split_shard", ShardToSplit=shard(2), NewStartingHashKey=str(1 * KEY_RANGE))
            reshard("split_shard", ShardToSplit=shard(5), NewStartingHashKey=str(7 * KEY_RANGE))
            reshard("merge_shards", ShardToMerge=shard(6), AdjacentShardToMerge=shard(7))
            reshard("merge_shards", ShardToMerge=shard(8), AdjacentShardToMerge=shard(9))
            # The failover follows this merge at once, while its parents are drained and the child
            # waits for them.
            reshard("merge_shards", ShardToMerge=shard(3), AdjacentShardToMerge=shard(4), progress=False)
            recovery = kill_a_python_worker(job, port)
            phase("recovered")
            wait_for_windows_after(outputs, time.time(), 180, "windows after the failover")
            # kinesis-mock rescales by one split or merge of the lowest shards per call: to 4 it
            # splits shardId-10 (keys 0, 1), to 2 it merges the halves again and stops at 3 shards.
            reshard("update_shard_count", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
            reshard("update_shard_count", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
            producer.stop()
            phase("producer_stopped")
            sent = list(producer.sent)
            total = producer.total
            # The last windows close once the source has been quiet for close.when.idle.ms.
            settled(lambda: outputs.account().committed() >= total, 120, "every record in S3")
            phase("accounted")
            # One more commit: a duplicate would show up by now.
            wait_for_checkpoint(port, job_health(port).completed_checkpoints, 60)
            health = wait_for_restarts(port, 1, 60)
            accounting = outputs.account()
            final_shards = open_shards(kinesis, stream)
            all_shards = len(kinesis.list_shards(StreamName=stream)["Shards"])
            readers = shard_readers(port)

    late = len(accounting.late)
    keys_disordered = accounting.keys_out_of_order()
    missing = accounting.missing(sent)
    duplicated = accounting.duplicated()
    strays = accounting.strays(sent)
    case.records_in = total
    case.lost = len(missing)
    case.duplicated_s3 = len(duplicated)
    case.faults_injected = len(reshards) + 1
    case.details.update(
        {
            "out_of_order": late + len(keys_disordered),
            "late": late,
            "keys_out_of_order": keys_disordered,
            "reshards": reshards,
            "shards_at_end": final_shards,
            "shards_listed": all_shards,
            "shards_seen_per_subtask": readers,
            "restarts": health.restarts,
            "restores": health.restores,
            "recovery": recovery,
            "records_per_key": sent,
            "windows": sum(len(w) for w in accounting.windows.values()),
            "lost_ids": missing[:10],
            "duplicated_ids": duplicated[:10],
            "late_records": [late_record(record, reshard_times) for record in accounting.late[:10]],
            "stray_ids": strays[:10],
            "unexpected": accounting.unexpected[:5],
            "phases_s": phases,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    assert [r["open_shards"] for r in reshards] == [
        [shard(n) for n in numbers]
        for numbers in (
            (1, 2, 3),
            (2, 3, 4, 5),
            (3, 4, 5, 6, 7),
            (3, 4, 6, 7, 8, 9),
            (3, 4, 8, 9, 10),
            (3, 4, 10, 11),
            (10, 11, 12),
            (11, 12, 13, 14),
            (11, 12, 15),
        )
    ]
    assert (health.state, health.restarts, health.restores) == ("RUNNING", 1, 1)
    assert (missing, duplicated, strays, accounting.unexpected) == ([], [], [], [])
    assert (late, keys_disordered) == (0, [])
