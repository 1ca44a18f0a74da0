"""The application zip runs as uploaded: unzipped into an empty folder, started with a Python
that has apache-flink and nothing else (the service provides only that), no source tree on the
path, against the local stack, it writes window records to S3."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from config import build_config, write_property_groups
from deploy.local.job_process import PROJECT_ROOT, running_job
from deploy.local.stack import LOCAL_ACCOUNT, LocalAws, create_resources, free_port
from deploy.local.taxi import COLUMNS, random_trip, workshop_record
from deploy.local.testing import read_lines, wait_until
from deploy.package import JAR_NAME, RUN_OPTIONS, build
from deploy.validate import service_python


def service_like_python() -> str:
    """A Python 3.12 with only the pinned apache-flink installed (the one deploy validate uses)."""
    python = service_python()
    if python is None:
        pytest.skip("the application zip targets Python 3.12, which this machine lacks")
    return str(python)


def test_zip_layout(tmp_path: Path) -> None:
    archive = build(PROJECT_ROOT / "build" / "lib" / JAR_NAME, tmp_path)
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"config/app.py", "job/main.py", "udfs/relational.py", "connectors/kinesis.py", f"lib/{JAR_NAME}"} <= names
    assert any(name.startswith("python-libs/aiohttp/") for name in names)
    assert any(name.startswith("python-libs/botocore/") for name in names)
    assert {"python-libs/config/app.py", "python-libs/udfs/relational.py"} <= names
    assert not any(name.startswith(("python-libs/pyflink", "tests/", "deploy/", ".venv")) for name in names)
    assert not any("__pycache__" in name or name.endswith((".pyc", ".java")) for name in names)
    assert {"python": "job/main.py", "jarfile": f"lib/{JAR_NAME}", "pyFiles": "python-libs/"} == RUN_OPTIONS


def test_unzipped_application_runs_with_only_apache_flink(local_aws: LocalAws, tmp_path: Path) -> None:
    python = service_like_python()
    for dependency in ("aiohttp", "botocore"):  # so the zip's own copies are the ones in use
        assert subprocess.run([python, "-c", f"import {dependency}"], capture_output=True).returncode == 1
    archive = build(PROJECT_ROOT / "build" / "lib" / JAR_NAME, tmp_path / "dist")
    app = tmp_path / "app"
    zipfile.ZipFile(archive).extractall(app)

    name = f"zip-{uuid.uuid4().hex[:10]}"
    groups = {
        "kinesis.source": {
            "stream.arn": f"arn:aws:kinesis:us-east-1:{LOCAL_ACCOUNT}:stream/{name}",
            "init.position": "TRIM_HORIZON",
        },
        "records": {
            "format": "csv",
            "csv.columns": ",".join(COLUMNS),
            "key.fields": "vendor_id",
            "watermark.out.of.orderness.ms": "0",
        },
        "window": {"size.seconds": "1", "aggregate.fields": "fare_amount"},
        "sink.s3": {"path": f"s3://{name}/windows"},
        "sink.dlq": {"path": f"s3://{name}/dead-letters"},
        "kinesis.analytics.flink.run.options": RUN_OPTIONS,
    }
    properties = tmp_path / "application_properties.json"
    write_property_groups(properties, groups)
    config = build_config(groups, {"AWS_ENDPOINT_URL": local_aws.endpoint})
    create_resources(local_aws, config)

    rng = random.Random(5)
    kinesis = local_aws.client("kinesis")
    clean_env = {"PYTHONPATH": "", "PATH": f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}"}

    def windows() -> int:
        # Arrival time is the event time here: keep records coming so windows keep closing.
        kinesis.put_record(StreamName=name, Data=workshop_record(random_trip(rng)), PartitionKey="p")
        return len(read_lines(local_aws, name, "windows/")[1])

    with running_job(
        local_aws, properties, tmp_path / "job.log", free_port(), env=clean_env, python=python, application_root=app
    ):
        wait_until(windows, 120, "window records from the unzipped application", interval_s=0.5)
    record = json.loads(read_lines(local_aws, name, "windows/")[1][0])
    assert set(record) == {
        "vendor_id",
        "window_start",
        "window_end",
        "window_id",
        "count",
        "fare_amount_sum",
        "fare_amount_mean",
        "fare_amount_min",
        "fare_amount_max",
    }
    assert sys.executable != python
