"""The fault proxy in front of a real moto server: unchanged calls, each injected fault, draws, control routes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from deploy.local.fault_proxy import FaultProxy, OperationFaults, OperationStats, fault_proxy, main, parse_faults
from deploy.local.kinesis_mock import KinesisMock
from deploy.local.stack import DELIVERY_ROLE_ARN, LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LocalAws, free_port, moto_server
from deploy.local.testing import wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
BUCKET = "fault-proxy-delivery"
SHARD_RATE_EXCEEDED = "Rate exceeded for shard."


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(url: str, method: str = "GET", body: bytes | None = None) -> Reply:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.read())


def client(endpoint: str, service: str) -> Any:
    """A client that tries each call once, so every call the test makes is one request the proxy sees."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def error_of(call: Callable[[], Any]) -> tuple[int, str, str]:
    """(status, code, message) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def stats(**by_operation: dict[str, int]) -> dict[str, OperationStats]:
    return {operation: OperationStats(**counts) for operation, counts in by_operation.items()}


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    log = Path(tmp_path_factory.mktemp("moto")) / "moto.log"
    with moto_server(REGION, log) as local:
        local.client("s3").create_bucket(Bucket=BUCKET)
        yield local


@pytest.fixture
def proxy(aws: LocalAws) -> Iterator[FaultProxy]:
    with fault_proxy(aws.endpoint, seed=0) as running:
        yield running


@pytest.fixture
def stream(aws: LocalAws) -> str:
    """A new one-shard stream, made directly on moto."""
    name = f"stream-{uuid.uuid4().hex[:8]}"
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    wait_until(
        lambda: (
            kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
        ),
        30,
        f"stream {name} to become ACTIVE",
    )
    return name


@pytest.fixture
def delivery_stream(aws: LocalAws) -> str:
    """A new Direct PUT delivery stream writing to ``BUCKET`` under ``<name>/``, made directly on moto."""
    name = f"delivery-{uuid.uuid4().hex[:8]}"
    aws.client("firehose").create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "RoleARN": DELIVERY_ROLE_ARN,
            "Prefix": f"{name}/",
        },
    )
    return name


def shard_records(aws: LocalAws, stream_name: str) -> list[dict[str, Any]]:
    """Every record of the stream's only shard, read directly from moto."""
    kinesis = aws.client("kinesis")
    iterator = kinesis.get_shard_iterator(
        StreamName=stream_name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = kinesis.get_records(ShardIterator=iterator, Limit=10000)["Records"]
    return records


def delivered(aws: LocalAws, delivery_stream_name: str) -> list[bytes]:
    """The objects moto's delivery stream wrote, one per accepted PutRecordBatch call, in key order."""
    s3 = aws.client("s3")
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{delivery_stream_name}/").get("Contents", [])
    return [s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listing]


def without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


# -- forwarding ------------------------------------------------------------------------------------------------------


def test_calls_pass_through_unchanged(aws: LocalAws, proxy: FaultProxy) -> None:
    kinesis = client(proxy.url, "kinesis")
    name = f"stream-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    wait_until(
        lambda: (
            kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
        ),
        30,
        "the stream to become ACTIVE through the proxy",
    )
    entries = [{"Data": f"trip {i}\n".encode(), "PartitionKey": f"key-{i}"} for i in range(3)]
    put = kinesis.put_records(StreamName=name, Records=entries)
    assert put["FailedRecordCount"] == 0

    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    through_proxy = kinesis.get_records(ShardIterator=iterator, Limit=10000)["Records"]
    assert through_proxy == shard_records(aws, name)
    assert [(r["Data"], r["PartitionKey"]) for r in through_proxy] == [(e["Data"], e["PartitionKey"]) for e in entries]
    assert [r["SequenceNumber"] for r in through_proxy] == [r["SequenceNumber"] for r in put["Records"]]
    assert without_metadata(kinesis.list_shards(StreamName=name)) == without_metadata(
        aws.client("kinesis").list_shards(StreamName=name)
    )


def test_an_emulator_error_passes_through(proxy: FaultProxy) -> None:
    assert error_of(lambda: client(proxy.url, "kinesis").list_shards(StreamName="no-such-stream")) == (
        400,
        "ResourceNotFoundException",
        f"Stream no-such-stream under account {LOCAL_ACCOUNT} not found.",
    )
    assert proxy.stats() == stats(ListShards={"forwarded": 1})


def test_a_large_get_records_answer_is_forwarded_whole(aws: LocalAws, proxy: FaultProxy, stream: str) -> None:
    rng = random.Random(1)
    blobs = [rng.randbytes(900 * 1024) for _ in range(4)]
    direct = aws.client("kinesis")
    for blob in blobs:
        direct.put_record(StreamName=stream, Data=blob, PartitionKey="large")
    iterator = direct.get_shard_iterator(
        StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = client(proxy.url, "kinesis").get_records(ShardIterator=iterator, Limit=10000)["Records"]
    assert [record["Data"] for record in records] == blobs


def test_requests_without_a_target_are_forwarded_and_not_counted(proxy: FaultProxy) -> None:
    proxy.set_faults({"PutObject": {"throttle": 1.0}})
    s3 = client(proxy.url, "s3")
    s3.put_object(Bucket=BUCKET, Key="plain/a b?.txt", Body=b"through the proxy")
    assert s3.get_object(Bucket=BUCKET, Key="plain/a b?.txt")["Body"].read() == b"through the proxy"
    assert proxy.stats() == {}


def test_an_unreachable_upstream_answers_502() -> None:
    with fault_proxy(f"http://127.0.0.1:{free_port()}") as unreachable:
        reply = send(unreachable.url + "/", "POST", b"{}")
    assert reply.status == 502
    assert reply.body.startswith(b"the fault proxy could not reach http://127.0.0.1:")


# -- faults ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultCase:
    operation: str
    fault: str
    status: int
    code: str
    message: str


KINESIS_CASES = [
    FaultCase("GetRecords", "throttle", 400, "ProvisionedThroughputExceededException", SHARD_RATE_EXCEEDED),
    FaultCase("GetRecords", "error500", 500, "InternalFailure", "Internal service failure."),
    FaultCase("GetRecords", "expire", 400, "ExpiredIteratorException", "Iterator expired."),
    FaultCase("GetShardIterator", "throttle", 400, "ProvisionedThroughputExceededException", SHARD_RATE_EXCEEDED),
    FaultCase("GetShardIterator", "error500", 500, "InternalFailure", "Internal service failure."),
    FaultCase("PutRecords", "throttle", 400, "ProvisionedThroughputExceededException", SHARD_RATE_EXCEEDED),
    FaultCase("PutRecords", "error500", 500, "InternalFailure", "Internal service failure."),
    FaultCase("PutRecord", "throttle", 400, "ProvisionedThroughputExceededException", SHARD_RATE_EXCEEDED),
    FaultCase("ListShards", "throttle", 400, "LimitExceededException", "Rate exceeded."),
    FaultCase("ListShards", "error500", 500, "InternalFailure", "Internal service failure."),
    FaultCase("DescribeStreamSummary", "throttle", 400, "LimitExceededException", "Rate exceeded."),
]


def kinesis_call(aws: LocalAws, kinesis: Any, stream: str, operation: str) -> Callable[[], Any]:
    if operation == "GetRecords":
        iterator = aws.client("kinesis").get_shard_iterator(
            StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        return lambda: kinesis.get_records(ShardIterator=iterator)
    calls: dict[str, Callable[[], Any]] = {
        "GetShardIterator": lambda: kinesis.get_shard_iterator(
            StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        ),
        "PutRecords": lambda: kinesis.put_records(StreamName=stream, Records=[{"Data": b"x", "PartitionKey": "k"}]),
        "PutRecord": lambda: kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k"),
        "ListShards": lambda: kinesis.list_shards(StreamName=stream),
        "DescribeStreamSummary": lambda: kinesis.describe_stream_summary(StreamName=stream),
    }
    return calls[operation]


@pytest.mark.parametrize("case", KINESIS_CASES, ids=lambda case: f"{case.operation}-{case.fault}")
def test_each_kinesis_fault_answers_its_error(aws: LocalAws, proxy: FaultProxy, stream: str, case: FaultCase) -> None:
    call = kinesis_call(aws, client(proxy.url, "kinesis"), stream, case.operation)
    proxy.set_faults({case.operation: {case.fault: 1.0}})
    assert error_of(call) == (case.status, case.code, case.message)
    assert error_of(call) == (case.status, case.code, case.message)
    assert proxy.stats() == stats(**{case.operation: {case.fault: 2}})
    # Nothing was forwarded: no put reached the stream.
    assert shard_records(aws, stream) == []


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [("throttle", 500, "Slow down."), ("error500", 503, "The service is unavailable. Try your call again.")],
)
def test_each_firehose_fault_answers_service_unavailable(
    aws: LocalAws, proxy: FaultProxy, delivery_stream: str, fault: str, status: int, message: str
) -> None:
    proxy.set_faults({"PutRecordBatch": {fault: 1.0}, "PutRecord": {fault: 1.0}})
    firehose = client(proxy.url, "firehose")
    batch = error_of(lambda: firehose.put_record_batch(DeliveryStreamName=delivery_stream, Records=[{"Data": b"x"}]))
    single = error_of(lambda: firehose.put_record(DeliveryStreamName=delivery_stream, Record={"Data": b"x"}))
    assert batch == single == (status, "ServiceUnavailableException", message)
    assert proxy.stats() == stats(PutRecord={fault: 1}, PutRecordBatch={fault: 1})
    assert delivered(aws, delivery_stream) == []


def test_a_partial_put_records_writes_only_the_records_it_does_not_fail(
    aws: LocalAws, proxy: FaultProxy, stream: str
) -> None:
    proxy.set_faults({"PutRecords": {"partial": 1.0}})
    entries = [{"Data": f"trip {i}\n".encode(), "PartitionKey": f"key-{i}"} for i in range(20)]
    answer = client(proxy.url, "kinesis").put_records(StreamName=stream, Records=entries)

    results = answer["Records"]
    failed = [i for i, result in enumerate(results) if "ErrorCode" in result]
    assert len(results) == 20
    assert 1 <= len(failed) <= 20
    assert answer["FailedRecordCount"] == len(failed)
    for index in failed:
        assert results[index] == {
            "ErrorCode": "ProvisionedThroughputExceededException",
            "ErrorMessage": SHARD_RATE_EXCEEDED,
        }
    written = shard_records(aws, stream)
    accepted = [i for i in range(20) if i not in failed]
    assert [(r["Data"], r["PartitionKey"]) for r in written] == [
        (entries[i]["Data"], entries[i]["PartitionKey"]) for i in accepted
    ]
    assert [r["SequenceNumber"] for r in written] == [results[i]["SequenceNumber"] for i in accepted]
    assert proxy.stats() == stats(PutRecords={"forwarded": 1, "partial": 1, "records_failed": len(failed)})


def test_a_partial_put_record_batch_delivers_only_the_records_it_does_not_fail(
    aws: LocalAws, proxy: FaultProxy, delivery_stream: str
) -> None:
    proxy.set_faults({"PutRecordBatch": {"partial": 1.0}})
    records = [{"Data": f"prediction {i}\n".encode()} for i in range(12)]
    answer = client(proxy.url, "firehose").put_record_batch(DeliveryStreamName=delivery_stream, Records=records)

    responses = answer["RequestResponses"]
    failed = [i for i, response in enumerate(responses) if "ErrorCode" in response]
    assert len(responses) == 12
    assert 1 <= len(failed) <= 12
    assert answer["FailedPutCount"] == len(failed)
    for index, response in enumerate(responses):
        if index in failed:
            assert response == {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
        else:
            assert set(response) == {"RecordId"}
    expected = [b"".join(records[i]["Data"] for i in range(12) if i not in failed)] if len(failed) < 12 else []
    assert delivered(aws, delivery_stream) == expected
    assert proxy.stats() == stats(PutRecordBatch={"forwarded": 1, "partial": 1, "records_failed": len(failed)})


def test_a_partial_put_of_one_record_fails_it_without_forwarding(aws: LocalAws, proxy: FaultProxy, stream: str) -> None:
    proxy.set_faults({"PutRecords": {"partial": 1.0}})
    answer = client(proxy.url, "kinesis").put_records(StreamName=stream, Records=[{"Data": b"x", "PartitionKey": "k"}])
    assert without_metadata(answer) == {
        "FailedRecordCount": 1,
        "Records": [{"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": SHARD_RATE_EXCEEDED}],
        "EncryptionType": "NONE",
    }
    assert shard_records(aws, stream) == []
    assert proxy.stats() == stats(PutRecords={"partial": 1, "records_failed": 1})


def test_partial_failures_over_many_calls_fail_exactly_the_missing_records(
    aws: LocalAws, proxy: FaultProxy, stream: str
) -> None:
    proxy.set_faults({"PutRecords": {"partial": 0.5}})
    kinesis = client(proxy.url, "kinesis")
    accepted: list[bytes] = []
    failed_total = 0
    for call in range(10):
        entries: list[dict[str, Any]] = [{"Data": f"{call}-{i}".encode(), "PartitionKey": "k"} for i in range(5)]
        answer = kinesis.put_records(StreamName=stream, Records=entries)
        failed_total += answer["FailedRecordCount"]
        accepted += [e["Data"] for e, r in zip(entries, answer["Records"], strict=True) if "ErrorCode" not in r]
    assert [record["Data"] for record in shard_records(aws, stream)] == accepted
    counts = proxy.stats()["PutRecords"]
    assert counts.records_failed == failed_total == 50 - len(accepted)
    assert 0 < counts.partial < 10


def test_the_same_seed_draws_the_same_faults(aws: LocalAws, stream: str) -> None:
    def outcomes(seed: int) -> list[str]:
        faults = {"DescribeStreamSummary": {"throttle": 0.3}}
        with fault_proxy(aws.endpoint, faults, seed=seed) as seeded:
            kinesis = client(seeded.url, "kinesis")
            results = []
            for _ in range(100):
                try:
                    kinesis.describe_stream_summary(StreamName=stream)
                    results.append("ok")
                except ClientError as error:
                    results.append(error.response["Error"]["Code"])
            assert seeded.stats() == stats(
                DescribeStreamSummary={"forwarded": results.count("ok"), "throttle": 100 - results.count("ok")}
            )
            return results

    first = outcomes(seed=7)
    # One draw per call: 33 of random.Random(7)'s first 100 numbers are below 0.3.
    assert first.count("LimitExceededException") == 33
    assert first == outcomes(seed=7)
    assert first != outcomes(seed=8)


# -- control ---------------------------------------------------------------------------------------------------------


def test_faults_are_replaced_over_http_while_it_runs(proxy: FaultProxy, stream: str) -> None:
    kinesis = client(proxy.url, "kinesis")
    assert send(f"{proxy.url}/_faults").json() == {}
    body = json.dumps({"ListShards": {"throttle": 1}, "PutRecords": {"throttle": 0.1, "partial": 0.1}}).encode()
    reply = send(f"{proxy.url}/_faults", "POST", body)
    expected = {
        "ListShards": {"throttle": 1.0, "error500": 0.0, "partial": 0.0, "expire": 0.0},
        "PutRecords": {"throttle": 0.1, "error500": 0.0, "partial": 0.1, "expire": 0.0},
    }
    assert (reply.status, reply.json()) == (200, expected)
    assert proxy.faults() == {
        "ListShards": OperationFaults(throttle=1.0),
        "PutRecords": OperationFaults(throttle=0.1, partial=0.1),
    }
    assert error_of(lambda: kinesis.list_shards(StreamName=stream))[1] == "LimitExceededException"

    assert send(f"{proxy.url}/_faults", "POST", b"{}").json() == {}
    assert [shard["ShardId"] for shard in kinesis.list_shards(StreamName=stream)["Shards"]] == ["shardId-000000000000"]
    assert proxy.stats() == stats(ListShards={"forwarded": 1, "throttle": 1})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"GetRecords": {"throttle": 1.5}}', "GetRecords: throttle must be a number in [0, 1], got 1.5"),
        (b'{"GetRecords": {"throttle": "0.5"}}', "GetRecords: throttle must be a number in [0, 1], got '0.5'"),
        (b'{"GetRecords": {"throttle": 0.6, "expire": 0.5}}', "GetRecords: the shares add up to 1.1, more than 1"),
        (
            b'{"GetRecords": {"slow": 0.1}}',
            "GetRecords: unknown faults: slow (known: throttle, error500, partial, expire)",
        ),
        (b'{"GetRecords": {"partial": 0.1}}', "GetRecords: partial applies to PutRecordBatch, PutRecords only"),
        (b'{"PutRecords": {"expire": 0.1}}', "PutRecords: expire applies to GetRecords only"),
        (
            b'{"Kinesis_20131202.GetRecords": {}}',
            "an operation is a name such as GetRecords, got 'Kinesis_20131202.GetRecords'",
        ),
        (b'{"GetRecords": 0.5}', "GetRecords: faults must be an object of shares, got 0.5"),
        (b"[]", "faults must be a JSON object of operations"),
        (b"", "Expecting value: line 1 column 1 (char 0)"),
    ],
)
def test_invalid_faults_are_refused(proxy: FaultProxy, body: bytes, message: str) -> None:
    proxy.set_faults({"ListShards": {"throttle": 0.5}})
    reply = send(f"{proxy.url}/_faults", "POST", body)
    assert (reply.status, reply.json()) == (400, {"message": message})
    assert proxy.faults() == {"ListShards": OperationFaults(throttle=0.5)}


def test_faults_check_their_values() -> None:
    with pytest.raises(ValueError, match=r"^error500 must be a number in \[0, 1\], got -0.1$"):
        OperationFaults(error500=-0.1)
    assert parse_faults({"GetRecords": OperationFaults(expire=0.2)}) == {"GetRecords": OperationFaults(expire=0.2)}


def test_stats_count_every_outcome_by_operation(aws: LocalAws, proxy: FaultProxy, stream: str) -> None:
    kinesis = client(proxy.url, "kinesis")
    iterator = aws.client("kinesis").get_shard_iterator(
        StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType="LATEST"
    )["ShardIterator"]
    kinesis.get_records(ShardIterator=iterator)
    proxy.set_faults({"GetRecords": {"expire": 1.0}})
    error_of(lambda: kinesis.get_records(ShardIterator=iterator))
    proxy.set_faults({"GetRecords": {"error500": 1.0}, "PutRecords": {"partial": 1.0}})
    error_of(lambda: kinesis.get_records(ShardIterator=iterator))
    answer = kinesis.put_records(StreamName=stream, Records=[{"Data": b"x", "PartitionKey": "k"}] * 4)
    failed = answer["FailedRecordCount"]

    expected = {
        "GetRecords": {"forwarded": 1, "throttle": 0, "error500": 1, "partial": 0, "expire": 1, "records_failed": 0},
        "PutRecords": {
            "forwarded": 1 if failed < 4 else 0,
            "throttle": 0,
            "error500": 0,
            "partial": 1,
            "expire": 0,
            "records_failed": failed,
        },
    }
    assert send(f"{proxy.url}/_stats").json() == expected
    assert {operation: counts.to_json() for operation, counts in proxy.stats().items()} == expected
    # Control routes are not counted.
    assert send(f"{proxy.url}/_stats").json() == expected

    reset = send(f"{proxy.url}/_stats/reset", "POST", b"")
    assert (reset.status, reset.json()) == (200, {})
    assert proxy.stats() == {}


# -- the command line ------------------------------------------------------------------------------------------------


def test_the_command_line_serves_until_terminated(aws: LocalAws, stream: str) -> None:
    port = free_port()
    command = [sys.executable, "-m", "deploy.local.fault_proxy", "--upstream", aws.endpoint, "--port", str(port)]
    command += ["--faults", '{"ListShards": {"throttle": 1}}']
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: send(f"{url}/_stats").status == 200, 30, "the fault proxy to listen")
        kinesis = client(url, "kinesis")
        assert error_of(lambda: kinesis.list_shards(StreamName=stream))[:2] == (400, "LimitExceededException")
        assert kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamName"] == stream
        assert send(f"{url}/_stats").json()["ListShards"]["throttle"] == 1
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    assert (process.returncode, stdout, stderr) == (0, f"{url}\n", "")


def test_the_command_line_refuses_invalid_faults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--upstream", "http://127.0.0.1:1", "--faults", '{"ListShards": {"expire": 1}}'])
    assert caught.value.code == 2
    assert capsys.readouterr().err.endswith("error: ListShards: expire applies to GetRecords only\n")


# -- kinesis-mock ----------------------------------------------------------------------------------------------------


def test_kinesis_mock_behind_the_proxy_gets_only_the_records_not_failed(kinesis_mock: KinesisMock) -> None:
    proxy_faults = {"PutRecords": {"partial": 1.0}, "GetRecords": {"expire": 0.5}}
    with fault_proxy(kinesis_mock.endpoint, proxy_faults, seed=3) as proxy:
        kinesis = client(proxy.url, "kinesis")
        kinesis.create_stream(StreamName="behind-proxy", ShardCount=1)
        wait_until(
            lambda: (
                kinesis.describe_stream_summary(StreamName="behind-proxy")["StreamDescriptionSummary"]["StreamStatus"]
                == "ACTIVE"
            ),
            30,
            "the kinesis-mock stream to become ACTIVE",
        )
        entries = [{"Data": f"trip {i}\n".encode(), "PartitionKey": f"key-{i}"} for i in range(10)]
        answer = kinesis.put_records(StreamName="behind-proxy", Records=entries)
        failed = [i for i, result in enumerate(answer["Records"]) if "ErrorCode" in result]
        assert 1 <= answer["FailedRecordCount"] == len(failed)

        direct = client(kinesis_mock.endpoint, "kinesis")
        shard = direct.list_shards(StreamName="behind-proxy")["Shards"][0]["ShardId"]
        iterator = direct.get_shard_iterator(
            StreamName="behind-proxy", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        written = direct.get_records(ShardIterator=iterator)["Records"]
        assert [r["Data"] for r in written] == [e["Data"] for i, e in enumerate(entries) if i not in failed]

        # Half the reads through the proxy expire; the others read what kinesis-mock holds.
        outcomes: list[int | str] = []
        for _ in range(6):
            try:
                outcomes.append(len(kinesis.get_records(ShardIterator=iterator)["Records"]))
            except ClientError as error:
                outcomes.append(error.response["Error"]["Code"])
        assert set(outcomes) == {"ExpiredIteratorException", 10 - len(failed)}
        counts = proxy.stats()["GetRecords"]
        assert (counts.expire, counts.forwarded) == (outcomes.count("ExpiredIteratorException"), 6 - counts.expire)
