"""kinesis-mock as the local stack starts it: on loopback only, with the local account's ARNs,
stopped by its own process id."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from deploy.local.kinesis_mock import KinesisMock, kinesis_mock_server
from deploy.local.stack import LOCAL_ACCOUNT, LocalAws
from deploy.local.testing import wait_until

_LISTEN = "0A"  # TCP state in /proc/net/tcp*


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket the process holds, IPv4 and IPv6."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and inode in inodes:
                found.append(_decode(local, family))
    return sorted(found)


def _decode(local: str, family: socket.AddressFamily) -> tuple[str, int]:
    address, port = local.split(":")
    raw = bytes.fromhex(address)
    # The kernel prints the address as 32-bit words in host byte order.
    words = [raw[i : i + 4] for i in range(0, len(raw), 4)]
    packed = b"".join(word[::-1] if sys.byteorder == "little" else word for word in words)
    return socket.inet_ntop(family, packed), int(port, 16)


def test_listens_on_loopback_only(kinesis_mock: KinesisMock) -> None:
    with socket.create_connection(("127.0.0.1", kinesis_mock.plain_port), timeout=5):
        pass
    assert listening_addresses(kinesis_mock.pid) == sorted(
        [("127.0.0.1", kinesis_mock.plain_port), ("127.0.0.1", kinesis_mock.tls_port)]
    )


def test_streams_belong_to_the_local_account_and_are_addressed_by_arn(kinesis_mock: KinesisMock) -> None:
    kinesis = LocalAws(kinesis_mock.endpoint, "us-east-1").client("kinesis")
    name = f"km-{uuid.uuid4().hex[:10]}"
    kinesis.create_stream(StreamName=name, ShardCount=2)

    def active() -> dict[str, Any] | None:
        summary: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return summary if summary["StreamStatus"] == "ACTIVE" else None

    summary = wait_until(active, 10, f"stream {name} to become ACTIVE")
    arn = f"arn:aws:kinesis:us-east-1:{LOCAL_ACCOUNT}:stream/{name}"
    assert summary["StreamARN"] == arn
    shards = kinesis.list_shards(StreamARN=arn)["Shards"]
    assert [shard["ShardId"] for shard in shards] == ["shardId-000000000000", "shardId-000000000001"]
    kinesis.put_record(StreamARN=arn, Data=b"x", PartitionKey="p", ExplicitHashKey="0")
    iterator = kinesis.get_shard_iterator(StreamARN=arn, ShardId=shards[0]["ShardId"], ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(StreamARN=arn, ShardIterator=iterator["ShardIterator"])["Records"]
    assert [record["Data"] for record in records] == [b"x"]


def test_stops_the_process_it_started(tmp_path: Path) -> None:
    with kinesis_mock_server("us-east-1", log_path=tmp_path / "kinesis-mock.log") as server:
        assert Path(f"/proc/{server.pid}").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
