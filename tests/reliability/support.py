"""What the reliability cases share: records with unique ids, their accounting, the job's REST API
and its Python workers.

Record-level accounting through the real windowed pipeline: the record id is the window key
(``records.key.fields = id``), so every window row holds exactly one record (``count`` 1) and
names it, and a record the job sets aside carries its id in the raw payload of its dead letter.
Every id put into the stream must then appear exactly once across the S3 windows and the dead
letters, whatever the endpoint, the job's Python workers or a stop and restart did meanwhile.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from config import AppConfig
from deploy.local.demo import inference_properties
from deploy.local.job_process import PROCESS_WORKERS, job_id, rest_json, running_job
from deploy.local.model_server import Faults, LinearFareModel, ModelServerHandle, running_model_server
from deploy.local.parquet_windows import S3ParquetWindows
from deploy.local.producer import RecordProducer
from deploy.local.stack import LOCAL_ACCOUNT, LocalAws, delivery_prefix
from deploy.local.taxi import COLUMNS, random_trip
from deploy.local.testing import Groups, S3Lines, prepare, read_stream, settled, wait_until
from tests.reliability.conftest import CaseFigures
from udfs.output import window_columns

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
# Event time advances this much per record; a window holds one record of each key anyway.
STEP_MS = 10
WINDOW_S = 1
DEAD_LETTER_STAGES = frozenset({"parse", "validate", "window", "inference"})
_WORKER_MODULE = b"pyflink.fn_execution.beam.beam_boot"
PROPERTIES_FILE = "application_properties.json"


@dataclass(frozen=True)
class IdRecords:
    """The records of one case: record ``i`` is a taxi trip with the unique id ``<prefix>-<i>``.

    Every ``malformed_every``-th record is broken, alternately as a JSON text cut short (stage
    ``parse``) and as a trip without its distance (stage ``validate``); both keep the id in their
    text. The closing record's event time lies past every window of the case, so the watermark
    closes them all; it is not counted as one of the case's records.
    """

    prefix: str
    malformed_every: int = 10

    def id(self, index: int) -> str:
        return f"{self.prefix}-{index:06d}"

    @property
    def closing_id(self) -> str:
        return f"{self.prefix}-closing"

    def fields(self, index: int) -> dict[str, Any]:
        trip = random_trip(random.Random(f"{self.prefix}/{index}"))
        return {
            "id": self.id(index),
            "t": T0 + index * STEP_MS,
            "trip_distance": trip[COLUMNS.index("trip_distance")],
            "duration_seconds": trip[COLUMNS.index("duration_seconds")],
            "fare_amount": trip[COLUMNS.index("fare_amount")],
        }

    def malformed(self, index: int) -> str | None:
        """The dead-letter stage record ``index`` must get for being broken; None if it is sound."""
        if not self.malformed_every or index % self.malformed_every != self.malformed_every // 2:
            return None
        return "parse" if (index // self.malformed_every) % 2 == 0 else "validate"

    def malformed_count(self, count: int) -> int:
        """How many of records ``0 .. count - 1`` are broken."""
        return sum(1 for index in range(count) if self.malformed(index) is not None)

    def payload(self, index: int) -> bytes:
        fields = self.fields(index)
        stage = self.malformed(index)
        if stage == "validate":
            del fields["trip_distance"]
        text = json.dumps(fields, separators=(",", ":"))
        if stage == "parse":
            text = text[: text.index(',"trip_distance"')]
        return text.encode()

    def expected_reason(self, index: int) -> str:
        return "not a JSON object" if self.malformed(index) == "parse" else "missing or non-numeric field trip_distance"

    def closing(self, count: int) -> bytes:
        fields = {**self.fields(count), "id": self.closing_id, "t": T0 + count * STEP_MS + 60_000}
        return json.dumps(fields, separators=(",", ":")).encode()

    def put_closing(self, aws: LocalAws, stream_name: str, count: int) -> None:
        aws.client("kinesis").put_record(StreamName=stream_name, Data=self.closing(count), PartitionKey="1")


def id_record_groups(name: str, inference_mode: str | None = None, delivery: bool = False) -> Groups:
    """Property groups of a case: JSON trips keyed by ``id``, one-second windows, from the stream's start.

    ``inference_mode`` (``record`` or ``window``) adds the SageMaker endpoint of the local model
    server; its URL comes from ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``.
    """
    groups: Groups = {
        "kinesis.source": {
            "stream.arn": f"arn:aws:kinesis:us-east-1:{LOCAL_ACCOUNT}:stream/{name}-in",
            "init.position": "TRIM_HORIZON",
        },
        "records": {
            "format": "json",
            "key.fields": "id",
            "event.time.field": "t",
            "event.time.format": "epoch_ms",
            "watermark.out.of.orderness.ms": "0",
        },
        "window": {"size.seconds": str(WINDOW_S), "aggregate.fields": "trip_distance,duration_seconds"},
        "sink.s3": {"path": f"s3://{name}/windows"},
        "sink.dlq": {"path": f"s3://{name}/dead-letters"},
    }
    if delivery:
        groups["sink.delivery"] = {"type": "firehose", "stream.name": f"{name}-out"}
    if inference_mode is not None:
        # The URL only matters to API Gateway endpoints; SageMaker's comes from the environment.
        groups["inference"] = inference_properties("sagemaker", inference_mode, "http://unused")
    return groups


@dataclass
class Accounting:
    """Where each id of a case ended up: ``occurrences`` counts it across windows and dead letters."""

    expected: int
    occurrences: Counter[str] = field(default_factory=Counter)
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead_letters: dict[str, dict[str, Any]] = field(default_factory=dict)
    strays: list[str] = field(default_factory=list)
    unnamed_dead_letters: int = 0
    bad_dead_letters: int = 0

    def missing(self, records: IdRecords) -> list[str]:
        return [records.id(i) for i in range(self.expected) if self.occurrences[records.id(i)] == 0]

    @property
    def duplicated(self) -> list[str]:
        return sorted(name for name, count in self.occurrences.items() if count > 1)

    def complete(self, records: IdRecords) -> bool:
        return not self.missing(records)

    def assert_exactly_once(self, records: IdRecords) -> None:
        assert self.missing(records) == []
        assert self.duplicated == []
        assert self.strays == []
        assert (self.unnamed_dead_letters, self.bad_dead_letters) == (0, 0)

    def fill(self, case: CaseFigures, records: IdRecords, sent: int) -> None:
        """The case's records, losses and duplicates, with the ids behind them and where the records went."""
        case.records_in = sent
        case.lost = len(self.missing(records))
        case.duplicated_s3 = len(self.duplicated)
        case.details.update(
            {
                "malformed": records.malformed_count(sent),
                "windows": len(self.windows),
                "dead_letters": dict(Counter(letter["stage"] for letter in self.dead_letters.values())),
                "lost_ids": self.missing(records)[:10],
                "duplicated_ids": self.duplicated[:10],
                "stray_ids": self.strays[:10],
            }
        )

    def check_outcomes(self, records: IdRecords, count: int, mode: str, model: LinearFareModel) -> list[str]:
        """Assert where each record went: a malformed one to the dead letters with its stage and reason, a
        sound one to its own window with the model's prediction, or else to the inference stage's dead
        letters, whose ids are returned."""
        set_aside = []
        for index in range(count):
            name = records.id(index)
            stage = records.malformed(index)
            if stage is not None:
                letter = self.dead_letters[name]
                assert (letter["stage"], letter["reason"]) == (stage, records.expected_reason(index))
            elif name in self.windows:
                window, trip = self.windows[name], records.fields(index)
                (prediction,) = model.predict([[trip["trip_distance"], trip["duration_seconds"]]])
                assert window["count"] == 1
                assert window["trip_distance_sum"] == trip["trip_distance"]
                if mode == "record":
                    assert window["prediction_sum"] == pytest.approx(prediction, rel=1e-12)
                    error = abs(prediction - trip["fare_amount"])
                    assert window["mae"] == pytest.approx(error, rel=1e-9, abs=1e-12)
                else:
                    assert window["prediction"] == pytest.approx(prediction, rel=1e-12)
            else:
                assert self.dead_letters[name]["stage"] == "inference", self.dead_letters[name]
                set_aside.append(name)
        return set_aside


class CaseOutputs:
    """The job's S3 windows, dead letters and delivery stream for one case."""

    def __init__(self, aws: LocalAws, config: AppConfig) -> None:
        self._aws = aws
        self._config = config
        self.windows: S3Lines | S3ParquetWindows = (
            S3ParquetWindows(aws, config.sink_s3.location, window_columns(config))
            if config.sink_s3.format == "parquet"
            else S3Lines(aws, config.sink_s3.location)
        )
        self.dead_letters = S3Lines(aws, config.dead_letter.location)
        delivery = config.delivery
        self._delivered = (
            S3Lines(aws, config.sink_s3.location, delivery_prefix(config))
            if delivery is not None and delivery.type == "firehose"
            else None
        )

    def account(self, records: IdRecords, expected: int) -> Accounting:
        """Every id's occurrences in the committed S3 output now (the closing record's aside)."""
        accounting = Accounting(expected)
        pattern = re.compile(rf"{re.escape(records.prefix)}-(\d{{6}}|closing)")
        known = {records.id(i) for i in range(expected)}

        def count(name: str, times: int) -> None:
            if name == records.closing_id:
                return
            accounting.occurrences[name] += times
            if name not in known:
                accounting.strays.append(name)

        for window in self.windows.read():
            count(str(window["id"]), int(window["count"]))
            accounting.windows[str(window["id"])] = window
        for letter in self.dead_letters.read():
            if letter.get("stage") not in DEAD_LETTER_STAGES or not letter.get("reason"):
                accounting.bad_dead_letters += 1
            match = pattern.search(str(letter.get("payload")))
            if match is None:
                accounting.unnamed_dead_letters += 1
                continue
            # A window-mode inference dead letter holds the window row, with its count.
            times = _window_count(str(letter["payload"]))
            count(match.group(0), times)
            accounting.dead_letters[match.group(0)] = letter
        return accounting

    def committed_ids(self, records: IdRecords) -> int:
        """How many distinct ids of the case the committed S3 output holds now: the job's progress."""
        return len(self.account(records, 0).occurrences)

    def delivered(self) -> list[dict[str, Any]]:
        """The window records in the delivery stream, duplicates included."""
        delivery = self._config.delivery
        if delivery is None:
            return []
        if self._delivered is not None:
            return self._delivered.read()
        data = b"".join(read_stream(self._aws, delivery.stream_name)).decode()
        return [json.loads(line) for line in data.split("\n") if line]


def _window_count(payload: str) -> int:
    try:
        document = json.loads(payload)
    except ValueError:
        return 1
    if isinstance(document, dict) and "window_id" in document and "count" in document:
        return int(document["count"])
    return 1


def wait_for_accounting(outputs: CaseOutputs, records: IdRecords, expected: int, timeout_s: float) -> Accounting:
    """Wait until every id has arrived somewhere; return the accounting then, or as it is at the deadline."""
    settled(lambda: outputs.account(records, expected).complete(records), timeout_s, "every id")
    return outputs.account(records, expected)


# -- the job on the local cluster --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobHealth:
    state: str
    # Flink's numRestarts metric; the REST API refreshes metrics every few seconds, so it lags a restart.
    restarts: int
    completed_checkpoints: int
    # Restores from a checkpoint, counted by the checkpoint statistics as soon as they happen.
    restores: int


def job_health(rest_port: int) -> JobHealth:
    """The job's state, restarts, completed checkpoints and restores, from the local cluster's REST API."""
    jid = job_id(rest_port)
    state = str(rest_json(rest_port, f"/jobs/{jid}")["state"])
    # The REST API answers metrics from a store it refreshes now and then; briefly it may not hold them yet.
    (metric,) = wait_until(lambda: rest_json(rest_port, f"/jobs/{jid}/metrics?get=numRestarts"), 30, "numRestarts")
    counts = rest_json(rest_port, f"/jobs/{jid}/checkpoints")["counts"]
    return JobHealth(state, int(metric["value"]), int(counts["completed"]), int(counts["restored"]))


def wait_for_restarts(rest_port: int, restarts: int, timeout_s: float) -> JobHealth:
    """Wait until the numRestarts metric reaches ``restarts`` (it lags the restores); the health then."""
    result: JobHealth = wait_until(
        lambda: (h := job_health(rest_port)).restarts >= restarts and h, timeout_s, f"{restarts} restarts"
    )
    return result


def restored_checkpoint(rest_port: int) -> dict[str, Any] | None:
    """The checkpoint or savepoint the job last restored from (``is_savepoint``, ``external_path``)."""
    latest = rest_json(rest_port, f"/jobs/{job_id(rest_port)}/checkpoints")["latest"]
    restored: dict[str, Any] | None = latest.get("restored")
    return restored


def last_failure(rest_port: int) -> str | None:
    """The exception of the job's latest failure, as the REST API's exception history names it."""
    entries = rest_json(rest_port, f"/jobs/{job_id(rest_port)}/exceptions")["exceptionHistory"]["entries"]
    if not entries:
        return None
    first_line = str(entries[0].get("stacktrace") or entries[0]["exceptionName"]).split("\n", 1)[0]
    return first_line[:300]


def wait_for_checkpoint(rest_port: int, after: int, timeout_s: float) -> JobHealth:
    """Wait until more than ``after`` checkpoints have completed."""
    result: JobHealth = wait_until(
        lambda: (h := job_health(rest_port)).completed_checkpoints > after and h,
        timeout_s,
        f"checkpoint {after + 1} to complete",
    )
    return result


def python_worker_pids(job: subprocess.Popen[bytes]) -> list[int]:
    """The PIDs of the job's Python worker processes: descendants of the job process running PyFlink's worker."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        # The command name in parentheses may hold spaces; the parent PID is the second field after it.
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    descendants, frontier = [], [job.pid]
    while frontier:
        pid = frontier.pop()
        for child in children.get(pid, []):
            descendants.append(child)
            frontier.append(child)
    workers = []
    for pid in descendants:
        try:
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if _WORKER_MODULE in arguments:
            workers.append(pid)
    return sorted(workers)


def kill_python_worker(job: subprocess.Popen[bytes]) -> int:
    """SIGKILL the job's Python worker (a local run with parallelism 1 has exactly one); return its PID."""
    (pid,) = wait_until(lambda: len(pids := python_worker_pids(job)) == 1 and pids, 60, "the job's Python worker")
    os.kill(pid, signal.SIGKILL)
    return pid


# -- one case's stack --------------------------------------------------------------------------------------------


@dataclass
class CaseRun:
    """The resources, model server and outputs of one case; the job is started (and restarted) by the case."""

    aws: LocalAws
    directory: Path
    records: IdRecords
    config: AppConfig
    model: ModelServerHandle
    outputs: CaseOutputs
    environ: dict[str, str]

    @property
    def properties(self) -> Path:
        return self.directory / PROPERTIES_FILE

    def job(
        self, rest_port: int, checkpoint_interval_ms: int, *extra_args: str, log_name: str = "job.log"
    ) -> AbstractContextManager[subprocess.Popen[bytes]]:
        """The job, with process Python workers; RUNNING on entry, stopped on exit."""
        args = ("--checkpoint-interval-ms", str(checkpoint_interval_ms), *extra_args)
        environ = {**self.environ, **PROCESS_WORKERS}
        return running_job(self.aws, self.properties, self.directory / log_name, rest_port, args, env=environ)

    def producer(self, rate: float, count: int | None = None) -> RecordProducer:
        """A started producer of the case's records ``0 .. count - 1``, or of records until stopped."""
        producer = RecordProducer(
            self.aws.client("kinesis"), self.config.source.stream_name, rate, self.records.payload, limit=count
        )
        producer.start()
        return producer

    def finish_input(self, producer: RecordProducer, timeout_s: float) -> int:
        """Let a bounded producer put all its records, or stop an endless one; then put the closing record,
        which closes every window. Returns how many records the producer put."""
        if producer.limit is None:
            producer.stop()
        wait_until(producer.finished.is_set, timeout_s, "the producer to put every record")
        if producer.error is not None:
            raise producer.error
        self.records.put_closing(self.aws, self.config.source.stream_name, producer.sent)
        return producer.sent


@contextmanager
def case_run(
    aws: LocalAws,
    directory: Path,
    prefix: str,
    inference_mode: str,
    faults: Faults | None = None,
    delivery: bool = False,
    inference: dict[str, str] | None = None,
    s3_format: str = "json",
) -> Iterator[CaseRun]:
    """Create a case's stream, bucket and delivery stream, start the model server; stop it on exit.

    ``prefix`` names the case's resources and ids, with a random suffix so reruns never share them.
    """
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    groups = id_record_groups(name, inference_mode, delivery)
    groups["inference"].update(inference or {})
    groups["sink.s3"]["format"] = s3_format
    with running_model_server(auth="iam", faults=faults, seed=11) as model:
        environ = {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url}
        config = prepare(aws, groups, directory / PROPERTIES_FILE, environ)
        yield CaseRun(aws, directory, IdRecords(name), config, model, CaseOutputs(aws, config), environ)
