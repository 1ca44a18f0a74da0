"""``python -m deploy``: validate and upload the zip; create, update, start, stop and inspect the
Managed Flink application; list, prune and restore its snapshots.

Every AWS failure the CLI knows ends in one line on stderr and exit code 1, without a traceback.
Clients come from a factory (service name to client) so tests can hand in stubbed ones.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
)

from config import ConfigError
from deploy.application import (
    DEFAULT_APPLICATION,
    DEFAULT_CHECKPOINT_INTERVAL_MS,
    ApplicationChanges,
    ApplicationSettings,
    DeployError,
    ManagedFlink,
    code_location,
    load_properties,
    log_stream_arn,
    parallelism,
    property_groups,
)
from deploy.logs import error_lines, parse_log_stream_arn, read_log_lines
from deploy.snapshots import Snapshots, table
from deploy.upload import UploadProgress, upload_zip
from deploy.validate import validate

ClientFactory = Callable[[str], Any]

_DURATION = re.compile(r"^(?P<amount>\d+)(?P<unit>[smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# IAM action prefixes of the operations that are not kinesisanalytics ones.
_ACTION_PREFIX = {
    "PutObject": "s3",
    "CreateMultipartUpload": "s3",
    "UploadPart": "s3",
    "CompleteMultipartUpload": "s3",
    "AbortMultipartUpload": "s3",
    "FilterLogEvents": "logs",
}
_SECRET_KEYS = frozenset({"api.key"})


@dataclass(frozen=True)
class Context:
    """What every command needs: the application, the region and the clients."""

    application: str
    region: str | None
    clients: ClientFactory

    def flink(self) -> ManagedFlink:
        return ManagedFlink(self.clients("kinesisanalyticsv2"), self.application)

    def snapshots(self) -> Snapshots:
        return Snapshots(self.clients("kinesisanalyticsv2"), self.application)


# --- arguments ---------------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _duration_seconds(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"must be a number and a unit s, m, h or d (e.g. 10m), got '{text}'")
    return int(match["amount"]) * _SECONDS[match["unit"]]


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The same options on the main parser and, without defaults, after each subcommand."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--region", default=default(None), help="AWS region (default: from the AWS config or environment)"
    )
    parser.add_argument(
        "--application",
        default=default(DEFAULT_APPLICATION),
        help=f"application name (default: {DEFAULT_APPLICATION})",
    )
    parser.add_argument(
        "--endpoint-url",
        default=default(None),
        help="endpoint of every AWS service, for emulators (boto3 also reads AWS_ENDPOINT_URL)",
    )


def _application_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--bucket", required=required, help="S3 bucket of the application zip")
    parser.add_argument("--key", required=required, help="S3 key of the application zip")
    parser.add_argument("--role-arn", required=required, help="service execution role")
    parser.add_argument(
        "--properties",
        type=Path,
        required=required,
        help="runtime properties: JSON list of {PropertyGroupId, PropertyMap}, validated before any call",
    )
    parser.add_argument(
        "--parallelism",
        type=_positive,
        default=1 if required else None,
        help="parallelism" + (" (1)" if required else ""),
    )
    parser.add_argument(
        "--parallelism-per-kpu",
        type=_positive,
        default=1 if required else None,
        help="parallelism per KPU" + (" (1)" if required else ""),
    )
    parser.add_argument(
        "--checkpoint-interval-ms",
        type=_positive,
        default=DEFAULT_CHECKPOINT_INTERVAL_MS if required else None,
        help="checkpoint interval" + (f" ({DEFAULT_CHECKPOINT_INTERVAL_MS})" if required else ""),
    )
    parser.add_argument("--log-stream-arn", help="CloudWatch Logs log stream of the application")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy", description="Deploy and operate the stream-scoring Managed Flink application."
    )
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(_COMMANDS) + "}")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _global_options(sub, suppress=True)
        sub.set_defaults(handler=_COMMANDS[name])
        return sub

    check = command("validate", "check the application zip offline as the service would start it; one line a problem")
    check.add_argument("zip", type=Path, metavar="ZIP", help="the application zip")
    check.add_argument(
        "--properties", type=Path, help="runtime properties to validate and build the job plan with (JSON list)"
    )

    upload = command("upload", "upload the application zip to S3 and print its s3:// location")
    upload.add_argument("zip", type=Path, metavar="ZIP", help="the application zip")
    upload.add_argument("--bucket", required=True, help="S3 bucket")
    upload.add_argument("--key", help="S3 key (default: stream-scoring/<zip file name>)")

    _application_options(command("create", "create the application (runtime FLINK-2_2, snapshots on)"), True)
    _application_options(command("update", "update code, properties, role, parallelism or checkpoints"), False)

    start = command("start", "start the application, by default from its latest snapshot")
    origin = start.add_mutually_exclusive_group()
    origin.add_argument("--no-restore", action="store_true", help="start without restoring a snapshot")
    origin.add_argument("--from-snapshot", metavar="NAME", help="start from this snapshot (see 'snapshots')")
    start.add_argument(
        "--allow-non-restored-state",
        action="store_true",
        help="start even if the snapshot holds state no operator of the new job takes",
    )

    stop = command("stop", "stop the application; the service takes a snapshot first")
    stop.add_argument("--force", action="store_true", help="stop at once, without a snapshot")

    command("status", "show status, code, parallelism, properties and (when running) the dashboard URL")

    snapshots = command("snapshots", "list the application's snapshots, oldest first, with their age")
    snapshots.add_argument("--prune", action="store_true", help="delete the oldest ready snapshots")
    snapshots.add_argument(
        "--keep", type=_positive, default=None, help="with --prune: how many of the newest ready snapshots stay"
    )

    logs = command("logs", "print the application's CloudWatch log messages")
    logs.add_argument("--since", type=_duration_seconds, default=600, help="how far back: 30s, 10m, 2h, 1d (10m)")
    logs.add_argument(
        "--errors",
        action="store_true",
        help="only errors: ERROR, Exception, Traceback (with its frames), 'Run python process failed', "
        "configuration errors",
    )
    return parser


# --- commands ----------------------------------------------------------------------------------------


def _validate(args: argparse.Namespace, ctx: Context) -> None:
    path: Path = args.zip
    if not path.is_file():
        raise DeployError(f"no such file: {path}")
    report = validate(path, args.properties)
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}")
    if report.problems:
        count = len(report.problems)
        raise DeployError(f"{path} would not start on Managed Flink: {count} problem{'s' * (count != 1)}")
    print(f"{path}: ready for Managed Flink")


def _upload(args: argparse.Namespace, ctx: Context) -> None:
    path: Path = args.zip
    if not path.is_file():
        raise DeployError(f"no such file: {path}")
    key = args.key or f"{DEFAULT_APPLICATION}/{path.name}"
    progress = UploadProgress(f"upload {path.name}", path.stat().st_size, sys.stderr)
    try:
        location = upload_zip(ctx.clients("s3"), path, args.bucket, key, progress)
    except BaseException:
        progress.abort()
        raise
    progress.finish()
    print(location)


def _create(args: argparse.Namespace, ctx: Context) -> None:
    settings = ApplicationSettings(
        bucket=args.bucket,
        key=args.key,
        role_arn=args.role_arn,
        property_groups=load_properties(args.properties),
        parallelism=args.parallelism,
        parallelism_per_kpu=args.parallelism_per_kpu,
        checkpoint_interval_ms=args.checkpoint_interval_ms,
        log_stream_arn=args.log_stream_arn,
    )
    detail = ctx.flink().create(settings)
    print(
        f"created application '{ctx.application}' (version {detail['ApplicationVersionId']}, "
        f"status {detail['ApplicationStatus']})"
    )


def _update(args: argparse.Namespace, ctx: Context) -> None:
    changes = ApplicationChanges(
        bucket=args.bucket,
        key=args.key,
        role_arn=args.role_arn,
        property_groups=load_properties(args.properties) if args.properties else None,
        parallelism=args.parallelism,
        parallelism_per_kpu=args.parallelism_per_kpu,
        checkpoint_interval_ms=args.checkpoint_interval_ms,
        log_stream_arn=args.log_stream_arn,
    )
    version = ctx.flink().update(changes)
    print(f"updated application '{ctx.application}' to version {version}")


def _start(args: argparse.Namespace, ctx: Context) -> None:
    if args.from_snapshot is not None:
        ctx.snapshots().restorable(args.from_snapshot)
    ctx.flink().start(
        restore=not args.no_restore,
        allow_non_restored_state=args.allow_non_restored_state,
        snapshot=args.from_snapshot,
    )
    if args.from_snapshot is not None:
        origin = f"from snapshot '{args.from_snapshot}'"
    else:
        origin = "without a snapshot" if args.no_restore else "from the latest snapshot"
    print(f"starting application '{ctx.application}' {origin}")


def _stop(args: argparse.Namespace, ctx: Context) -> None:
    ctx.flink().stop(force=args.force)
    how = "at once, without a snapshot" if args.force else "after a snapshot"
    print(f"stopping application '{ctx.application}' {how}")


def _status(args: argparse.Namespace, ctx: Context) -> None:
    flink = ctx.flink()
    detail = flink.describe()
    for label, value in _status_lines(detail, ctx.application):
        print(f"{label + ':' if label else '':<13}{value}")
    if detail["ApplicationStatus"] == "RUNNING":
        print(f"{'dashboard:':<13}{flink.dashboard_url()}")


def _status_lines(detail: dict[str, Any], application: str) -> list[tuple[str, str]]:
    lines = [
        ("application", detail.get("ApplicationName", application)),
        ("status", detail["ApplicationStatus"]),
        ("runtime", detail["RuntimeEnvironment"]),
        ("version", str(detail["ApplicationVersionId"])),
        ("code", code_location(detail) or "-"),
        ("parallelism", parallelism(detail) or "-"),
        ("log stream", log_stream_arn(detail) or "-"),
    ]
    for index, group in enumerate(property_groups(detail)):
        values = ", ".join(
            f"{key}={'****' if key in _SECRET_KEYS else value}" for key, value in group["PropertyMap"].items()
        )
        lines.append(("properties" if index == 0 else "", f"{group['PropertyGroupId']}: {values}"))
    return lines


def _snapshots(args: argparse.Namespace, ctx: Context) -> None:
    if args.keep is not None and not args.prune:
        raise DeployError("--keep goes with --prune")
    if args.prune and args.keep is None:
        raise DeployError("--prune needs --keep N: how many of the newest snapshots to keep")
    snapshots = ctx.snapshots()
    now = datetime.now(UTC)
    if args.prune:
        pruned = snapshots.prune(args.keep)
        for snapshot in pruned.deleted:
            print(f"deleted snapshot '{snapshot.name}' ({snapshot.created.isoformat(timespec='seconds')})")
        deleted, kept = len(pruned.deleted), len(pruned.kept)
        print(f"deleted {deleted} snapshot{'s' * (deleted != 1)} of '{ctx.application}', kept {kept} ready")
        return
    listed = snapshots.oldest_first()
    if not listed:
        print(f"application '{ctx.application}' has no snapshots", file=sys.stderr)
        return
    for line in table(listed, now):
        print(line)


def _logs(args: argparse.Namespace, ctx: Context) -> None:
    arn = log_stream_arn(ctx.flink().describe())
    if arn is None:
        raise DeployError(
            f"application '{ctx.application}' has no CloudWatch log stream; set one with update --log-stream-arn"
        )
    start_ms = int((time.time() - args.since) * 1000)
    lines = read_log_lines(ctx.clients("logs"), parse_log_stream_arn(arn), start_ms)
    shown = 0
    for line in error_lines(lines) if args.errors else lines:
        print(line.format())
        shown += 1
    if shown == 0:
        kind = "error messages" if args.errors else "log messages"
        print(f"no {kind} in the last {args.since} s in {arn}", file=sys.stderr)


_COMMANDS: dict[str, Callable[[argparse.Namespace, Context], None]] = {
    "validate": _validate,
    "upload": _upload,
    "create": _create,
    "update": _update,
    "start": _start,
    "stop": _stop,
    "status": _status,
    "snapshots": _snapshots,
    "logs": _logs,
}


# --- errors ------------------------------------------------------------------------------------------


def _action(operation: str) -> str:
    return f"{_ACTION_PREFIX.get(operation, 'kinesisanalytics')}:{operation}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def client_error_message(error: ClientError, ctx: Context) -> str:
    """One line for an error answer of an AWS service."""
    code = error.response.get("Error", {}).get("Code", "")
    message = _one_line(str(error.response.get("Error", {}).get("Message", "")))
    operation = error.operation_name
    region = ctx.region or "(default region)"
    if code in ("AccessDeniedException", "AccessDenied"):
        return (
            f"access denied: {_action(operation)} in region {region} is not allowed for these credentials ({message})"
        )
    if code == "ResourceNotFoundException" and _action(operation).startswith("kinesisanalytics:"):
        return f"application '{ctx.application}' not found in region {region}"
    if code == "ResourceInUseException":
        return f"application '{ctx.application}' cannot do {operation} in its current state: {message}"
    if code == "InvalidApplicationConfigurationException":
        return f"invalid application configuration ({operation}): {message}"
    if code == "NoSuchBucket":
        bucket = error.response.get("Error", {}).get("BucketName", "")
        return f"S3 bucket '{bucket}' does not exist ({operation})" if bucket else f"{operation}: {message}"
    return f"{operation} failed: {code}: {message}"


def _known_region(region: str) -> bool:
    session = botocore.session.get_session()
    return any(
        region in session.get_available_regions("kinesisanalyticsv2", partition)
        for partition in session.get_available_partitions()
    )


def error_message(error: Exception, ctx: Context) -> str | None:
    """The one line for an error the CLI expects, or None for a bug (which keeps its traceback)."""
    if isinstance(error, S3UploadFailedError) and isinstance(error.__context__, ClientError):
        return client_error_message(error.__context__, ctx)
    if isinstance(error, ClientError):
        return client_error_message(error, ctx)
    if isinstance(error, DeployError | ConfigError):
        return str(error)
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or sign in"
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(error, InvalidRegionError):
        return f"'{ctx.region}' is not a valid AWS region name"
    if isinstance(error, EndpointConnectionError):
        endpoint = error.kwargs.get("endpoint_url", "")
        if ctx.region and not _known_region(ctx.region):
            return f"cannot reach {endpoint}: unknown region '{ctx.region}'"
        return f"cannot reach {endpoint} (region {ctx.region}): check the network or the endpoint"
    if isinstance(error, BotoCoreError | S3UploadFailedError):
        return _one_line(str(error))
    return None


# --- entry point -------------------------------------------------------------------------------------


def aws_clients(region: str | None, endpoint_url: str | None) -> ClientFactory:
    """Clients of one region; ``endpoint_url`` None leaves the choice to boto3 (AWS_ENDPOINT_URL)."""
    session = boto3.session.Session(region_name=region)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)

    return client


def _no_clients(service: str) -> Any:
    raise DeployError(f"no AWS session for {service}")


def _context(args: argparse.Namespace, clients: ClientFactory | None) -> Context:
    region = args.region or boto3.session.Session().region_name
    return Context(args.application, region, clients or aws_clients(region, args.endpoint_url))


def main(argv: Sequence[str] | None = None, clients: ClientFactory | None = None) -> int:
    """Run one command; 0 on success, 1 after a one-line error (argparse exits 2 on bad usage)."""
    args = build_parser().parse_args(argv)
    ctx = Context(args.application, args.region, _no_clients)  # for messages until the session is made
    try:
        if args.handler is not _validate:  # validate is offline: no AWS session, profile or region
            ctx = _context(args, clients)
        args.handler(args, ctx)
    except Exception as error:  # reported as one line below, or re-raised
        message = error_message(error, ctx)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0
