"""Where a local run restores from: ``--from-savepoint`` as a path or as Flink reports it."""

from __future__ import annotations

from pathlib import Path

import pytest

from job.runtime import savepoint_uri


@pytest.mark.parametrize(
    "location",
    ["file:/tmp/savepoints/savepoint-1a2b", "file:///tmp/savepoints/savepoint-1a2b", "s3://bucket/savepoint-1a2b"],
)
def test_a_uri_is_taken_as_it_is(location: str) -> None:
    assert savepoint_uri(location) == location


def test_a_path_becomes_an_absolute_file_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert savepoint_uri("savepoints/savepoint-1a2b") == f"file://{tmp_path}/savepoints/savepoint-1a2b"
    assert savepoint_uri("/var/sp") == "file:///var/sp"
