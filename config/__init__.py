"""The application's configuration layer: property groups in, one frozen typed tree out.

It imports nothing else of the project, so every other layer (the job's assembly, the record
logic on the Python workers, the connectors, the deploy tool, the tests) can depend on it.
"""

from config.app import (
    RESERVED_OUTPUT_NAMES,
    WINDOW_AGGREGATE_SUFFIXES,
    AppConfig,
    AwsCredentials,
    BatchingConfig,
    CodecConfig,
    DeadLetterConfig,
    DeliveryConfig,
    EndpointConfig,
    Endpoints,
    InferenceConfig,
    KinesisSourceConfig,
    RecordsConfig,
    RetryConfig,
    S3Location,
    S3SinkConfig,
    ShadowConfig,
    WindowConfig,
    build_config,
)
from config.errors import ConfigError
from config.properties import SERVICE_PROPERTIES_PATH, load_property_groups, write_property_groups

__all__ = [
    "RESERVED_OUTPUT_NAMES",
    "SERVICE_PROPERTIES_PATH",
    "WINDOW_AGGREGATE_SUFFIXES",
    "AppConfig",
    "AwsCredentials",
    "BatchingConfig",
    "CodecConfig",
    "ConfigError",
    "DeadLetterConfig",
    "DeliveryConfig",
    "EndpointConfig",
    "Endpoints",
    "InferenceConfig",
    "KinesisSourceConfig",
    "RecordsConfig",
    "RetryConfig",
    "S3Location",
    "S3SinkConfig",
    "ShadowConfig",
    "WindowConfig",
    "build_config",
    "load_property_groups",
    "write_property_groups",
]
