"""What ``connectors.jvm`` relies on in PyFlink's private API is still there and still works."""

from __future__ import annotations

import re

import pytest
from pyflink.common import Configuration, Types
from pyflink.fn_execution.beam import beam_worker_pool_service
from pyflink.table import DataTypes
from pyflink.table.types import _to_java_data_type

from connectors.jvm import (
    PROJECT_JAVA_PACKAGE,
    environment_configuration,
    java_configuration,
    java_map,
    java_properties,
    planner_operators,
    project_class,
    string_stream,
    table_configuration,
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


def test_configurations_read_what_the_code_set() -> None:
    env, t_env = local_environment()
    env.get_config().enable_object_reuse()
    t_env.get_config().set("table.local-time-zone", "UTC")
    assert environment_configuration(env)["pipeline.object-reuse"] == "true"
    assert table_configuration(t_env)["table.local-time-zone"] == "UTC"
    assert "table.local-time-zone" not in environment_configuration(env)


def test_planner_operators_are_found_and_renamed_and_java_map_keeps_the_records() -> None:
    env, t_env = local_environment(connector_jar=True)
    table = t_env.from_data_stream(env.from_collection(["a", "b"], Types.STRING()))
    stream = string_stream(t_env, t_env.sql_query(f"SELECT UPPER(f0) FROM {table} WHERE f0 <> 'c'"))
    operators = planner_operators(stream)
    assert [operator.kind for operator in operators] == ["Scan", "Calc"]
    operators[1].rename("Upper case")
    assert [operator.kind for operator in planner_operators(stream)] == ["Scan"]
    counted = java_map(stream, project_class("metrics.CountedRecords")("upperCased"))
    assert sorted(collect_strings(counted)) == ["A", "B"]
