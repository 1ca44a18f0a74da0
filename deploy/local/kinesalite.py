"""kinesalite on 127.0.0.1: a third, independent Kinesis emulator for the local stack.

kinesalite (npm ``kinesalite``) is installed by ``make setup`` from
``deploy/local/kinesalite/package-lock.json`` and keeps its streams in memory.  It reads
streams by name only (``StreamARN`` is dropped from every request), which the job's source
and sink serve by naming the stream as well as its ARN.  It serves Kinesis only: S3 and
Firehose stay on moto, and :meth:`LocalAws.with_service_endpoint` routes Kinesis to it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deploy.local.stack import LOCAL_ACCOUNT, free_port, kinesis_emulator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = PROJECT_ROOT / "build" / "kinesalite" / "node_modules" / "kinesalite"
# kinesalite's own command line listens on every interface; this starts it on loopback.
LAUNCHER = Path(__file__).with_name("kinesalite") / "serve.js"


class KinesaliteError(RuntimeError):
    """kinesalite is not installed, or its process ended while starting."""


@dataclass(frozen=True)
class Kinesalite:
    """A running kinesalite: its HTTP endpoint, its port, its process id."""

    endpoint: str
    port: int
    pid: int


@contextmanager
def kinesalite_server(
    region: str, account: str = LOCAL_ACCOUNT, log_path: Path | None = None, startup_timeout_s: float = 30
) -> Iterator[Kinesalite]:
    """Start kinesalite on a free loopback port; yield once it answers; stop it on exit.

    Streams belong to ``account`` in ``region``, so the ARNs it reports are those of the local
    stack's configurations (``LOCAL_ACCOUNT``).
    """
    node = shutil.which("node")
    if node is None or not (PACKAGE_DIR / "package.json").is_file():
        missing = "Node.js (node)" if node is None else str(PACKAGE_DIR)
        raise KinesaliteError(f"kinesalite cannot start: {missing} is missing; run `make setup`")

    port = free_port()
    environment = {**os.environ, "AWS_ACCOUNT_ID": account, "AWS_REGION": region}
    endpoint = f"http://127.0.0.1:{port}"
    command = [node, str(LAUNCHER), str(PACKAGE_DIR), str(port)]
    with kinesis_emulator(
        "kinesalite", command, environment, endpoint, region, log_path, startup_timeout_s, KinesaliteError
    ) as process:
        yield Kinesalite(endpoint, port, process.pid)
