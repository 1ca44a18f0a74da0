"""Session fixtures: the local AWS stack (moto server on 127.0.0.1) and kinesis-mock and
kinesalite, the second and third Kinesis emulators, started on first use; all are started and
stopped here.  The
in-process Python worker servers of local Flink runs are stopped before the interpreter exits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.jvm import LoopbackWorkerServers
from deploy.local.kinesalite import Kinesalite, kinesalite_server
from deploy.local.kinesis_mock import KinesisMock, kinesis_mock_server
from deploy.local.stack import LocalAws, moto_server

REGION = "us-east-1"

_LOOPBACK_SERVERS = LoopbackWorkerServers()


def pytest_configure(config: pytest.Config) -> None:
    _LOOPBACK_SERVERS.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    _LOOPBACK_SERVERS.stop_all()


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    log = Path(tmp_path_factory.mktemp("moto")) / "moto.log"
    with moto_server(REGION, log) as aws:
        yield aws


@pytest.fixture(scope="session")
def kinesis_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinesisMock]:
    log = Path(tmp_path_factory.mktemp("kinesis-mock")) / "kinesis-mock.log"
    with kinesis_mock_server(REGION, log_path=log) as server:
        yield server


@pytest.fixture(scope="session")
def kinesalite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kinesalite]:
    log = Path(tmp_path_factory.mktemp("kinesalite")) / "kinesalite.log"
    with kinesalite_server(REGION, log_path=log) as server:
        yield server
