"""The Managed Service for Apache Flink application as the deploy CLI manages it.

Request builders are plain functions of their inputs; :class:`ManagedFlink` sends them with a
``kinesisanalyticsv2`` client it is given, so tests can hand it a stubbed client.  The
functions at the end read an application's description.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import build_config, load_property_groups

RUNTIME_ENVIRONMENT = "FLINK-2_2"
DEFAULT_APPLICATION = "stream-scoring"
DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000
MIN_PAUSE_BETWEEN_CHECKPOINTS_MS = 5_000
DASHBOARD_SESSION_SECONDS = 1800
METRICS_LEVEL = "OPERATOR"

# The service starts a PyFlink application from this group: paths inside the application zip.
RUN_OPTIONS_GROUP = "kinesis.analytics.flink.run.options"
RUN_OPTIONS = {
    "python": "job/main.py",
    "jarfile": "lib/stream-scoring-connectors.jar",
    "pyFiles": "python-libs/",
}


class DeployError(Exception):
    """A problem the CLI reports as one line, found before or between API calls."""


def service_property_groups(groups: Mapping[str, Mapping[str, str]]) -> list[dict[str, Any]]:
    """The groups in the API's form, with the run options group added unless present."""
    result = [{"PropertyGroupId": name, "PropertyMap": dict(values)} for name, values in groups.items()]
    if RUN_OPTIONS_GROUP not in groups:
        result.append({"PropertyGroupId": RUN_OPTIONS_GROUP, "PropertyMap": dict(RUN_OPTIONS)})
    return result


def load_properties(path: Path) -> list[dict[str, Any]]:
    """Read and validate a properties file as the job would; raises ``ConfigError`` on a bad one."""
    groups = load_property_groups(path)
    build_config(groups, {})
    return service_property_groups(groups)


@dataclass(frozen=True)
class ApplicationSettings:
    """Everything ``create`` needs."""

    bucket: str
    key: str
    role_arn: str
    property_groups: list[dict[str, Any]]
    parallelism: int = 1
    parallelism_per_kpu: int = 1
    checkpoint_interval_ms: int = DEFAULT_CHECKPOINT_INTERVAL_MS
    log_stream_arn: str | None = None


@dataclass(frozen=True)
class ApplicationChanges:
    """What ``update`` changes; None leaves a setting as it is."""

    bucket: str | None = None
    key: str | None = None
    role_arn: str | None = None
    property_groups: list[dict[str, Any]] | None = None
    parallelism: int | None = None
    parallelism_per_kpu: int | None = None
    checkpoint_interval_ms: int | None = None
    log_stream_arn: str | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in self.__dict__.values())


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def create_request(name: str, settings: ApplicationSettings) -> dict[str, Any]:
    """Parameters of ``CreateApplication``."""
    request: dict[str, Any] = {
        "ApplicationName": name,
        "RuntimeEnvironment": RUNTIME_ENVIRONMENT,
        "ServiceExecutionRole": settings.role_arn,
        "ApplicationMode": "STREAMING",
        "ApplicationConfiguration": {
            "ApplicationCodeConfiguration": {
                "CodeContent": {
                    "S3ContentLocation": {"BucketARN": bucket_arn(settings.bucket), "FileKey": settings.key}
                },
                "CodeContentType": "ZIPFILE",
            },
            "EnvironmentProperties": {"PropertyGroups": settings.property_groups},
            "FlinkApplicationConfiguration": {
                "CheckpointConfiguration": {
                    "ConfigurationType": "CUSTOM",
                    "CheckpointingEnabled": True,
                    "CheckpointInterval": settings.checkpoint_interval_ms,
                    "MinPauseBetweenCheckpoints": MIN_PAUSE_BETWEEN_CHECKPOINTS_MS,
                },
                # Operator level: the service sends an operator's custom metrics (the KinesisAnalytics
                # group) only from this level on.
                "MonitoringConfiguration": {
                    "ConfigurationType": "CUSTOM",
                    "MetricsLevel": METRICS_LEVEL,
                    "LogLevel": "INFO",
                },
                "ParallelismConfiguration": {
                    "ConfigurationType": "CUSTOM",
                    "Parallelism": settings.parallelism,
                    "ParallelismPerKPU": settings.parallelism_per_kpu,
                    "AutoScalingEnabled": False,
                },
            },
            "ApplicationSnapshotConfiguration": {"SnapshotsEnabled": True},
        },
    }
    if settings.log_stream_arn:
        request["CloudWatchLoggingOptions"] = [{"LogStreamARN": settings.log_stream_arn}]
    return request


def _code_update(changes: ApplicationChanges) -> dict[str, Any] | None:
    location: dict[str, str] = {}
    if changes.bucket is not None:
        location["BucketARNUpdate"] = bucket_arn(changes.bucket)
    if changes.key is not None:
        location["FileKeyUpdate"] = changes.key
    if not location:
        return None
    return {"CodeContentTypeUpdate": "ZIPFILE", "CodeContentUpdate": {"S3ContentLocationUpdate": location}}


def _flink_update(changes: ApplicationChanges) -> dict[str, Any] | None:
    update: dict[str, Any] = {}
    if changes.checkpoint_interval_ms is not None:
        update["CheckpointConfigurationUpdate"] = {
            "ConfigurationTypeUpdate": "CUSTOM",
            "CheckpointingEnabledUpdate": True,
            "CheckpointIntervalUpdate": changes.checkpoint_interval_ms,
            "MinPauseBetweenCheckpointsUpdate": MIN_PAUSE_BETWEEN_CHECKPOINTS_MS,
        }
    if changes.parallelism is not None or changes.parallelism_per_kpu is not None:
        parallelism: dict[str, Any] = {"ConfigurationTypeUpdate": "CUSTOM"}
        if changes.parallelism is not None:
            parallelism["ParallelismUpdate"] = changes.parallelism
        if changes.parallelism_per_kpu is not None:
            parallelism["ParallelismPerKPUUpdate"] = changes.parallelism_per_kpu
        parallelism["AutoScalingEnabledUpdate"] = False
        update["ParallelismConfigurationUpdate"] = parallelism
    return update or None


def update_request(
    name: str, version_id: int, changes: ApplicationChanges, logging_updates: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """Parameters of ``UpdateApplication``: only the parts ``changes`` sets."""
    configuration: dict[str, Any] = {}
    code = _code_update(changes)
    if code is not None:
        configuration["ApplicationCodeConfigurationUpdate"] = code
    if changes.property_groups is not None:
        configuration["EnvironmentPropertyUpdates"] = {"PropertyGroups": changes.property_groups}
    flink = _flink_update(changes)
    if flink is not None:
        configuration["FlinkApplicationConfigurationUpdate"] = flink
    request: dict[str, Any] = {"ApplicationName": name, "CurrentApplicationVersionId": version_id}
    if configuration:
        request["ApplicationConfigurationUpdate"] = configuration
    if changes.role_arn is not None:
        request["ServiceExecutionRoleUpdate"] = changes.role_arn
    if logging_updates:
        request["CloudWatchLoggingOptionUpdates"] = logging_updates
    return request


def start_request(
    name: str, restore: bool, allow_non_restored_state: bool, snapshot: str | None = None
) -> dict[str, Any]:
    """Parameters of ``StartApplication``: from the latest snapshot, from ``snapshot``, or from none."""
    restoration: dict[str, Any]
    if snapshot is not None:
        restoration = {"ApplicationRestoreType": "RESTORE_FROM_CUSTOM_SNAPSHOT", "SnapshotName": snapshot}
    else:
        restoration = {
            "ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT" if restore else "SKIP_RESTORE_FROM_SNAPSHOT"
        }
    run: dict[str, Any] = {"ApplicationRestoreConfiguration": restoration}
    if allow_non_restored_state:
        run["FlinkRunConfiguration"] = {"AllowNonRestoredState": True}
    return {"ApplicationName": name, "RunConfiguration": run}


class ManagedFlink:
    """One application, through a ``kinesisanalyticsv2`` client."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def describe(self) -> dict[str, Any]:
        detail: dict[str, Any] = self.client.describe_application(ApplicationName=self.name)["ApplicationDetail"]
        return detail

    def create(self, settings: ApplicationSettings) -> dict[str, Any]:
        detail: dict[str, Any] = self.client.create_application(**create_request(self.name, settings))[
            "ApplicationDetail"
        ]
        return detail

    def update(self, changes: ApplicationChanges) -> int:
        """Apply ``changes`` to the current version; returns the new version id."""
        if changes.is_empty():
            raise DeployError("nothing to update: give at least one option (see update --help)")
        detail = self.describe()
        version: int = detail["ApplicationVersionId"]
        logging_updates: list[dict[str, str]] | None = None
        if changes.log_stream_arn is not None:
            version, logging_updates = self._logging_change(detail, changes.log_stream_arn)
        request = update_request(self.name, version, changes, logging_updates)
        if set(request) == {"ApplicationName", "CurrentApplicationVersionId"}:
            return version
        response = self.client.update_application(**request)
        new_version: int = response["ApplicationDetail"]["ApplicationVersionId"]
        return new_version

    def _logging_change(self, detail: Mapping[str, Any], arn: str) -> tuple[int, list[dict[str, str]] | None]:
        """Point the existing logging option at ``arn``, or add one (which makes a new version)."""
        version: int = detail["ApplicationVersionId"]
        options = detail.get("CloudWatchLoggingOptionDescriptions") or []
        if options:
            if options[0]["LogStreamARN"] == arn:
                return version, None
            option_id = options[0].get("CloudWatchLoggingOptionId")
            if option_id is None:
                raise DeployError(f"application '{self.name}' describes its logging option without an id")
            return version, [{"CloudWatchLoggingOptionId": option_id, "LogStreamARNUpdate": arn}]
        response = self.client.add_application_cloud_watch_logging_option(
            ApplicationName=self.name,
            CurrentApplicationVersionId=version,
            CloudWatchLoggingOption={"LogStreamARN": arn},
        )
        added: int = response["ApplicationVersionId"]
        return added, None

    def start(self, restore: bool = True, allow_non_restored_state: bool = False, snapshot: str | None = None) -> None:
        self.client.start_application(**start_request(self.name, restore, allow_non_restored_state, snapshot))

    def stop(self, force: bool = False) -> None:
        self.client.stop_application(ApplicationName=self.name, Force=force)

    def dashboard_url(self) -> str:
        response = self.client.create_application_presigned_url(
            ApplicationName=self.name,
            UrlType="FLINK_DASHBOARD_URL",
            SessionExpirationDurationInSeconds=DASHBOARD_SESSION_SECONDS,
        )
        url: str = response["AuthorizedUrl"]
        return url


def code_location(detail: Mapping[str, Any]) -> str | None:
    """The application's code as ``s3://bucket/key``, if it is a zip in S3."""
    configuration = detail.get("ApplicationConfigurationDescription") or {}
    code = configuration.get("ApplicationCodeConfigurationDescription") or {}
    location = (code.get("CodeContentDescription") or {}).get("S3ApplicationCodeLocationDescription")
    if not location:
        return None
    bucket = location["BucketARN"].rsplit(":", 1)[-1]
    return f"s3://{bucket}/{location['FileKey']}"


def property_groups(detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    configuration = detail.get("ApplicationConfigurationDescription") or {}
    environment = configuration.get("EnvironmentPropertyDescriptions") or {}
    groups: list[dict[str, Any]] = environment.get("PropertyGroupDescriptions") or []
    return groups


def log_stream_arn(detail: Mapping[str, Any]) -> str | None:
    options = detail.get("CloudWatchLoggingOptionDescriptions") or []
    return options[0]["LogStreamARN"] if options else None


def parallelism(detail: Mapping[str, Any]) -> str | None:
    """E.g. ``2 (per KPU 1, auto scaling off)``."""
    configuration = detail.get("ApplicationConfigurationDescription") or {}
    flink = configuration.get("FlinkApplicationConfigurationDescription") or {}
    described = flink.get("ParallelismConfigurationDescription")
    if not described:
        return None
    scaling = "on" if described.get("AutoScalingEnabled") else "off"
    return f"{described.get('Parallelism')} (per KPU {described.get('ParallelismPerKPU')}, auto scaling {scaling})"
