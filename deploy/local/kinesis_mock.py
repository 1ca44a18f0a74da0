"""kinesis-mock on 127.0.0.1: a second, independent Kinesis emulator for the local stack.

kinesis-mock (the npm package ``kinesis-local``, the Kinesis engine inside LocalStack) is
installed by ``make setup`` from ``deploy/local/kinesis-mock/package-lock.json``.  The
integration tests run the job against it as well as against moto, so that no test depends on
one emulator's reading of the Kinesis API.  It serves Kinesis only: S3 and Firehose stay on
moto, and :meth:`LocalAws.with_service_endpoint` routes Kinesis to it.
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
PACKAGE_DIR = PROJECT_ROOT / "build" / "kinesis-mock" / "node_modules" / "kinesis-local"
# kinesis-mock always listens on every interface; this preload moves its sockets to loopback.
LOOPBACK_PRELOAD = Path(__file__).with_name("kinesis-mock") / "loopback.js"
# Stream state changes (creating, deleting, resharding) take this long instead of 500 ms.
STATE_CHANGE_DURATION = "10ms"
_STATE_CHANGES = (
    "CREATE_STREAM",
    "DELETE_STREAM",
    "MERGE_SHARDS",
    "SPLIT_SHARD",
    "UPDATE_SHARD_COUNT",
    "UPDATE_STREAM_MODE",
    "REGISTER_STREAM_CONSUMER",
    "DEREGISTER_STREAM_CONSUMER",
    "START_STREAM_ENCRYPTION",
    "STOP_STREAM_ENCRYPTION",
)


class KinesisMockError(RuntimeError):
    """kinesis-mock is not installed, or its process ended while starting."""


@dataclass(frozen=True)
class KinesisMock:
    """A running kinesis-mock: its plain HTTP endpoint, both of its ports, its process id."""

    endpoint: str
    plain_port: int
    tls_port: int
    pid: int


@contextmanager
def kinesis_mock_server(
    region: str, account: str = LOCAL_ACCOUNT, log_path: Path | None = None, startup_timeout_s: float = 60
) -> Iterator[KinesisMock]:
    """Start kinesis-mock on free loopback ports; yield once it answers; stop it on exit.

    Streams belong to ``account`` in ``region``, so the stream ARNs of the local stack's
    configurations (``LOCAL_ACCOUNT``) address them.
    """
    main = PACKAGE_DIR / "main.js"
    node = shutil.which("node")
    if node is None or not main.is_file():
        missing = "Node.js (node)" if node is None else str(main)
        raise KinesisMockError(f"kinesis-mock cannot start: {missing} is missing; run `make setup`")

    plain_port = free_port()
    # The TLS port cannot be switched off; it gets a free port of its own.
    tls_port = free_port()
    while tls_port == plain_port:
        tls_port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "INITIALIZE_STREAMS"}
    environment.update(
        {
            "KINESIS_MOCK_PLAIN_PORT": str(plain_port),
            "KINESIS_MOCK_TLS_PORT": str(tls_port),
            "KINESIS_MOCK_CERT_PATH": str(PACKAGE_DIR / "server.json"),
            "AWS_ACCOUNT_ID": account,
            "AWS_REGION": region,
            "SHOULD_PERSIST_DATA": "false",
            "LOAD_DATA_IF_EXISTS": "false",
            "LOG_LEVEL": "WARN",
            **{f"{change}_DURATION": STATE_CHANGE_DURATION for change in _STATE_CHANGES},
        }
    )
    endpoint = f"http://127.0.0.1:{plain_port}"
    command = [node, "--require", str(LOOPBACK_PRELOAD), str(main)]
    with kinesis_emulator(
        "kinesis-mock", command, environment, endpoint, region, log_path, startup_timeout_s, KinesisMockError
    ) as process:
        yield KinesisMock(endpoint, plain_port, tls_port, process.pid)
