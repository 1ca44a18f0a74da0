"""The deploy CLI: S3 upload, create and status against moto; every other call against botocore's Stubber."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber

from deploy.application import RUN_OPTIONS_GROUP
from deploy.cli import main
from deploy.local.stack import LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LocalAws, free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/stream-scoring"
APP_ARN = f"arn:aws:kinesisanalytics:{REGION}:{LOCAL_ACCOUNT}:application/stream-scoring"
LOG_STREAM_ARN = (
    f"arn:aws:logs:{REGION}:{LOCAL_ACCOUNT}:log-group:/aws/kinesis-analytics/stream-scoring:log-stream:flink"
)
PROPERTIES = [
    {
        "PropertyGroupId": "kinesis.source",
        "PropertyMap": {"stream.arn": f"arn:aws:kinesis:{REGION}:{LOCAL_ACCOUNT}:stream/taxi-trips"},
    },
    {"PropertyGroupId": "records", "PropertyMap": {"key.fields": "vendor_id"}},
    {"PropertyGroupId": "sink.s3", "PropertyMap": {"path": "s3://scoring-out/windows"}},
    {"PropertyGroupId": "sink.dlq", "PropertyMap": {"path": "s3://scoring-out/dead-letters"}},
    {
        "PropertyGroupId": "inference",
        "PropertyMap": {
            "type": "apigateway",
            "url": "https://abc.execute-api.us-east-1.amazonaws.com/prod/predict",
            "auth": "api_key",
            "api.key": "secret-value",
            "features": "count",
        },
    },
]
RUN_OPTIONS = {
    "PropertyGroupId": RUN_OPTIONS_GROUP,
    "PropertyMap": {"python": "job/main.py", "jarfile": "lib/stream-scoring-connectors.jar", "pyFiles": "python-libs/"},
}
PROPERTIES_STATUS = [
    f"properties:  kinesis.source: stream.arn=arn:aws:kinesis:{REGION}:{LOCAL_ACCOUNT}:stream/taxi-trips",
    "             records: key.fields=vendor_id",
    "             sink.s3: path=s3://scoring-out/windows",
    "             sink.dlq: path=s3://scoring-out/dead-letters",
    "             inference: type=apigateway, url=https://abc.execute-api.us-east-1.amazonaws.com/prod/predict, "
    "auth=api_key, api.key=****, features=count",
    f"             {RUN_OPTIONS_GROUP}: python=job/main.py, jarfile=lib/stream-scoring-connectors.jar, "
    "pyFiles=python-libs/",
]


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Local credentials only: no profile, config file, endpoint or metadata service of this machine."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*argv: str, clients: Any = None) -> Result:
        code = main(list(argv), clients=clients)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def write_properties(tmp_path: Path, groups: list[dict[str, Any]]) -> Path:
    path = tmp_path / "application_properties.json"
    path.write_text(json.dumps(groups), encoding="utf-8")
    return path


# --- against moto ------------------------------------------------------------------------------------


def moto_args(local_aws: LocalAws, application: str) -> list[str]:
    return ["--endpoint-url", local_aws.endpoint, "--region", local_aws.region, "--application", application]


def test_upload_puts_the_exact_bytes_and_prints_the_location(local_aws: LocalAws, cli: Any, tmp_path: Path) -> None:
    local_aws.client("s3").create_bucket(Bucket="deploy-upload")
    archive = tmp_path / "stream-scoring.zip"
    content = random.Random(7).randbytes(9 * 1024 * 1024 + 123)  # above the multipart threshold
    archive.write_bytes(content)

    result = cli(*moto_args(local_aws, "unused"), "upload", str(archive), "--bucket", "deploy-upload")

    assert (result.code, result.out) == (0, "s3://deploy-upload/stream-scoring/stream-scoring.zip\n")
    body = local_aws.client("s3").get_object(Bucket="deploy-upload", Key="stream-scoring/stream-scoring.zip")["Body"]
    assert body.read() == content
    assert result.err.startswith("\rupload stream-scoring.zip [")
    assert result.err.rsplit("\r", 1)[1] == f"upload stream-scoring.zip [{'#' * 30}] 100% 9.0/9.0 MB\n"


def test_upload_to_a_given_key(local_aws: LocalAws, cli: Any, tmp_path: Path) -> None:
    local_aws.client("s3").create_bucket(Bucket="deploy-upload-key")
    archive = tmp_path / "app.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))

    result = cli(
        *moto_args(local_aws, "unused"), "upload", str(archive), "--bucket", "deploy-upload-key", "--key", "a/b.zip"
    )

    assert (result.code, result.out) == (0, "s3://deploy-upload-key/a/b.zip\n")
    body = local_aws.client("s3").get_object(Bucket="deploy-upload-key", Key="a/b.zip")["Body"]
    assert body.read() == b"PK\x05\x06" + bytes(18)


def test_create_then_status(local_aws: LocalAws, cli: Any, tmp_path: Path) -> None:
    properties = write_properties(tmp_path, PROPERTIES)
    args = moto_args(local_aws, "scoring-create")

    created = cli(
        *args, "create", "--bucket", "code-bucket", "--key", "stream-scoring/app.zip", "--role-arn", ROLE_ARN,
        "--properties", str(properties), "--parallelism", "4", "--parallelism-per-kpu", "2",
    )  # fmt: skip
    # moto reports STARTING where the service says READY.
    assert (created.code, created.out, created.err) == (
        0,
        "created application 'scoring-create' (version 1, status STARTING)\n",
        "",
    )

    status = cli(*args, "status")
    assert (status.code, status.err) == (0, "")
    assert status.out.splitlines() == [
        "application: scoring-create",
        "status:      STARTING",
        "runtime:     FLINK-2_2",
        "version:     1",
        "code:        s3://code-bucket/stream-scoring/app.zip",
        "parallelism: 4 (per KPU 2, auto scaling off)",
        "log stream:  -",
        *PROPERTIES_STATUS,
    ]

    detail = local_aws.client("kinesisanalyticsv2").describe_application(ApplicationName="scoring-create")
    configuration = detail["ApplicationDetail"]["ApplicationConfigurationDescription"]
    assert configuration["EnvironmentPropertyDescriptions"]["PropertyGroupDescriptions"] == [*PROPERTIES, RUN_OPTIONS]
    assert configuration["FlinkApplicationConfigurationDescription"]["CheckpointConfigurationDescription"] == {
        "ConfigurationType": "CUSTOM",
        "CheckpointingEnabled": True,
        "CheckpointInterval": 60000,
        "MinPauseBetweenCheckpoints": 5000,
    }
    assert configuration["ApplicationSnapshotConfigurationDescription"] == {"SnapshotsEnabled": True}
    assert detail["ApplicationDetail"]["ApplicationMode"] == "STREAMING"


def test_create_keeps_run_options_of_the_file(local_aws: LocalAws, cli: Any, tmp_path: Path) -> None:
    own = {"PropertyGroupId": RUN_OPTIONS_GROUP, "PropertyMap": {"python": "other/main.py", "jarfile": "x.jar"}}
    properties = write_properties(tmp_path, [*PROPERTIES, own])

    result = cli(
        *moto_args(local_aws, "scoring-own-options"), "create", "--bucket", "b", "--key", "k.zip",
        "--role-arn", ROLE_ARN, "--properties", str(properties),
    )  # fmt: skip

    assert result.code == 0
    detail = local_aws.client("kinesisanalyticsv2").describe_application(ApplicationName="scoring-own-options")
    environment = detail["ApplicationDetail"]["ApplicationConfigurationDescription"]["EnvironmentPropertyDescriptions"]
    assert environment["PropertyGroupDescriptions"] == [*PROPERTIES, own]


def log_event(moment_ms: int, level: str, message: str) -> dict[str, Any]:
    """A log event as the service writes it."""
    document = {"applicationARN": APP_ARN, "messageType": level, "message": message, "logger": "x"}
    return {"timestamp": moment_ms, "message": json.dumps(document)}


def test_logs_prints_messages_and_errors_with_their_traceback(local_aws: LocalAws, cli: Any, tmp_path: Path) -> None:
    logs = local_aws.client("logs")
    logs.create_log_group(logGroupName="/aws/kinesis-analytics/scoring-logs")
    logs.create_log_stream(logGroupName="/aws/kinesis-analytics/scoring-logs", logStreamName="flink")
    base = (int(time.time()) - 120) * 1000  # two minutes ago, in whole seconds
    messages = [
        ("INFO", "Job started"),
        ("INFO", "Traceback (most recent call last):"),
        ("INFO", '  File "job/main.py", line 12, in <module>'),
        ("INFO", "    main()"),
        ("INFO", "config.errors.ConfigError: configuration error in property group 'window', key 'size.seconds': bad"),
        ("INFO", "checkpoint 1 complete"),
        ("ERROR", "Run python process failed"),
        ("WARN", "java.lang.IllegalStateException: no records"),
    ]
    events = [log_event(base + i * 1000, level, text) for i, (level, text) in enumerate(messages)]
    events.append({"timestamp": base + 9000, "message": "plain text line"})
    events.append({"timestamp": base - 3_600_000, "message": "an hour before: outside --since"})
    logs.put_log_events(
        logGroupName="/aws/kinesis-analytics/scoring-logs",
        logStreamName="flink",
        logEvents=sorted(events, key=lambda e: e["timestamp"]),
    )
    arn = f"arn:aws:logs:{REGION}:{LOCAL_ACCOUNT}:log-group:/aws/kinesis-analytics/scoring-logs:log-stream:flink"
    args = moto_args(local_aws, "scoring-logs")
    created = cli(
        *args, "create", "--bucket", "b", "--key", "k.zip", "--role-arn", ROLE_ARN,
        "--properties", str(write_properties(tmp_path, PROPERTIES)), "--log-stream-arn", arn,
    )  # fmt: skip
    assert created.code == 0

    def stamp(offset_s: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base / 1000 + offset_s)) + ".000Z"

    every = cli(*args, "logs")
    assert (every.code, every.err) == (0, "")
    assert every.out.splitlines() == [
        *(f"{stamp(i)} {level} {text}" for i, (level, text) in enumerate(messages)),
        f"{stamp(9)} plain text line",
    ]

    errors = cli(*args, "logs", "--errors", "--since", "5m")
    assert (errors.code, errors.err) == (0, "")
    assert errors.out.splitlines() == [
        f"{stamp(i)} {level} {text}" for i, (level, text) in enumerate(messages) if i in (1, 2, 3, 4, 6, 7)
    ]

    none = cli(*args, "logs", "--since", "30s")
    assert (none.code, none.out, none.err) == (0, "", f"no log messages in the last 30 s in {arn}\n")


# --- against the Stubber -----------------------------------------------------------------------------


@dataclass
class Stubbed:
    """A stubbed kinesisanalyticsv2 client and the services the CLI asked clients of."""

    client: Any
    stubber: Stubber
    requested: list[str] = field(default_factory=list)

    def clients(self, service: str) -> Any:
        self.requested.append(service)
        assert service == "kinesisanalyticsv2"
        return self.client


@pytest.fixture
def flink() -> Iterator[Stubbed]:
    client = boto3.client(
        "kinesisanalyticsv2",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )
    with Stubber(client) as stubber:
        stubbed = Stubbed(client, stubber)
        yield stubbed
        stubber.assert_no_pending_responses()


def described(status: str = "READY", version: int = 3, log_option: bool = True) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "ApplicationARN": APP_ARN,
        "ApplicationName": "stream-scoring",
        "RuntimeEnvironment": "FLINK-2_2",
        "ApplicationStatus": status,
        "ApplicationVersionId": version,
        "ServiceExecutionRole": ROLE_ARN,
        "ApplicationConfigurationDescription": {
            "ApplicationCodeConfigurationDescription": {
                "CodeContentType": "ZIPFILE",
                "CodeContentDescription": {
                    "S3ApplicationCodeLocationDescription": {
                        "BucketARN": "arn:aws:s3:::code-bucket",
                        "FileKey": "stream-scoring/app.zip",
                    }
                },
            },
            "EnvironmentPropertyDescriptions": {"PropertyGroupDescriptions": [*PROPERTIES, RUN_OPTIONS]},
            "FlinkApplicationConfigurationDescription": {
                "ParallelismConfigurationDescription": {
                    "ConfigurationType": "CUSTOM",
                    "Parallelism": 2,
                    "ParallelismPerKPU": 1,
                    "CurrentParallelism": 2,
                    "AutoScalingEnabled": False,
                }
            },
        },
    }
    if log_option:
        detail["CloudWatchLoggingOptionDescriptions"] = [
            {"CloudWatchLoggingOptionId": "1.1", "LogStreamARN": LOG_STREAM_ARN}
        ]
    return {"ApplicationDetail": detail}


def expect_describe(flink: Stubbed, **kwargs: Any) -> None:
    flink.stubber.add_response("describe_application", described(**kwargs), {"ApplicationName": "stream-scoring"})


def test_update_sends_every_given_setting(flink: Stubbed, cli: Any, tmp_path: Path) -> None:
    properties = write_properties(tmp_path, PROPERTIES)
    new_stream = LOG_STREAM_ARN.replace(":log-stream:flink", ":log-stream:flink-2")
    expect_describe(flink, version=3)
    expected = {
        "ApplicationName": "stream-scoring",
        "CurrentApplicationVersionId": 3,
        "ApplicationConfigurationUpdate": {
            "ApplicationCodeConfigurationUpdate": {
                "CodeContentTypeUpdate": "ZIPFILE",
                "CodeContentUpdate": {
                    "S3ContentLocationUpdate": {"BucketARNUpdate": "arn:aws:s3:::code-2", "FileKeyUpdate": "v2/app.zip"}
                },
            },
            "EnvironmentPropertyUpdates": {"PropertyGroups": [*PROPERTIES, RUN_OPTIONS]},
            "FlinkApplicationConfigurationUpdate": {
                "CheckpointConfigurationUpdate": {
                    "ConfigurationTypeUpdate": "CUSTOM",
                    "CheckpointingEnabledUpdate": True,
                    "CheckpointIntervalUpdate": 30000,
                    "MinPauseBetweenCheckpointsUpdate": 5000,
                },
                "ParallelismConfigurationUpdate": {
                    "ConfigurationTypeUpdate": "CUSTOM",
                    "ParallelismUpdate": 8,
                    "ParallelismPerKPUUpdate": 4,
                    "AutoScalingEnabledUpdate": False,
                },
            },
        },
        "ServiceExecutionRoleUpdate": ROLE_ARN + "-2",
        "CloudWatchLoggingOptionUpdates": [{"CloudWatchLoggingOptionId": "1.1", "LogStreamARNUpdate": new_stream}],
    }
    flink.stubber.add_response("update_application", described(version=4), expected)

    result = cli(
        "--region", REGION, "update", "--bucket", "code-2", "--key", "v2/app.zip", "--role-arn", ROLE_ARN + "-2",
        "--properties", str(properties), "--parallelism", "8", "--parallelism-per-kpu", "4",
        "--checkpoint-interval-ms", "30000", "--log-stream-arn", new_stream, clients=flink.clients,
    )  # fmt: skip

    assert (result.code, result.out, result.err) == (0, "updated application 'stream-scoring' to version 4\n", "")


def test_update_of_parallelism_only(flink: Stubbed, cli: Any) -> None:
    expect_describe(flink, version=7)
    expected = {
        "ApplicationName": "stream-scoring",
        "CurrentApplicationVersionId": 7,
        "ApplicationConfigurationUpdate": {
            "FlinkApplicationConfigurationUpdate": {
                "ParallelismConfigurationUpdate": {
                    "ConfigurationTypeUpdate": "CUSTOM",
                    "ParallelismUpdate": 3,
                    "AutoScalingEnabledUpdate": False,
                }
            }
        },
    }
    flink.stubber.add_response("update_application", described(version=8), expected)

    result = cli("--region", REGION, "update", "--parallelism", "3", clients=flink.clients)

    assert (result.code, result.out, result.err) == (0, "updated application 'stream-scoring' to version 8\n", "")


def test_update_adds_a_logging_option_when_there_is_none(flink: Stubbed, cli: Any) -> None:
    expect_describe(flink, version=3, log_option=False)
    flink.stubber.add_response(
        "add_application_cloud_watch_logging_option",
        {"ApplicationARN": APP_ARN, "ApplicationVersionId": 4},
        {
            "ApplicationName": "stream-scoring",
            "CurrentApplicationVersionId": 3,
            "CloudWatchLoggingOption": {"LogStreamARN": LOG_STREAM_ARN},
        },
    )
    expected = {
        "ApplicationName": "stream-scoring",
        "CurrentApplicationVersionId": 4,
        "ApplicationConfigurationUpdate": {
            "ApplicationCodeConfigurationUpdate": {
                "CodeContentTypeUpdate": "ZIPFILE",
                "CodeContentUpdate": {"S3ContentLocationUpdate": {"FileKeyUpdate": "v3/app.zip"}},
            }
        },
    }
    flink.stubber.add_response("update_application", described(version=5), expected)

    result = cli(
        "--region", REGION, "update", "--key", "v3/app.zip", "--log-stream-arn", LOG_STREAM_ARN, clients=flink.clients
    )  # fmt: skip

    assert (result.code, result.out, result.err) == (0, "updated application 'stream-scoring' to version 5\n", "")


def test_update_without_options_makes_no_call(flink: Stubbed, cli: Any) -> None:
    result = cli("--region", REGION, "update", clients=flink.clients)

    assert (result.code, result.out) == (1, "")
    assert result.err == "error: nothing to update: give at least one option (see update --help)\n"


@pytest.mark.parametrize(
    ("options", "restore_type", "message"),
    [
        ((), "RESTORE_FROM_LATEST_SNAPSHOT", "starting application 'stream-scoring' from the latest snapshot\n"),
        (("--no-restore",), "SKIP_RESTORE_FROM_SNAPSHOT", "starting application 'stream-scoring' without a snapshot\n"),
    ],
)
def test_start(flink: Stubbed, cli: Any, options: tuple[str, ...], restore_type: str, message: str) -> None:
    expected = {
        "ApplicationName": "stream-scoring",
        "RunConfiguration": {"ApplicationRestoreConfiguration": {"ApplicationRestoreType": restore_type}},
    }
    flink.stubber.add_response("start_application", {}, expected)

    result = cli("--region", REGION, "start", *options, clients=flink.clients)

    assert (result.code, result.out, result.err) == (0, message, "")


def test_start_allowing_non_restored_state(flink: Stubbed, cli: Any) -> None:
    expected = {
        "ApplicationName": "other-app",
        "RunConfiguration": {
            "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"},
            "FlinkRunConfiguration": {"AllowNonRestoredState": True},
        },
    }
    flink.stubber.add_response("start_application", {}, expected)

    # Global options may also follow the subcommand.
    result = cli(
        "start", "--allow-non-restored-state", "--application", "other-app", "--region", REGION, clients=flink.clients
    )

    assert (result.code, result.out) == (0, "starting application 'other-app' from the latest snapshot\n")


@pytest.mark.parametrize(
    ("options", "force", "message"),
    [
        ((), False, "stopping application 'stream-scoring' after a snapshot\n"),
        (("--force",), True, "stopping application 'stream-scoring' at once, without a snapshot\n"),
    ],
)
def test_stop(flink: Stubbed, cli: Any, options: tuple[str, ...], force: bool, message: str) -> None:
    flink.stubber.add_response("stop_application", {}, {"ApplicationName": "stream-scoring", "Force": force})

    result = cli("--region", REGION, "stop", *options, clients=flink.clients)

    assert (result.code, result.out, result.err) == (0, message, "")


def test_status_of_a_running_application_has_the_dashboard_url(flink: Stubbed, cli: Any) -> None:
    url = "https://stream-scoring.dashboard.kinesisanalytics.us-east-1.amazonaws.com/flinkdashboard/?authToken=t"
    expect_describe(flink, status="RUNNING", version=9)
    flink.stubber.add_response(
        "create_application_presigned_url",
        {"AuthorizedUrl": url},
        {
            "ApplicationName": "stream-scoring",
            "UrlType": "FLINK_DASHBOARD_URL",
            "SessionExpirationDurationInSeconds": 1800,
        },
    )

    result = cli("--region", REGION, "status", clients=flink.clients)

    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        "application: stream-scoring",
        "status:      RUNNING",
        "runtime:     FLINK-2_2",
        "version:     9",
        "code:        s3://code-bucket/stream-scoring/app.zip",
        "parallelism: 2 (per KPU 1, auto scaling off)",
        f"log stream:  {LOG_STREAM_ARN}",
        *PROPERTIES_STATUS,
        f"dashboard:   {url}",
    ]


# --- snapshots (botocore's Stubber: moto implements no snapshot operation) --------------------------


def summary(name: str, created: datetime, status: str = "READY", version: int = 3) -> dict[str, Any]:
    return {
        "SnapshotName": name,
        "SnapshotStatus": status,
        "ApplicationVersionId": version,
        "SnapshotCreationTimestamp": created,
        "RuntimeEnvironment": "FLINK-2_2",
    }


def expect_snapshot_pages(flink: Stubbed, *pages: list[dict[str, Any]]) -> None:
    for index, page in enumerate(pages):
        response: dict[str, Any] = {"SnapshotSummaries": page}
        request: dict[str, Any] = {"ApplicationName": "stream-scoring", "Limit": 50}
        if index + 1 < len(pages):
            response["NextToken"] = f"page-{index + 2}"
        if index > 0:
            request["NextToken"] = f"page-{index + 1}"
        flink.stubber.add_response("list_application_snapshots", response, request)


def test_snapshots_lists_every_page_oldest_first_with_age(flink: Stubbed, cli: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    older = now - timedelta(days=3, hours=4, minutes=30)
    newer = now - timedelta(hours=2, minutes=5, seconds=30)
    expect_snapshot_pages(
        flink, [summary("after-deploy", newer, version=4)], [summary("nightly", older, status="CREATING")]
    )

    result = cli("--region", REGION, "snapshots", clients=flink.clients)

    assert (result.code, result.err) == (0, "")

    def iso(moment: datetime) -> str:
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")

    assert result.out.splitlines() == [
        "NAME          STATUS    AGE    CREATED               VERSION  RUNTIME",
        f"nightly       CREATING  3d 4h  {iso(older)}  3        FLINK-2_2",
        f"after-deploy  READY     2h 5m  {iso(newer)}  4        FLINK-2_2",
    ]


def test_snapshots_of_an_application_without_any(flink: Stubbed, cli: Any) -> None:
    expect_snapshot_pages(flink, [])

    result = cli("--region", REGION, "snapshots", clients=flink.clients)

    assert (result.code, result.out, result.err) == (0, "", "application 'stream-scoring' has no snapshots\n")


def test_prune_deletes_the_oldest_ready_snapshots(flink: Stubbed, cli: Any) -> None:
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    snapshots = [summary(f"s{day}", base + timedelta(days=day)) for day in (3, 1, 4, 2)]
    expect_snapshot_pages(flink, [*snapshots, summary("being-made", base, status="CREATING")])
    for day in (1, 2):
        flink.stubber.add_response(
            "delete_application_snapshot",
            {},
            {
                "ApplicationName": "stream-scoring",
                "SnapshotName": f"s{day}",
                "SnapshotCreationTimestamp": base + timedelta(days=day),
            },
        )

    result = cli("--region", REGION, "snapshots", "--prune", "--keep", "2", clients=flink.clients)

    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        "deleted snapshot 's1' (2026-11-02T12:00:00+00:00)",
        "deleted snapshot 's2' (2026-11-03T12:00:00+00:00)",
        "deleted 2 snapshots of 'stream-scoring', kept 2 ready",
    ]


def test_prune_with_fewer_ready_snapshots_than_kept_deletes_none(flink: Stubbed, cli: Any) -> None:
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    expect_snapshot_pages(flink, [summary("only", base), summary("broken", base, status="FAILED")])

    result = cli("--region", REGION, "snapshots", "--prune", "--keep", "3", clients=flink.clients)

    assert (result.code, result.out) == (0, "deleted 0 snapshots of 'stream-scoring', kept 1 ready\n")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--prune",), "error: --prune needs --keep N: how many of the newest snapshots to keep\n"),
        (("--keep", "3"), "error: --keep goes with --prune\n"),
    ],
)
def test_prune_and_keep_go_together(flink: Stubbed, cli: Any, options: tuple[str, ...], message: str) -> None:
    result = cli("--region", REGION, "snapshots", *options, clients=flink.clients)

    assert (result.code, result.out, result.err) == (1, "", message)
    assert flink.requested == []


def test_start_from_a_chosen_snapshot(flink: Stubbed, cli: Any) -> None:
    created = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    flink.stubber.add_response(
        "describe_application_snapshot",
        {"SnapshotDetails": summary("before-upgrade", created)},
        {"ApplicationName": "stream-scoring", "SnapshotName": "before-upgrade"},
    )
    restore = {"ApplicationRestoreType": "RESTORE_FROM_CUSTOM_SNAPSHOT", "SnapshotName": "before-upgrade"}
    flink.stubber.add_response(
        "start_application",
        {},
        {"ApplicationName": "stream-scoring", "RunConfiguration": {"ApplicationRestoreConfiguration": restore}},
    )

    result = cli("--region", REGION, "start", "--from-snapshot", "before-upgrade", clients=flink.clients)

    assert (result.code, result.out, result.err) == (
        0,
        "starting application 'stream-scoring' from snapshot 'before-upgrade'\n",
        "",
    )


def test_start_from_a_snapshot_not_ready_makes_no_start_call(flink: Stubbed, cli: Any) -> None:
    created = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    flink.stubber.add_response(
        "describe_application_snapshot",
        {"SnapshotDetails": summary("half-made", created, status="FAILED")},
        {"ApplicationName": "stream-scoring", "SnapshotName": "half-made"},
    )

    result = cli("--region", REGION, "start", "--from-snapshot", "half-made", clients=flink.clients)

    assert (result.code, result.out) == (1, "")
    assert result.err == "error: snapshot 'half-made' is FAILED, not READY: it cannot be restored\n"


def test_start_from_a_snapshot_excludes_no_restore(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli("--region", REGION, "start", "--no-restore", "--from-snapshot", "x")

    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "operation", "code", "service_message", "line"),
    [
        (
            ("--application", "ghost", "--region", "eu-west-1", "status"),
            "describe_application",
            "ResourceNotFoundException",
            "Application ghost is not found",
            "error: application 'ghost' not found in region eu-west-1\n",
        ),
        (
            ("--region", REGION, "start"),
            "start_application",
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: kinesisanalytics:StartApplication",
            "error: access denied: kinesisanalytics:StartApplication in region us-east-1 is not allowed for these "
            "credentials (User: arn:aws:iam::123456789012:user/dev is not authorized to perform: "
            "kinesisanalytics:StartApplication)\n",
        ),
        (
            ("--region", REGION, "stop"),
            "stop_application",
            "ResourceInUseException",
            "Application stream-scoring is in\nREADY status",
            "error: application 'stream-scoring' cannot do StopApplication in its current state: "
            "Application stream-scoring is in READY status\n",
        ),
    ],
)
def test_service_errors_are_one_line(
    flink: Stubbed, cli: Any, argv: tuple[str, ...], operation: str, code: str, service_message: str, line: str
) -> None:
    flink.stubber.add_client_error(operation, code, service_message)

    result = cli(*argv, clients=flink.clients)

    assert (result.code, result.out, result.err) == (1, "", line)


def test_invalid_configuration_from_the_service(flink: Stubbed, cli: Any) -> None:
    expect_describe(flink)
    flink.stubber.add_client_error(
        "update_application", "InvalidApplicationConfigurationException", "Checkpoint interval too small"
    )

    result = cli("--region", REGION, "update", "--checkpoint-interval-ms", "1", clients=flink.clients)

    assert (result.code, result.err) == (
        1,
        "error: invalid application configuration (UpdateApplication): Checkpoint interval too small\n",
    )


@pytest.mark.parametrize("command", ["create", "update"])
def test_a_bad_property_stops_before_any_call(flink: Stubbed, cli: Any, tmp_path: Path, command: str) -> None:
    bad = [*PROPERTIES, {"PropertyGroupId": "window", "PropertyMap": {"size.seconds": "0"}}]
    properties = write_properties(tmp_path, bad)
    required = ("--bucket", "b", "--key", "k.zip", "--role-arn", ROLE_ARN) if command == "create" else ()

    result = cli("--region", REGION, command, *required, "--properties", str(properties), clients=flink.clients)

    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: configuration error in property group 'window', key 'size.seconds': must be at least 1, got 0\n"
    )
    assert flink.requested == []


def test_a_missing_properties_file(flink: Stubbed, cli: Any, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"

    result = cli("--region", REGION, "update", "--properties", str(missing), clients=flink.clients)

    assert (result.code, result.err) == (
        1,
        f"error: configuration error in property group '(file)', key '{missing}': "
        "cannot be read: No such file or directory\n",
    )
    assert flink.requested == []


def test_access_denied_on_upload_names_the_s3_action(cli: Any, tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    archive = tmp_path / "app.zip"
    archive.write_bytes(b"zip")
    with Stubber(s3) as stubber:
        stubber.add_client_error(
            "put_object",
            "AccessDenied",
            "Access Denied",
            http_status_code=403,
            expected_params={
                "Bucket": "locked",
                "Key": "stream-scoring/app.zip",
                "Body": ANY,
                "ChecksumAlgorithm": ANY,
            },
        )
        result = cli("--region", REGION, "upload", str(archive), "--bucket", "locked", clients=lambda _: s3)
        stubber.assert_no_pending_responses()

    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: access denied: s3:PutObject in region us-east-1 is not allowed for these credentials (Access Denied)\n"
    )


def closed_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_no_credentials(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LOCAL_CREDENTIALS:
        monkeypatch.delenv(name)

    result = cli("--region", REGION, "--endpoint-url", closed_endpoint(), "status")

    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or sign in\n"
    )


@pytest.mark.parametrize(
    ("region", "reason"),
    [
        ("eu-west-1", " (region eu-west-1): check the network or the endpoint"),
        ("xx-nowhere-1", ": unknown region 'xx-nowhere-1'"),
    ],
)
def test_unreachable_endpoint(cli: Any, region: str, reason: str) -> None:
    endpoint = closed_endpoint()
    client = boto3.client(
        "kinesisanalyticsv2",
        region_name=region,
        endpoint_url=endpoint,
        config=Config(retries={"total_max_attempts": 1}),
    )

    result = cli("--region", region, "status", clients=lambda _: client)

    assert (result.code, result.out, result.err) == (1, "", f"error: cannot reach {endpoint}/{reason}\n")


def test_an_unknown_profile(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nobody")

    result = cli("status")

    assert (result.code, result.err) == (1, "error: The config profile (nobody) could not be found\n")


def test_an_invalid_region_name(cli: Any) -> None:
    result = cli("--region", "not a region", "status")

    assert (result.code, result.err) == (1, "error: 'not a region' is not a valid AWS region name\n")


def test_help_lists_the_subcommands() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "deploy", "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )

    assert (completed.returncode, completed.stderr) == (0, "")
    assert "{validate,upload,create,update,start,stop,status,snapshots,logs}" in completed.stdout
    for option in ("--region", "--application", "--endpoint-url"):
        assert option in completed.stdout


def test_upload_to_a_missing_bucket(local_aws: LocalAws, cli: Any, tmp_path: Path) -> None:
    archive = tmp_path / "app.zip"
    archive.write_bytes(b"zip")

    result = cli(*moto_args(local_aws, "unused"), "upload", str(archive), "--bucket", "no-such-bucket")

    # The bar has drawn the body as sent; the error starts a line of its own.
    assert (result.code, result.out, result.err) == (
        1,
        "",
        f"\rupload app.zip [{'#' * 30}] 100% 0.0/0.0 MB\n"
        "error: S3 bucket 'no-such-bucket' does not exist (PutObject)\n",
    )
