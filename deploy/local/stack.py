"""The local AWS stack: a moto server on 127.0.0.1 and the resources a job's config names.

moto serves Kinesis, Firehose and S3 from one endpoint, the same shape as LocalStack, so a
job pointed at ``AWS_ENDPOINT_URL`` runs unchanged against either.  A stack may route single
services elsewhere (Kinesis to kinesis-mock, ``deploy/local/kinesis_mock.py``); the job then
gets ``AWS_ENDPOINT_URL_<SERVICE>`` for them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from config import AppConfig

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# moto's account; a stream ARN for the local stack uses it.
LOCAL_ACCOUNT = "123456789012"
DELIVERY_ROLE_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/firehose-delivery"


@dataclass(frozen=True)
class LocalAws:
    endpoint: str
    region: str
    # Services served by another emulator than ``endpoint``, by boto3 service name, such as
    # Kinesis on kinesis-mock: {"kinesis": "http://127.0.0.1:4568"}.
    service_endpoints: Mapping[str, str] = field(default_factory=dict, hash=False)

    def endpoint_for(self, service: str) -> str:
        return self.service_endpoints.get(service, self.endpoint)

    def with_service_endpoint(self, service: str, endpoint: str) -> LocalAws:
        """This stack with ``service`` served from ``endpoint`` instead."""
        return replace(self, service_endpoints={**self.service_endpoints, service: endpoint})

    def endpoint_environment(self) -> dict[str, str]:
        """The ``AWS_ENDPOINT_URL`` variables that point a process's AWS clients at this stack."""
        environment = {"AWS_ENDPOINT_URL": self.endpoint}
        for service, endpoint in self.service_endpoints.items():
            environment[f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"] = endpoint
        return environment

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_for(service),
            region_name=self.region,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            config=BotoConfig(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def job_environment(self) -> dict[str, str]:
        """Environment for a job process that talks to this stack."""
        env = flink_free_environment()
        env.update(LOCAL_CREDENTIALS)
        env.update(self.endpoint_environment())
        env["AWS_REGION"] = self.region
        env["AWS_DEFAULT_REGION"] = self.region
        return env


def flink_free_environment() -> dict[str, str]:
    """This process's environment without PyFlink's own variables.

    A process that ran Flink itself (the test runner) carries them, and they would make a job
    started from it think it is a Python worker.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYFLINK_", "_PYFLINK", "FLINK_"))}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Any, timeout_s: float, what: str, interval_s: float = 0.2) -> Any:
    """Poll ``condition`` until it returns a truthy value or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - reported if the deadline passes
            last_error = error
        time.sleep(interval_s)
    detail = f" (last error: {last_error})" if last_error else ""
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}{detail}")


@contextmanager
def event_loop_thread(name: str) -> Iterator[asyncio.AbstractEventLoop]:
    """An asyncio loop running on its own daemon thread (a local server's), stopped and closed on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def serve_until_signalled(start: Callable[[], Awaitable[str]], stop: Callable[[], Awaitable[None]]) -> None:
    """Run a local server from the command line: start it, print its URL, stop it on SIGINT or SIGTERM."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    print(await start(), flush=True)
    try:
        await stopping.wait()
    finally:
        await stop()


@contextmanager
def moto_server(region: str, log_path: Path | None = None) -> Iterator[LocalAws]:
    """Start ``moto_server`` on a free loopback port; stop it on exit."""
    port = free_port()
    executable = Path(sys.executable).with_name("moto_server")
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    # In its own session: Ctrl-C in a terminal reaches the caller, which still reads S3 before it stops moto.
    process = subprocess.Popen(
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    aws = LocalAws(f"http://127.0.0.1:{port}", region)
    try:
        wait_until(lambda: aws.client("s3").list_buckets() is not None, 30, "moto server")
        yield aws
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log_path:
            log.close()  # type: ignore[union-attr]


@contextmanager
def kinesis_emulator(
    name: str,
    command: list[str],
    environment: Mapping[str, str],
    endpoint: str,
    region: str,
    log_path: Path | None,
    startup_timeout_s: float,
    error: type[Exception],
) -> Iterator[subprocess.Popen[bytes]]:
    """A local Kinesis emulator process: yielded once ``endpoint`` answers ListStreams, killed on exit.

    Killed, not terminated: the emulators keep their data only in the process, so there is
    nothing to let them save (and kinesis-mock waits 30 s on SIGTERM for idle keep-alive
    connections).  ``error`` is raised, naming the log, when the process exits while starting.
    """
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(command, env=dict(environment), stdout=log, stderr=subprocess.STDOUT)
    try:
        kinesis = LocalAws(endpoint, region).client("kinesis")
        wait_until(
            lambda: process.poll() is not None or "StreamNames" in kinesis.list_streams(),
            startup_timeout_s,
            f"{name} to answer ListStreams",
        )
        if process.returncode is not None:
            where = f"; see {log_path}" if log_path else ""
            raise error(f"{name} exited with code {process.returncode} while starting{where}")
        yield process
    finally:
        process.kill()
        process.wait()
        if log_path:
            log.close()  # type: ignore[union-attr]


def create_resources(aws: LocalAws, config: AppConfig, shards: int = 1) -> None:
    """Create the input stream, buckets and delivery stream the config names (idempotent)."""
    s3 = aws.client("s3")
    buckets = {config.sink_s3.location.bucket, config.dead_letter.location.bucket}
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in sorted(buckets - existing):
        s3.create_bucket(Bucket=bucket)

    kinesis = aws.client("kinesis")
    _create_stream(kinesis, config.source.stream_name, shards)
    if config.delivery is None:
        return
    if config.delivery.type == "kinesis":
        _create_stream(kinesis, config.delivery.stream_name, 1)
        return
    firehose = aws.client("firehose")
    try:
        firehose.describe_delivery_stream(DeliveryStreamName=config.delivery.stream_name)
    except firehose.exceptions.ResourceNotFoundException:
        firehose.create_delivery_stream(
            DeliveryStreamName=config.delivery.stream_name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "BucketARN": f"arn:aws:s3:::{config.sink_s3.location.bucket}",
                "RoleARN": DELIVERY_ROLE_ARN,
                "Prefix": f"delivery/{config.delivery.stream_name}/",
            },
        )


def delivery_prefix(config: AppConfig) -> str:
    """Where the local Firehose delivery stream writes its objects."""
    assert config.delivery is not None
    return f"delivery/{config.delivery.stream_name}/"


def _create_stream(kinesis: Any, name: str, shards: int) -> None:
    # Asked by name: ListStreams answers one page, which misses streams once there are many.
    try:
        kinesis.describe_stream_summary(StreamName=name)
        return
    except kinesis.exceptions.ResourceNotFoundException:
        pass
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    wait_until(
        lambda: (
            kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
        ),
        30,
        f"stream {name} to become ACTIVE",
    )
