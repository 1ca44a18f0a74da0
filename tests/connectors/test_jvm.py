"""What ``connectors.jvm`` relies on in PyFlink's private API is still there and still works."""

from __future__ import annotations

import re

import pytest
from pyflink.common import Configuration
from pyflink.fn_execution.beam import beam_worker_pool_service
from pyflink.table import DataTypes
from pyflink.table.types import _to_java_data_type

from connectors.jvm import (
    PROJECT_JAVA_PACKAGE,
    java_configuration,
    java_properties,
    project_class,
    string_stream,
)
from tests.flink_local import collect_strings, local_environment


def test_private_attributes_the_bridge_uses_exist() -> None:
    _, t_env = local_environment()
    table = t_env.from_elements([("a",)], ["s"])
    assert t_env._j_tenv.getClass().getSimpleName() == "StreamTableEnvironmentImpl"
    assert table._j_table.getClass().getSimpleName() == "TableImpl"
    assert _to_java_data_type(DataTypes.STRING()).toString() == "STRING"
    assert Configuration()._j_configuration.getClass().getName() == "org.apache.flink.configuration.Configuration"
    # The loopback worker servers register their stop with this module's ``atexit``.
    assert beam_worker_pool_service.atexit.register is not None


def test_string_stream_hands_over_java_strings_of_a_one_column_table() -> None:
    _, t_env = local_environment()
    table = t_env.from_elements([("first",), ("second",)], ["line"])
    assert sorted(collect_strings(string_stream(t_env, table))) == ["first", "second"]


def test_project_classes_are_found_in_the_connector_jar() -> None:
    local_environment(connector_jar=True)
    source = project_class("kinesis.KinesisStreamSource")
    assert source.builder().getClass().getName() == f"{PROJECT_JAVA_PACKAGE}.kinesis.KinesisStreamSource$Builder"
    with pytest.raises(TypeError, match=re.escape(f"'{PROJECT_JAVA_PACKAGE}.kinesis.Nope'")):
        project_class("kinesis.Nope")()


def test_java_settings_hold_the_given_values() -> None:
    local_environment(connector_jar=True)
    configuration = java_configuration({"aws.region": "eu-west-1", "source.init.position": "LATEST"})
    assert dict(configuration.toMap()) == {"aws.region": "eu-west-1", "source.init.position": "LATEST"}
    properties = java_properties({"aws.region": "eu-west-1"})
    assert properties.getProperty("aws.region") == "eu-west-1"
