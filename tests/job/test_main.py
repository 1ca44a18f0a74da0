"""A job that cannot start says why: bad configuration as one ERROR line naming the group and
key (no Flink started: the check runs before the JVM), a failed import as an ERROR line with
the traceback under it; exit 1, in the form ``python -m deploy logs --errors`` picks out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import write_property_groups
from deploy.local.job_process import PROJECT_ROOT
from deploy.logs import LogLine, error_lines

GOOD = {
    "kinesis.source": {"stream.arn": "arn:aws:kinesis:us-east-1:123456789012:stream/s"},
    "records": {"format": "json", "key.fields": "k"},
    "sink.s3": {"path": "s3://bucket-a/w"},
    "sink.dlq": {"path": "s3://bucket-a/d"},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"window": {"size.seconds": "0"}},
            "configuration error in property group 'window', key 'size.seconds': must be at least 1, got 0",
        ),
        (
            {"kinesis.source": {}},
            "configuration error in property group 'kinesis.source', key 'stream.arn': is required",
        ),
        (
            {"inference": {"type": "sagemaker", "features": "count"}},
            "configuration error in property group 'inference', key 'endpoint.name': "
            "is required when type is sagemaker",
        ),
    ],
)
def test_bad_property_stops_the_job_with_one_line(
    tmp_path: Path, change: dict[str, dict[str, str]], message: str
) -> None:
    path = tmp_path / "application_properties.json"
    groups = {**GOOD, **change}
    write_property_groups(path, groups)
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "job" / "main.py"), "--properties", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr == "ERROR stream-scoring could not start: " + message + "\n"
    assert result.stdout == ""


def test_an_import_error_is_one_error_line_and_the_traceback(tmp_path: Path) -> None:
    # A dependency missing from the application: this stand-in for PyFlink fails as one would.
    (tmp_path / "pyflink").mkdir()
    (tmp_path / "pyflink" / "__init__.py").write_text("import absent_dependency\n")
    properties = tmp_path / "application_properties.json"
    write_property_groups(properties, GOOD)
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "job" / "main.py"), "--properties", str(properties)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "ERROR stream-scoring could not start: cannot import the job's code: "
        "ModuleNotFoundError: No module named 'absent_dependency'"
    )
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-2] == "    import absent_dependency"
    assert lines[-1] == "ModuleNotFoundError: No module named 'absent_dependency'"
    # The service logs the process's output line by line: the search finds every line of it.
    events = [LogLine(index, None, text) for index, text in enumerate(["INFO starting", *lines, "INFO next"])]
    assert [line.text for line in error_lines(events)] == lines
