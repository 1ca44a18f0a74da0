"""The job's own metrics, as Managed Service for Apache Flink publishes them to CloudWatch.

The service sends an operator's custom metrics only from a group keyed ``KinesisAnalytics``,
and only counters, gauges and meters; the names here are the ones the CloudWatch dashboard and
alarms use, identical on the local Flink dashboard.  The SQL stages cannot count for themselves,
so the counting is done in Java (the project's jar), with no Python worker on the path:

- ``recordsParsed``: the ``COUNTED`` SQL function in the query that keeps the valid records;
- ``windowsEmitted``: an operator passing the window records on to the sinks;
- ``deadLetters<Stage>``: one operator on the job's single dead-letter stream, by each line's stage.

The inference stage publishes its own metrics in the same group.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyflink.datastream import DataStream
from pyflink.table import StreamTableEnvironment

from connectors.jvm import PROJECT_JAVA_PACKAGE, java_map, java_strings, project_class

__all__ = [
    "GROUP",
    "RECORDS_PARSED",
    "WINDOWS_EMITTED",
    "count_dead_letters",
    "count_records",
    "counted",
    "dead_letters_metric",
    "register_counting_function",
]

GROUP = "KinesisAnalytics"
RECORDS_PARSED = "recordsParsed"
WINDOWS_EMITTED = "windowsEmitted"

# The SQL name of the Java ``metrics.CountingCondition`` function.
COUNTING_FUNCTION = "COUNTED"


def dead_letters_metric(stage: str) -> str:
    """``deadLetters<Stage>``: the counter of one dead-letter stage, e.g. ``deadLettersParse``."""
    return "deadLetters" + stage[:1].upper() + stage[1:]


def register_counting_function(t_env: StreamTableEnvironment) -> None:
    """Make ``COUNTED(condition, 'counter')`` available to the job's SQL (see :func:`counted`); once
    per table environment, which refuses a second registration."""
    if COUNTING_FUNCTION.lower() in (name.lower() for name in t_env.list_functions()):
        return
    t_env.create_java_temporary_system_function(COUNTING_FUNCTION, f"{PROJECT_JAVA_PACKAGE}.metrics.CountingCondition")


def counted(condition: str, counter: str) -> str:
    """SQL that is ``condition`` and counts the rows for which it holds in ``counter``."""
    return f"{COUNTING_FUNCTION}({condition}, '{counter}')"


def count_records(stream: DataStream, counter: str, name: str, uid: str) -> DataStream:
    """``stream`` unchanged, each record counted in ``counter``."""
    function = project_class("metrics.CountedRecords")(counter)
    return java_map(stream, function).name(name).uid(uid)


def count_dead_letters(stream: DataStream, stages: Iterable[str]) -> DataStream:
    """The dead-letter lines unchanged, counted by stage; ``stages`` are counted from 0."""
    function = project_class("metrics.DeadLetterCounter")(java_strings(list(stages)))
    return java_map(stream, function).name("Count dead letters").uid("count-dead-letters")
