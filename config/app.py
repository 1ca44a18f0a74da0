"""The application's configuration: one frozen tree built once from the property groups.

Every key is validated here, once, and a mistake stops the job at start with a
:class:`ConfigError` naming the property group and key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Literal, cast
from urllib.parse import quote, urlparse

from config.errors import ConfigError

# Groups the service itself uses; they are allowed next to ours and ignored.
_SERVICE_GROUP_PREFIX = "kinesis.analytics."

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STREAM_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:kinesis:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):stream/(?P<name>[A-Za-z0-9_.-]{1,128})$"
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_DURATION = re.compile(r"^(?P<amount>\d{1,12})\s*(?P<unit>ms|s|min)?$")
_DURATION_UNITS_MS = {"ms": 1, "s": 1000, "min": 60_000}
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")

_CREDENTIAL_KEYS = frozenset(
    {
        "aws.credentials.provider.role.arn",
        "aws.credentials.provider.role.externalId",
        "aws.credentials.provider.role.sessionName",
    }
)
_ROLE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


# A minute: well above the pauses of a live stream's reads (polling, throttling back-off, shard
# discovery after a reshard), short next to the windows it closes.
DEFAULT_CLOSE_WHEN_IDLE_MS = 60_000

# Column names the window output writes itself; a key field may not take one of them.
RESERVED_OUTPUT_NAMES = frozenset({"window_start", "window_end", "window_id", "count"}) | frozenset(
    # Which model variant answered, and the comparison with a shadow model.
    {"prediction_variant", "shadow_prediction", "shadow_count", "shadow_mae", "shadow_bias", "disagreement"}
)
# Per aggregated field, the window output has <field>_<suffix> for each of these.
WINDOW_AGGREGATE_SUFFIXES = ("sum", "mean", "min", "max")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @property
    def key_prefix(self) -> str:
        """The prefix as S3 keys start with it: empty or ending in a slash."""
        return f"{self.prefix}/" if self.prefix else ""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


@dataclass(frozen=True)
class AwsCredentials:
    """Credentials of a connector's AWS clients: the default chain, or a role assumed through STS."""

    role_arn: str | None = None
    external_id: str | None = None
    session_name: str | None = None

    def client_properties(self) -> dict[str, str]:
        """The connector settings (the official AWS connectors' key names) for these credentials."""
        if self.role_arn is None:
            return {}
        properties = {"aws.credentials.provider": "ASSUME_ROLE", "aws.credentials.provider.role.arn": self.role_arn}
        if self.external_id is not None:
            properties["aws.credentials.provider.role.externalId"] = self.external_id
        if self.session_name is not None:
            properties["aws.credentials.provider.role.sessionName"] = self.session_name
        return properties


@dataclass(frozen=True)
class KinesisSourceConfig:
    stream_arn: str
    stream_name: str
    region: str
    init_position: str
    init_timestamp: str | None
    reader_type: str
    efo_consumer_name: str | None
    credentials: AwsCredentials = AwsCredentials()
    shard_discovery_interval_ms: int = 10_000
    get_records_max_record_count: int = 10_000
    empty_records_fetch_interval_ms: int = 250


@dataclass(frozen=True)
class RecordsConfig:
    format: str
    csv_columns: tuple[str, ...]
    key_fields: tuple[str, ...]
    event_time_field: str | None
    event_time_format: str
    watermark_out_of_orderness_ms: int
    watermark_idleness_ms: int


@dataclass(frozen=True)
class WindowConfig:
    size_seconds: int
    aggregate_fields: tuple[str, ...]
    # After this long without a record on any shard of a source subtask, its watermark follows
    # processing time so the last windows of a quiet stream close; 0 leaves them open.
    close_when_idle_ms: int = DEFAULT_CLOSE_WHEN_IDLE_MS


S3Format = Literal["json", "parquet"]
PartitionTime = Literal["event", "processing"]


@dataclass(frozen=True)
class S3SinkConfig:
    location: S3Location
    format: S3Format = "json"
    # event: windows under dt=/hour= of their window_start; processing: of the time they are written.
    partition_time: PartitionTime = "event"


@dataclass(frozen=True)
class DeliveryConfig:
    type: str
    stream_name: str
    credentials: AwsCredentials = AwsCredentials()


@dataclass(frozen=True)
class DeadLetterConfig:
    location: S3Location


InferenceInput = Literal["window", "record"]
EndpointType = Literal["sagemaker", "apigateway"]
HttpMethod = Literal["GET", "POST"]
EndpointAuth = Literal["none", "api_key", "iam"]
ContentType = Literal["text/csv", "application/json"]


@dataclass(frozen=True)
class EndpointConfig:
    """Where and how the stage calls the model: the URL and signing region are resolved once here."""

    type: EndpointType
    url: str  # SageMaker: the InvokeEndpoint URL of the endpoint; API Gateway: the route
    region: str  # SigV4 signing region
    method: HttpMethod
    query_parameter: str  # GET: the parameter carrying the CSV features
    auth: EndpointAuth
    api_key: str | None
    endpoint_name: str | None  # SageMaker only
    target_variant: str | None  # SageMaker only
    custom_attributes: str | None  # SageMaker only
    # The response header naming the model variant that answered; None: the answers name none.
    variant_header: str | None = None

    @property
    def signing_service(self) -> str:
        return "sagemaker" if self.type == "sagemaker" else "execute-api"


@dataclass(frozen=True)
class CodecConfig:
    """The request body and where the predictions are in the answer."""

    content_type: ContentType
    json_instances_key: str
    json_response_field: str
    json_score_field: str


@dataclass(frozen=True)
class BatchingConfig:
    size: int  # instances per request
    max_delay_ms: int  # longest wait to fill a batch
    capacity: int  # requests in flight per operator instance


@dataclass(frozen=True)
class RetryConfig:
    timeout_ms: int  # per request
    max_attempts: int
    backoff_initial_ms: int
    backoff_max_ms: int


@dataclass(frozen=True)
class ShadowConfig:
    """A second endpoint scoring a share of the same batches (group ``inference.shadow``); its answers are only
    compared with the primary's, never used in its place."""

    endpoint: EndpointConfig
    codec: CodecConfig
    sample_rate: float  # share of batches sent to the shadow, 0 to 1
    timeout_ms: int  # one attempt, never retried: a shadow answer later than this is counted as missed


@dataclass(frozen=True)
class InferenceConfig:
    """The async inference stage (group ``inference``)."""

    input: InferenceInput
    endpoint: EndpointConfig
    codec: CodecConfig
    batching: BatchingConfig
    retry: RetryConfig
    features: tuple[str, ...]
    prediction_field: str
    label_field: str | None
    shadow: ShadowConfig | None = None

    @cached_property
    def operator_timeout_ms(self) -> int:
        """Upper bound of one record's stay in the stage: every attempt, backoff and batching delay."""
        retry = self.retry
        backoff = sum(min(retry.backoff_initial_ms * 2**i, retry.backoff_max_ms) for i in range(retry.max_attempts))
        # Splitting a failed batch retries its halves: at most log2(batch) more rounds.
        rounds = 1 + max(1, self.batching.size).bit_length()
        return rounds * (retry.max_attempts * retry.timeout_ms + backoff) + self.batching.max_delay_ms + 1000

    @property
    def records_in_flight(self) -> int:
        """Records one operator instance holds at most: every request in flight full."""
        return self.batching.capacity * self.batching.size


@dataclass(frozen=True)
class Endpoints:
    """Endpoint overrides from ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``; None means AWS."""

    kinesis: str | None = None
    firehose: str | None = None
    s3: str | None = None
    sagemaker_runtime: str | None = None


@dataclass(frozen=True)
class AppConfig:
    source: KinesisSourceConfig
    records: RecordsConfig
    window: WindowConfig
    sink_s3: S3SinkConfig
    delivery: DeliveryConfig | None
    dead_letter: DeadLetterConfig
    endpoints: Endpoints
    inference: InferenceConfig | None = None


class _Group:
    """Typed reads from one property group, with errors that name the group and key."""

    def __init__(self, name: str, values: Mapping[str, str], known: frozenset[str]) -> None:
        self.name = name
        self.values = values
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(name, unknown[0], f"unknown key; known keys are {', '.join(sorted(known))}")

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.name, key, problem)

    def optional(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None:
            return None
        value = str(value).strip()
        return value or None

    def required(self, key: str) -> str:
        value = self.optional(key)
        if value is None:
            raise self.error(key, "is required")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.optional(key) or default
        normalized = value.lower() if choices[0].islower() else value.upper()
        if normalized not in choices:
            raise self.error(key, f"must be one of {' | '.join(choices)}, got '{value}'")
        return normalized

    def integer(self, key: str, default: int, minimum: int, maximum: int | None = None) -> int:
        raw = self.optional(key)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise self.error(key, f"must be an integer, got '{raw}'") from None
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}, got {value}")
        return value

    def duration_ms(self, key: str, default_ms: int, minimum_ms: int) -> int:
        """A duration as Flink writes them (``250 ms``, ``10 s``, ``1 min``); a bare number is milliseconds."""
        raw = self.optional(key)
        if raw is None:
            return default_ms
        match = _DURATION.match(raw)
        if not match:
            raise self.error(key, f"must be a duration such as '250 ms', '10 s' or '1 min', got '{raw}'")
        value = int(match["amount"]) * _DURATION_UNITS_MS[match["unit"] or "ms"]
        if value < minimum_ms:
            raise self.error(key, f"must be at least {minimum_ms} ms, got '{raw}'")
        return value

    def identifiers(self, key: str, *, required: bool) -> tuple[str, ...]:
        raw = self.required(key) if required else self.optional(key)
        if raw is None:
            return ()
        names = tuple(part.strip() for part in raw.split(","))
        for name in names:
            if not _IDENTIFIER.match(name):
                raise self.error(key, f"'{name}' is not a field name (letters, digits, underscore)")
        if len(set(names)) != len(names):
            raise self.error(key, "lists a field more than once")
        return names

    def s3_location(self, key: str) -> S3Location:
        raw = self.required(key)
        parsed = urlparse(raw)
        if parsed.scheme != "s3" or not _BUCKET.match(parsed.netloc):
            raise self.error(key, f"must be s3://bucket/prefix, got '{raw}'")
        return S3Location(parsed.netloc, parsed.path.strip("/"))


# The keys that say how to call an endpoint, the same for the primary and the shadow.
_ENDPOINT_KEYS = frozenset(
    {
        "type",
        "endpoint.name",
        "target.variant",
        "custom.attributes",
        "url",
        "method",
        "query.parameter",
        "auth",
        "api.key",
        "content.type",
        "json.instances.key",
        "json.response.field",
        "json.score.field",
        "variant.header",
    }
)
# SageMaker names the production variant that served a request in this response header.
SAGEMAKER_VARIANT_HEADER = "X-Amzn-Invoked-Production-Variant"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

_KNOWN_GROUPS: dict[str, frozenset[str]] = {
    "kinesis.source": frozenset(
        {
            "stream.arn",
            "aws.region",
            "init.position",
            "init.timestamp",
            "reader.type",
            "efo.consumer.name",
            "shard.discovery.interval",
            "shard.get-records.max-record-count",
            "reader.empty-records-fetch-interval",
        }
        | _CREDENTIAL_KEYS
    ),
    "records": frozenset(
        {
            "format",
            "csv.columns",
            "key.fields",
            "event.time.field",
            "event.time.format",
            "watermark.out.of.orderness.ms",
            "watermark.idleness.ms",
        }
    ),
    "window": frozenset({"size.seconds", "aggregate.fields", "close.when.idle.ms"}),
    "sink.s3": frozenset({"path", "format", "partition.time"}),
    "sink.delivery": frozenset({"type", "stream.name"}) | _CREDENTIAL_KEYS,
    "sink.dlq": frozenset({"path"}),
    "inference": _ENDPOINT_KEYS
    | frozenset(
        {
            "enabled",
            "input",
            "features",
            "prediction.field",
            "label.field",
            "batch.size",
            "batch.max.delay.ms",
            "timeout.ms",
            "max.attempts",
            "backoff.initial.ms",
            "backoff.max.ms",
            "capacity",
        }
    ),
    "inference.shadow": _ENDPOINT_KEYS | {"sample.rate", "timeout.ms"},
}


def build_config(groups: Mapping[str, Mapping[str, str]], environ: Mapping[str, str]) -> AppConfig:
    """Validate the property groups and endpoint variables into one :class:`AppConfig`."""
    for name in groups:
        if name not in _KNOWN_GROUPS and not name.startswith(_SERVICE_GROUP_PREFIX):
            raise ConfigError(name, "PropertyGroupId", f"unknown group; known groups are {', '.join(_KNOWN_GROUPS)}")
    for name in ("kinesis.source", "records", "sink.s3", "sink.dlq"):
        if name not in groups:
            raise ConfigError(name, "PropertyGroupId", "group is required")

    def group(name: str) -> _Group:
        return _Group(name, groups.get(name, {}), _KNOWN_GROUPS[name])

    source = _source(group("kinesis.source"))
    records = _records(group("records"))
    window = _window(group("window"), records)
    sink_s3 = _sink_s3(group("sink.s3"))
    delivery = _delivery(group("sink.delivery")) if "sink.delivery" in groups else None
    dead_letter = DeadLetterConfig(group("sink.dlq").s3_location("path"))
    endpoints = _endpoints(environ)
    inference = (
        _inference(group("inference"), records, window, source.region, endpoints) if "inference" in groups else None
    )
    if "inference.shadow" in groups:
        inference = _with_shadow(group("inference.shadow"), inference, source.region, endpoints)
    return AppConfig(source, records, window, sink_s3, delivery, dead_letter, endpoints, inference)


def _source(g: _Group) -> KinesisSourceConfig:
    arn = g.required("stream.arn")
    match = _STREAM_ARN.match(arn)
    if not match:
        raise g.error("stream.arn", f"must be arn:aws:kinesis:<region>:<account>:stream/<name>, got '{arn}'")
    region = g.optional("aws.region") or match["region"]
    if not _REGION.match(region):
        raise g.error("aws.region", f"'{region}' is not an AWS region name")
    position = g.choice("init.position", ("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP"), "LATEST")
    timestamp = g.optional("init.timestamp")
    if position == "AT_TIMESTAMP":
        if timestamp is None:
            raise g.error("init.timestamp", "is required when init.position is AT_TIMESTAMP")
        _check_timestamp(g, timestamp)
    reader = g.choice("reader.type", ("POLLING", "EFO"), "POLLING")
    if reader == "EFO":
        raise g.error(
            "reader.type",
            "EFO is not supported by this build's Kinesis source (it reads with POLLING); "
            "remove the key or set POLLING",
        )
    return KinesisSourceConfig(
        stream_arn=arn,
        stream_name=match["name"],
        region=region,
        init_position=position,
        init_timestamp=timestamp,
        reader_type=reader,
        efo_consumer_name=g.optional("efo.consumer.name"),
        credentials=_credentials(g),
        shard_discovery_interval_ms=g.duration_ms("shard.discovery.interval", 10_000, 1),
        get_records_max_record_count=g.integer("shard.get-records.max-record-count", 10_000, 1, 10_000),
        empty_records_fetch_interval_ms=g.duration_ms("reader.empty-records-fetch-interval", 250, 0),
    )


def _check_timestamp(g: _Group, value: str) -> None:
    try:
        float(value)
        return
    except ValueError:
        pass
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise g.error("init.timestamp", f"must be ISO-8601 or epoch seconds, got '{value}'") from None


def _records(g: _Group) -> RecordsConfig:
    fmt = g.choice("format", ("json", "csv"), "json")
    columns = g.identifiers("csv.columns", required=fmt == "csv")
    keys = g.identifiers("key.fields", required=True)
    for key in keys:
        if key in RESERVED_OUTPUT_NAMES:
            raise g.error("key.fields", f"'{key}' is a name the window output uses itself")
    time_field = g.optional("event.time.field")
    if time_field is not None and not _IDENTIFIER.match(time_field):
        raise g.error("event.time.field", f"'{time_field}' is not a field name (letters, digits, underscore)")
    time_format = g.choice("event.time.format", ("epoch_ms", "epoch_s", "iso8601"), "epoch_ms")
    if fmt == "csv":
        for key, names in (("key.fields", keys), ("event.time.field", (time_field,) if time_field else ())):
            for name in names:
                if name not in columns:
                    raise g.error(key, f"'{name}' is not one of csv.columns")
    return RecordsConfig(
        format=fmt,
        csv_columns=columns,
        key_fields=keys,
        event_time_field=time_field,
        event_time_format=time_format,
        watermark_out_of_orderness_ms=g.integer("watermark.out.of.orderness.ms", 5000, 0),
        watermark_idleness_ms=g.integer("watermark.idleness.ms", 60000, 0),
    )


def _window(g: _Group, records: RecordsConfig) -> WindowConfig:
    size = g.integer("size.seconds", 60, 1)
    fields = g.identifiers("aggregate.fields", required=False)
    for name in fields:
        if records.format == "csv" and name not in records.csv_columns:
            raise g.error("aggregate.fields", f"'{name}' is not one of records.csv.columns")
        if name in records.key_fields:
            raise g.error("aggregate.fields", f"'{name}' is also a key field")
    close_when_idle_ms = g.integer("close.when.idle.ms", DEFAULT_CLOSE_WHEN_IDLE_MS, 0)
    return WindowConfig(size_seconds=size, aggregate_fields=fields, close_when_idle_ms=close_when_idle_ms)


def _sink_s3(g: _Group) -> S3SinkConfig:
    location = g.s3_location("path")
    fmt = cast(S3Format, g.choice("format", ("json", "parquet"), "json"))
    partition_time = cast(PartitionTime, g.choice("partition.time", ("event", "processing"), "event"))
    return S3SinkConfig(location, fmt, partition_time)


def _delivery(g: _Group) -> DeliveryConfig:
    kind = g.choice("type", ("firehose", "kinesis"), "firehose")
    name = g.required("stream.name")
    if not _STREAM_NAME.match(name):
        raise g.error("stream.name", f"'{name}' is not a valid stream name")
    return DeliveryConfig(kind, name, _credentials(g))


def _credentials(g: _Group) -> AwsCredentials:
    """An assumed role for a cross-account stream, or the default chain (the application's role)."""
    arn = g.optional("aws.credentials.provider.role.arn")
    external_id = g.optional("aws.credentials.provider.role.externalId")
    session_name = g.optional("aws.credentials.provider.role.sessionName")
    if arn is None:
        for key, value in (
            ("aws.credentials.provider.role.externalId", external_id),
            ("aws.credentials.provider.role.sessionName", session_name),
        ):
            if value is not None:
                raise g.error(key, "applies only with aws.credentials.provider.role.arn")
        return AwsCredentials()
    if not _ROLE_ARN.match(arn):
        raise g.error("aws.credentials.provider.role.arn", f"must be arn:aws:iam::<account>:role/<name>, got '{arn}'")
    if external_id is not None and not _EXTERNAL_ID.match(external_id):
        raise g.error("aws.credentials.provider.role.externalId", "must be 2 to 1224 of letters, digits and +=,.@:/-_")
    if session_name is not None and not _SESSION_NAME.match(session_name):
        raise g.error("aws.credentials.provider.role.sessionName", "must be 2 to 64 of letters, digits and +=,.@-_")
    return AwsCredentials(arn, external_id, session_name)


def _endpoints(environ: Mapping[str, str]) -> Endpoints:
    def endpoint(service: str) -> str | None:
        for variable in (f"AWS_ENDPOINT_URL_{service}", "AWS_ENDPOINT_URL"):
            value = environ.get(variable, "").strip()
            if value:
                parsed = urlparse(value)
                if parsed.scheme not in ("http", "https") or not parsed.hostname:
                    raise ConfigError("(environment)", variable, f"must be an http(s) URL, got '{value}'")
                return value.rstrip("/")
        return None

    return Endpoints(
        kinesis=endpoint("KINESIS"),
        firehose=endpoint("FIREHOSE"),
        s3=endpoint("S3"),
        sagemaker_runtime=endpoint("SAGEMAKER_RUNTIME"),
    )


def _inference(
    g: _Group, records: RecordsConfig, window: WindowConfig, region: str, endpoints: Endpoints
) -> InferenceConfig | None:
    if g.choice("enabled", ("true", "false"), "true") == "false":
        return None
    mode = g.choice("input", ("window", "record"), "window")
    kind = g.choice("type", ("sagemaker", "apigateway"), "sagemaker")
    features = g.identifiers("features", required=True)
    available = _window_output_names(records, window) if mode == "window" else _record_fields(records)
    for name in features:
        if available is not None and name not in available:
            raise g.error("features", f"'{name}' is not a {mode} field; {mode} fields are {', '.join(available)}")
    label = g.optional("label.field")
    if label is not None:
        if mode != "record":
            raise g.error("label.field", "applies to input=record only")
        if not _IDENTIFIER.match(label) or (records.format == "csv" and label not in records.csv_columns):
            raise g.error("label.field", f"'{label}' is not a record field")
    prediction = g.optional("prediction.field") or "prediction"
    if not _IDENTIFIER.match(prediction):
        raise g.error("prediction.field", f"'{prediction}' is not a field name (letters, digits, underscore)")
    if prediction in records.key_fields or prediction in window.aggregate_fields:
        raise g.error("prediction.field", f"'{prediction}' is already a record field")

    endpoint, codec = _endpoint_and_codec(g, kind, region, endpoints)
    batch_size = g.integer("batch.size", 10, 1)
    if endpoint.method == "GET" and batch_size != 1:
        raise g.error("batch.size", "must be 1 with method GET (one instance per query)")
    batching = BatchingConfig(
        size=batch_size, max_delay_ms=g.integer("batch.max.delay.ms", 20, 0), capacity=g.integer("capacity", 100, 1)
    )
    retry = RetryConfig(
        timeout_ms=g.integer("timeout.ms", 2000, 1),
        max_attempts=g.integer("max.attempts", 4, 1),
        backoff_initial_ms=g.integer("backoff.initial.ms", 100, 1),
        backoff_max_ms=g.integer("backoff.max.ms", 2000, 1),
    )
    return InferenceConfig(
        input=cast(InferenceInput, mode),
        endpoint=endpoint,
        codec=codec,
        batching=batching,
        retry=retry,
        features=features,
        prediction_field=prediction,
        label_field=label,
    )


def _endpoint_and_codec(g: _Group, kind: str, region: str, endpoints: Endpoints) -> tuple[EndpointConfig, CodecConfig]:
    """How to call the endpoint of ``g`` (the primary's or the shadow's group) and read its answers."""
    endpoint_name = g.optional("endpoint.name")
    url = g.optional("url")
    if kind == "sagemaker":
        if endpoint_name is None:
            raise g.error("endpoint.name", "is required when type is sagemaker")
        if not re.match(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", endpoint_name):
            raise g.error("endpoint.name", f"'{endpoint_name}' is not a SageMaker endpoint name")
    else:
        if url is None:
            raise g.error("url", "is required when type is apigateway")
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise g.error("url", f"must be an http(s) URL, got '{url}'")
    auth = g.choice("auth", ("none", "api_key", "iam"), "iam" if kind == "sagemaker" else "none")
    if kind == "sagemaker" and auth != "iam":
        raise g.error("auth", "a SageMaker endpoint is always called with iam (SigV4)")
    api_key = g.optional("api.key")
    if auth == "api_key" and api_key is None:
        raise g.error("api.key", "is required when auth is api_key")
    method = g.choice("method", ("POST", "GET"), "POST")
    if kind == "sagemaker" and method != "POST":
        raise g.error("method", "SageMaker InvokeEndpoint is a POST")
    content_type = g.optional("content.type") or "text/csv"
    if content_type not in ("text/csv", "application/json"):
        raise g.error("content.type", f"must be one of text/csv | application/json, got '{content_type}'")
    if kind == "sagemaker":
        url = sagemaker_invocations_url(endpoint_name or "", region, endpoints.sagemaker_runtime)
    endpoint = EndpointConfig(
        type=cast(EndpointType, kind),
        url=url or "",
        region=region,
        method=cast(HttpMethod, method),
        query_parameter=g.optional("query.parameter") or "features",
        auth=cast(EndpointAuth, auth),
        api_key=api_key,
        endpoint_name=endpoint_name,
        target_variant=g.optional("target.variant"),
        custom_attributes=g.optional("custom.attributes"),
        variant_header=_variant_header(g, kind),
    )
    codec = CodecConfig(
        content_type=cast(ContentType, content_type),
        json_instances_key=g.optional("json.instances.key") or "instances",
        json_response_field=g.optional("json.response.field") or "predictions",
        json_score_field=g.optional("json.score.field") or "score",
    )
    return endpoint, codec


def _variant_header(g: _Group, kind: str) -> str | None:
    """SageMaker's own header; for API Gateway the one ``variant.header`` names (a proxy's choice), else none."""
    name = g.optional("variant.header")
    if name is None:
        return SAGEMAKER_VARIANT_HEADER if kind == "sagemaker" else None
    if not _HEADER_NAME.match(name):
        raise g.error("variant.header", f"'{name}' is not an HTTP header name")
    return name


def _with_shadow(
    g: _Group, inference: InferenceConfig | None, region: str, endpoints: Endpoints
) -> InferenceConfig | None:
    """``inference`` with the shadow endpoint of group ``inference.shadow``."""
    if inference is None:
        raise g.error("PropertyGroupId", "a shadow needs the inference group, with inference enabled")
    kind = g.choice("type", ("sagemaker", "apigateway"), "sagemaker")
    endpoint, codec = _endpoint_and_codec(g, kind, region, endpoints)
    if endpoint.method == "GET" and inference.batching.size != 1:
        raise g.error("method", "GET sends one instance per query: it needs batch.size 1 in group inference")
    raw_rate = g.optional("sample.rate")
    try:
        rate = 1.0 if raw_rate is None else float(raw_rate)
    except ValueError:
        rate = math.nan
    if not 0.0 <= rate <= 1.0:
        raise g.error("sample.rate", f"must be a number from 0 to 1, got '{raw_rate}'")
    timeout_ms = g.integer("timeout.ms", inference.retry.timeout_ms, 1)
    return replace(inference, shadow=ShadowConfig(endpoint, codec, rate, timeout_ms))


def sagemaker_invocations_url(endpoint_name: str, region: str, base: str | None = None) -> str:
    """The InvokeEndpoint URL of ``endpoint_name``: on the regional runtime, or on ``base`` (an override)."""
    root = (base or f"https://runtime.sagemaker.{region}.amazonaws.com").rstrip("/")
    return f"{root}/endpoints/{quote(endpoint_name, safe='')}/invocations"


def _window_output_names(records: RecordsConfig, window: WindowConfig) -> tuple[str, ...]:
    names = ["count"]
    for field in window.aggregate_fields:
        names += [f"{field}_{suffix}" for suffix in WINDOW_AGGREGATE_SUFFIXES]
    return tuple(names)


def _record_fields(records: RecordsConfig) -> tuple[str, ...] | None:
    """The fields a record-mode feature may name; None when any JSON field may."""
    return records.csv_columns if records.format == "csv" else None
