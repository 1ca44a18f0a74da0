"""Property groups shared by the integration tests: JSON records keyed by ``k`` with event
time ``t`` (epoch ms) from a fresh stream read from its start."""

from __future__ import annotations

from pathlib import Path

from config import AppConfig, build_config, write_property_groups
from deploy.local.stack import LOCAL_ACCOUNT, LocalAws, create_resources

Groups = dict[str, dict[str, str]]


def json_record_groups(name: str, window_s: int, aggregate_fields: str) -> Groups:
    return {
        "kinesis.source": {
            "stream.arn": f"arn:aws:kinesis:us-east-1:{LOCAL_ACCOUNT}:stream/{name}-in",
            "init.position": "TRIM_HORIZON",
        },
        "records": {
            "format": "json",
            "key.fields": "k",
            "event.time.field": "t",
            "event.time.format": "epoch_ms",
            "watermark.out.of.orderness.ms": "0",
        },
        "window": {"size.seconds": str(window_s), "aggregate.fields": aggregate_fields},
        "sink.s3": {"path": f"s3://{name}/windows"},
        "sink.dlq": {"path": f"s3://{name}/dead-letters"},
    }


def prepare(aws: LocalAws, groups: Groups, path: Path, environ: dict[str, str] | None = None) -> AppConfig:
    """Write the properties file, build the config the job will build, create its resources."""
    write_property_groups(path, groups)
    config = build_config(groups, {**aws.endpoint_environment(), **(environ or {})})
    create_resources(aws, config)
    return config
