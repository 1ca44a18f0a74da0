"""kinesalite as the local stack starts it: on loopback only, with the local account's ARNs,
stopped by its own process id, and with the differences from Kinesis the job is built for."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deploy.local.kinesalite import Kinesalite, kinesalite_server
from deploy.local.stack import LOCAL_ACCOUNT, LocalAws
from deploy.local.testing import wait_until
from tests.integration.test_kinesis_mock import listening_addresses


def new_stream(kinesis: Any, shards: int) -> tuple[str, str]:
    name = f"kl-{uuid.uuid4().hex[:10]}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)

    def active() -> dict[str, Any] | None:
        summary: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return summary if summary["StreamStatus"] == "ACTIVE" else None

    summary = wait_until(active, 10, f"stream {name} to become ACTIVE")
    return name, summary["StreamARN"]


def test_listens_on_loopback_only(kinesalite: Kinesalite) -> None:
    with socket.create_connection(("127.0.0.1", kinesalite.port), timeout=5):
        pass
    assert listening_addresses(kinesalite.pid) == [("127.0.0.1", kinesalite.port)]


def test_streams_belong_to_the_local_account_and_are_read_by_name_with_the_arn(kinesalite: Kinesalite) -> None:
    kinesis = LocalAws(kinesalite.endpoint, "us-east-1").client("kinesis")
    name, arn = new_stream(kinesis, 2)
    assert arn == f"arn:aws:kinesis:us-east-1:{LOCAL_ACCOUNT}:stream/{name}"

    # The ARN alone does not reach a stream: kinesalite drops StreamARN from every request.
    with pytest.raises(ClientError) as refused:
        kinesis.list_shards(StreamARN=arn)
    assert refused.value.response["Error"]["Code"] == "InvalidArgumentException"

    # As the job's source and sink address it: the name and the ARN together.
    shards = kinesis.list_shards(StreamName=name, StreamARN=arn)["Shards"]
    assert [shard["ShardId"] for shard in shards] == ["shardId-000000000000", "shardId-000000000001"]
    put = kinesis.put_records(
        StreamName=name, StreamARN=arn, Records=[{"Data": b"x", "PartitionKey": "p", "ExplicitHashKey": "0"}]
    )
    assert put["FailedRecordCount"] == 0
    iterator = kinesis.get_shard_iterator(
        StreamName=name, StreamARN=arn, ShardId=shards[0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    first = kinesis.get_records(StreamARN=arn, ShardIterator=iterator)
    assert [record["Data"] for record in first["Records"]] == [b"x"]

    # A drained open shard answers no records and a next iterator, as Kinesis does.
    empty = kinesis.get_records(StreamARN=arn, ShardIterator=first["NextShardIterator"])
    assert empty["Records"] == []
    assert empty["NextShardIterator"]


def test_list_shards_answers_every_shard_in_one_page_and_ignores_the_shard_filter(kinesalite: Kinesalite) -> None:
    kinesis = LocalAws(kinesalite.endpoint, "us-east-1").client("kinesis")
    name, arn = new_stream(kinesis, 3)
    page = kinesis.list_shards(StreamName=name, StreamARN=arn, MaxResults=1, ShardFilter={"Type": "AT_LATEST"})
    assert [shard["ShardId"] for shard in page["Shards"]] == [f"shardId-00000000000{i}" for i in range(3)]
    assert "NextToken" not in page
    after = kinesis.list_shards(StreamName=name, ExclusiveStartShardId="shardId-000000000000")
    assert [shard["ShardId"] for shard in after["Shards"]] == ["shardId-000000000001", "shardId-000000000002"]


def test_stops_the_process_it_started(tmp_path: Path) -> None:
    with kinesalite_server("us-east-1", log_path=tmp_path / "kinesalite.log") as server:
        assert Path(f"/proc/{server.pid}").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)


def test_takes_more_shards_than_its_default_limit_of_ten(kinesalite: Kinesalite) -> None:
    kinesis = LocalAws(kinesalite.endpoint, "us-east-1").client("kinesis")
    _, arn = new_stream(kinesis, 11)
    name = arn.rsplit("/", 1)[1]
    assert len(kinesis.list_shards(StreamName=name)["Shards"]) == 11
