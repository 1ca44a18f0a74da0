"""Session fixtures: the local AWS stack (moto server on 127.0.0.1), started and stopped here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.stack import LocalAws, moto_server


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    log = Path(tmp_path_factory.mktemp("moto")) / "moto.log"
    with moto_server("us-east-1", log) as aws:
        yield aws
