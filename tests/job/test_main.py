"""Bad configuration stops the job at start: one message naming the group and key, exit 1,
and no Flink started (the check runs before the JVM)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config import write_property_groups
from deploy.local.job_process import PROJECT_ROOT

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
    assert result.stderr == message + "\n"
    assert result.stdout == ""
