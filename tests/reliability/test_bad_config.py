"""Bad configuration through the real entry point: one line naming the group and key, exit 1,
nothing started and nothing written.

Each case runs the job's entry point, ``python job/main.py --properties FILE``, with a probe in
place of the JVM: ``JAVA_HOME`` points at a ``java`` that records its command line and
exits, so a run that got as far as starting PyFlink's gateway leaves a trace the test sees.  The
control case runs a valid configuration the same way and must leave that trace; that is what
makes the absence of the trace in the other cases mean something.

The job runs in an empty working directory with Flink's log directory, the temporary directory
and the checkpoint directory pointed into the case's own folder; all must stay empty.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config import write_property_groups
from deploy.local.job_process import PROJECT_ROOT
from deploy.local.stack import LocalAws, free_port
from job.main import START_FAILURE
from tests.reliability.conftest import CaseFigures

Groups = dict[str, dict[str, str]]

GOOD: Groups = {
    "kinesis.source": {"stream.arn": "arn:aws:kinesis:us-east-1:123456789012:stream/taxi-trips"},
    "records": {"format": "json", "key.fields": "vendor_id"},
    "window": {"size.seconds": "10", "aggregate.fields": "fare_amount"},
    "sink.s3": {"path": "s3://scoring-out/windows"},
    "sink.dlq": {"path": "s3://scoring-out/dead-letters"},
}
INFERENCE = {"type": "apigateway", "url": "https://model.example.com/predict", "features": "count,fare_amount_mean"}
STREAM_ARN = GOOD["kinesis.source"]["stream.arn"]

# The subprocess's own limit: a configuration error is reported in about a second.
RUN_TIMEOUT_S = 120


def properties(change: Groups) -> Callable[[Path], None]:
    """Write ``GOOD`` with the groups of ``change`` replacing (or adding to) its own."""
    return lambda path: write_property_groups(path, {**GOOD, **change})


def text(content: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(content, encoding="utf-8")

    return write


def directory(path: Path) -> None:
    path.mkdir()


def nothing(path: Path) -> None:
    """Leave the properties file missing."""


@dataclass(frozen=True)
class BadConfig:
    """How to write the properties file, and the message the job must answer with.

    ``key`` may hold ``{path}``, the properties file's path, for errors about the file itself.
    """

    write: Callable[[Path], None]
    group: str
    key: str
    problem: str
    environ: Mapping[str, str] = field(default_factory=dict)

    def message(self, path: Path) -> str:
        key = self.key.format(path=path)
        return f"configuration error in property group '{self.group}', key '{key}': {self.problem}"


CASES = {
    "missing stream arn": BadConfig(
        properties({"kinesis.source": {"aws.region": "us-east-1"}}), "kinesis.source", "stream.arn", "is required"
    ),
    "malformed stream arn": BadConfig(
        properties({"kinesis.source": {"stream.arn": "arn:aws:kinesis:us-east-1:12345:stream/taxi-trips"}}),
        "kinesis.source",
        "stream.arn",
        "must be arn:aws:kinesis:<region>:<account>:stream/<name>, "
        "got 'arn:aws:kinesis:us-east-1:12345:stream/taxi-trips'",
    ),
    "efo reader": BadConfig(
        properties({"kinesis.source": {"stream.arn": STREAM_ARN, "reader.type": "EFO"}}),
        "kinesis.source",
        "reader.type",
        "EFO is not supported by this build's Kinesis source (it reads with POLLING); remove the key or set POLLING",
    ),
    "at_timestamp without timestamp": BadConfig(
        properties({"kinesis.source": {"stream.arn": STREAM_ARN, "init.position": "AT_TIMESTAMP"}}),
        "kinesis.source",
        "init.timestamp",
        "is required when init.position is AT_TIMESTAMP",
    ),
    "unknown records format": BadConfig(
        properties({"records": {"format": "xml", "key.fields": "vendor_id"}}),
        "records",
        "format",
        "must be one of json | csv, got 'xml'",
    ),
    "csv columns without the key field": BadConfig(
        properties(
            {"records": {"format": "csv", "csv.columns": "trip_distance,fare_amount", "key.fields": "vendor_id"}}
        ),
        "records",
        "key.fields",
        "'vendor_id' is not one of csv.columns",
    ),
    "window size zero": BadConfig(
        properties({"window": {"size.seconds": "0"}}), "window", "size.seconds", "must be at least 1, got 0"
    ),
    "unknown key in a group": BadConfig(
        properties({"window": {"size.second": "10"}}),
        "window",
        "size.second",
        "unknown key; known keys are aggregate.fields, close.when.idle.ms, size.seconds",
    ),
    "unknown group": BadConfig(
        properties({"sink.kafka": {"topic": "windows"}}),
        "sink.kafka",
        "PropertyGroupId",
        "unknown group; known groups are kinesis.source, records, window, sink.s3, sink.delivery, sink.dlq,"
        " inference, inference.shadow",
    ),
    "s3 path without scheme": BadConfig(
        properties({"sink.s3": {"path": "scoring-out/windows"}}),
        "sink.s3",
        "path",
        "must be s3://bucket/prefix, got 'scoring-out/windows'",
    ),
    "unknown output format": BadConfig(
        properties({"sink.s3": {"path": "s3://scoring-out/windows", "format": "avro"}}),
        "sink.s3",
        "format",
        "must be one of json | parquet, got 'avro'",
    ),
    "delivery stream name with a space": BadConfig(
        properties({"sink.delivery": {"type": "kinesis", "stream.name": "window delivery"}}),
        "sink.delivery",
        "stream.name",
        "'window delivery' is not a valid stream name",
    ),
    "dead-letter bucket name invalid": BadConfig(
        properties({"sink.dlq": {"path": "s3://Scoring_Out/dead-letters"}}),
        "sink.dlq",
        "path",
        "must be s3://bucket/prefix, got 's3://Scoring_Out/dead-letters'",
    ),
    "inference url without scheme": BadConfig(
        properties({"inference": {**INFERENCE, "url": "model.example.com/predict"}}),
        "inference",
        "url",
        "must be an http(s) URL, got 'model.example.com/predict'",
    ),
    "unknown endpoint type": BadConfig(
        properties({"inference": {**INFERENCE, "type": "lambda"}}),
        "inference",
        "type",
        "must be one of sagemaker | apigateway, got 'lambda'",
    ),
    "batch size zero": BadConfig(
        properties({"inference": {**INFERENCE, "batch.size": "0"}}),
        "inference",
        "batch.size",
        "must be at least 1, got 0",
    ),
    "batch size not a number": BadConfig(
        properties({"inference": {**INFERENCE, "batch.size": "ten"}}),
        "inference",
        "batch.size",
        "must be an integer, got 'ten'",
    ),
    "capacity zero": BadConfig(
        properties({"inference": {**INFERENCE, "capacity": "0"}}), "inference", "capacity", "must be at least 1, got 0"
    ),
    "negative timeout": BadConfig(
        properties({"inference": {**INFERENCE, "timeout.ms": "-500"}}),
        "inference",
        "timeout.ms",
        "must be at least 1, got -500",
    ),
    "sagemaker without endpoint name": BadConfig(
        properties({"inference": {"type": "sagemaker", "features": "count"}}),
        "inference",
        "endpoint.name",
        "is required when type is sagemaker",
    ),
    "feature that is not a window field": BadConfig(
        properties({"inference": {**INFERENCE, "features": "count,fare_mean"}}),
        "inference",
        "features",
        "'fare_mean' is not a window field; window fields are "
        "count, fare_amount_sum, fare_amount_mean, fare_amount_min, fare_amount_max",
    ),
    "api key auth without api key": BadConfig(
        properties({"inference": {**INFERENCE, "auth": "api_key"}}),
        "inference",
        "api.key",
        "is required when auth is api_key",
    ),
    "endpoint variable without scheme": BadConfig(
        properties({}),
        "(environment)",
        "AWS_ENDPOINT_URL",
        "must be an http(s) URL, got 'localhost:4566'",
        environ={"AWS_ENDPOINT_URL": "localhost:4566"},
    ),
    "properties file missing": BadConfig(nothing, "(file)", "{path}", "cannot be read: No such file or directory"),
    "properties path is a directory": BadConfig(directory, "(file)", "{path}", "cannot be read: Is a directory"),
    "properties not json": BadConfig(
        text("[{\"PropertyGroupId\": 'records'}]"),
        "(file)",
        "{path}",
        "is not valid JSON: Expecting value: line 1 column 22 (char 21)",
    ),
    "properties not a list": BadConfig(
        text('{"PropertyGroupId": "records", "PropertyMap": {}}'),
        "(file)",
        "{path}",
        "must hold a JSON list of property groups",
    ),
}


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    jvm_command: str | None  # what the JVM probe was started with; None if it never was
    written: list[str]  # files and folders the run left behind in the places it could write


def run_entry_point(folder: Path, write: Callable[[Path], None], environ: Mapping[str, str]) -> Run:
    """``python job/main.py --properties FILE`` with the JVM probe; what it answered and left behind."""
    inputs, work, logs, temp, probe = (folder / name for name in ("inputs", "work", "logs", "tmp", "probe"))
    for path in (inputs, work, logs, temp, probe / "bin"):
        path.mkdir(parents=True)
    properties_path = inputs / "application_properties.json"
    write(properties_path)
    launched = probe / "launched"
    java = probe / "bin" / "java"
    java.write_text(f'#!/bin/sh\nprintf "%s " "$@" > "{launched}"\nexit 1\n', encoding="utf-8")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)

    # An endpoint nothing listens on: the job must not get as far as calling it.
    env = LocalAws(f"http://127.0.0.1:{free_port()}", "us-east-1").job_environment()
    env.update({"JAVA_HOME": str(probe), "FLINK_LOG_DIR": str(logs), "TMPDIR": str(temp), **environ})
    checkpoints = work / "checkpoints"
    command = [sys.executable, str(PROJECT_ROOT / "job" / "main.py"), "--properties", str(properties_path)]
    command += ["--checkpoint-dir", str(checkpoints), "--rest-port", str(free_port())]
    started = time.monotonic()
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    seconds = time.monotonic() - started
    written = sorted(str(p.relative_to(folder)) for d in (work, logs, temp) for p in d.rglob("*"))
    jvm_command = launched.read_text(encoding="utf-8") if launched.exists() else None
    return Run(result.returncode, result.stdout, result.stderr, seconds, jvm_command, written)


def test_the_jvm_probe_sees_a_valid_configuration_start_flink(tmp_path: Path, case: CaseFigures) -> None:
    """The control: the same run with a valid configuration does reach the JVM, and the probe sees it."""
    run = run_entry_point(tmp_path, properties({}), {})
    case.details = {"returncode": run.returncode, "seconds": round(run.seconds, 2)}

    assert run.jvm_command is not None
    assert "org.apache.flink.client.python.PythonGatewayServer" in run.jvm_command
    # The probe refused to be a JVM, so PyFlink gave up waiting for its gateway.
    assert run.returncode == 1
    assert "Java gateway process exited before sending its port number" in run.stderr


@pytest.mark.parametrize("name", list(CASES))
def test_bad_configuration_stops_before_flink_starts(name: str, tmp_path: Path, case: CaseFigures) -> None:
    bad = CASES[name]
    run = run_entry_point(tmp_path, bad.write, bad.environ)
    expected = bad.message(tmp_path / "inputs" / "application_properties.json")
    case.faults_injected = 1
    case.records_in = 0
    case.details = {"message": run.stderr.rstrip("\n"), "returncode": run.returncode, "seconds": round(run.seconds, 2)}

    assert run.returncode == 1
    # One ERROR line with the reason, as `deploy logs --errors` finds it (no traceback for a configuration error).
    assert run.stderr == START_FAILURE + expected + "\n"
    assert run.stdout == ""
    assert run.jvm_command is None, "the job started a JVM before refusing its configuration"
    assert run.written == []
