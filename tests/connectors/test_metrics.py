"""The names of the job's own metrics, and the SQL counting function registered once per table
environment (the values are checked through the REST API in ``tests/integration``)."""

from __future__ import annotations

from connectors.metrics import counted, dead_letters_metric, register_counting_function
from tests.flink_local import local_environment
from udfs.dead_letters import Stage


def test_dead_letter_counters_are_named_by_stage() -> None:
    assert [dead_letters_metric(str(stage)) for stage in Stage] == [
        "deadLettersParse",
        "deadLettersValidate",
        "deadLettersWindow",
        "deadLettersInference",
    ]


def test_the_counting_function_keeps_the_condition_and_registers_once() -> None:
    _, t_env = local_environment(connector_jar=True)
    register_counting_function(t_env)
    register_counting_function(t_env)
    table = t_env.from_elements([("a",), ("bb",), ("ccc",)], ["s"])
    query = t_env.sql_query(f"SELECT s FROM {table} WHERE {counted('CHAR_LENGTH(s) > 1', 'longOnes')}")
    with query.execute().collect() as rows:
        assert sorted(row[0] for row in rows) == ["bb", "ccc"]
