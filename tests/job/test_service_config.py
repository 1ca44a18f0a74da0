"""The job as Managed Flink starts it sets only properties the service allows, and the check
finds one it does not; the dashboard names every operator for what it does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

import job.runtime
import udfs.relational
from config import AppConfig, build_config, write_property_groups
from job.runtime import PROJECT_ROOT
from job.service_config import (
    ALLOWED_PROPERTIES,
    disallowed,
    load_allowed_properties,
    properties_set_in_code,
    service_job,
)

GROUPS = {
    "kinesis.source": {"stream.arn": "arn:aws:kinesis:us-east-1:123456789012:stream/trips", "aws.region": "us-east-1"},
    "records": {
        "format": "csv",
        "csv.columns": "vendor_id,pickup_time,fare",
        "key.fields": "vendor_id",
        "event.time.field": "pickup_time",
    },
    "window": {"size.seconds": "10", "aggregate.fields": "fare"},
    "sink.s3": {"path": "s3://bucket-a/windows"},
    "sink.dlq": {"path": "s3://bucket-a/dead-letters"},
}
INFERENCE = {
    "type": "sagemaker",
    "endpoint.name": "fare-model",
    "features": "fare_mean,count",
}
RECORD_INFERENCE = {"type": "sagemaker", "endpoint.name": "fare-model", "input": "record", "features": "fare"}

# What the job's code sets, all on the service's list: object reuse (job.runtime), the session
# time zone (udfs.relational); the planner's mini-batch default and PyFlink's cached files for
# the Python packages the service passes in come with them.
SET_IN_CODE = {
    "pipeline.cached-files",
    "pipeline.object-reuse",
    "table.exec.mini-batch.enabled",
    "table.local-time-zone",
}
# With a Python operator (inference), PyFlink adds where each Python package is and the job's
# options for the Python workers.
PYTHON_OPERATOR = {"python.internal.files-key-map", "python.job-options"}


def app_config(inference: dict[str, str] | None = None) -> AppConfig:
    groups = {**GROUPS, **({"inference": inference} if inference else {})}
    return build_config(groups, {})


@pytest.mark.parametrize(
    "inference", [None, INFERENCE, RECORD_INFERENCE], ids=["windows", "window-scoring", "record-scoring"]
)
def test_the_service_path_sets_only_allowed_properties(inference: dict[str, str] | None) -> None:
    env, t_env = service_job(app_config(inference))
    properties = properties_set_in_code(env, t_env)
    assert set(properties) == (SET_IN_CODE if inference is None else SET_IN_CODE | PYTHON_OPERATOR)
    assert properties["table.local-time-zone"] == "UTC"
    assert disallowed(properties) == []


def test_the_check_fails_when_the_code_ships_python_files_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    tune = job.runtime._tune

    def tune_and_ship(env: StreamExecutionEnvironment) -> None:
        tune(env)
        env.add_python_file(str(job.runtime.PROJECT_ROOT / "udfs"))

    monkeypatch.setattr(job.runtime, "_tune", tune_and_ship)
    env, t_env = service_job(app_config())
    assert disallowed(properties_set_in_code(env, t_env)) == ["python.files"]


def test_the_check_fails_on_a_table_setting_not_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    configure = udfs.relational.configure_table_environment

    def configure_more(t_env: StreamTableEnvironment) -> None:
        configure(t_env)
        t_env.get_config().set("python.fn-execution.bundle.size", "10")

    monkeypatch.setattr(udfs.relational, "configure_table_environment", configure_more)
    env, t_env = service_job(app_config())
    assert disallowed(properties_set_in_code(env, t_env)) == ["python.fn-execution.bundle.size"]


def test_the_list_file_is_read_by_name(tmp_path: Path) -> None:
    path = tmp_path / "allowed.txt"
    path.write_text("# source: somewhere\n\npipeline.name\n  table.local-time-zone  # a comment\n")
    assert load_allowed_properties(path) == frozenset({"pipeline.name", "table.local-time-zone"})
    assert disallowed({"pipeline.name": "x", "python.files": "y", "a.b": "z"}, load_allowed_properties(path)) == [
        "a.b",
        "python.files",
    ]


def test_the_documented_list_has_what_the_job_relies_on_and_not_python_files() -> None:
    assert {"pipeline.object-reuse", "table.local-time-zone", "table.exec.source.idle-timeout"} <= ALLOWED_PROPERTIES
    assert {"python.files", "python.fn-execution.bundle.size", "parallelism.default"}.isdisjoint(ALLOWED_PROPERTIES)


PLANNER_NAME = re.compile(r"^[A-Za-z]+\[\d+\]$")


def operator_names(config: AppConfig) -> list[str]:
    env, _ = service_job(config)
    plan = json.loads(env.get_execution_plan())
    return [node["type"] for node in plan["nodes"]]


def test_every_operator_is_named_for_what_it_does() -> None:
    names = operator_names(app_config())
    assert not [name for name in names if "anonymous_datastream_source" in name or PLANNER_NAME.match(name)]
    parse = [f"Parse and validate csv records ({part}/5)" for part in range(1, 6)]
    assert names == [
        "Source: Kinesis source",
        "Records into SQL",
        *parse,
        "Dead letters as JSON lines",
        "TableToDataStream",
        "Records into SQL",
        *parse,
        "Windows 10 s by vendor_id (partial)",
        "Windows 10 s by vendor_id",
        "Window records as JSON lines",
        "TableToDataStream",
        "Count dead letters",
        "Count windows",
        "S3 windows: Writer",
        "S3 windows: Committer",
        "S3 dead letters: Writer",
        "S3 dead letters: Committer",
    ]


@pytest.mark.parametrize("inference", [INFERENCE, RECORD_INFERENCE], ids=["window-scoring", "record-scoring"])
def test_no_planner_names_are_left_with_inference(inference: dict[str, str]) -> None:
    names = operator_names(app_config(inference))
    assert [name for name in names if "anonymous_datastream_source" in name or PLANNER_NAME.match(name)] == []
    assert "Count dead letters" in names and "Count windows" in names


def run_check(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    properties = tmp_path / "application_properties.json"
    write_property_groups(properties, GROUPS)
    command = [sys.executable, "-m", "job.service_config", "--properties", str(properties), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)


def test_the_command_prints_what_the_code_sets_and_passes(tmp_path: Path) -> None:
    result = run_check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout.splitlines()[-1])) == SET_IN_CODE


def test_the_command_names_each_refused_property_and_fails(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed.txt"
    allowed.write_text("pipeline.cached-files\npipeline.object-reuse\ntable.exec.mini-batch.enabled\n")
    result = run_check(tmp_path, "--allowed", str(allowed))
    assert result.returncode == 1
    refused = [line for line in result.stderr.splitlines() if line.startswith("not allowed")]
    assert refused == ["not allowed on Managed Service for Apache Flink 2.2: table.local-time-zone = UTC"]
