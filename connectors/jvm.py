"""The one place that reaches past PyFlink's public API into the JVM.

PyFlink's public API wraps most of Flink, but not all that the job needs; each function below
says which private attribute it relies on and why there is no public way.  A PyFlink upgrade
that renames one of them breaks ``tests/connectors/test_jvm.py`` rather than the job.
The project's own Java classes (the connector jar) are reached here too, by one function.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyflink.common import Configuration
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.java_gateway import get_gateway
from pyflink.table import DataTypes, StreamTableEnvironment, Table
from pyflink.table.types import _to_java_data_type
from pyflink.util.java_utils import get_j_env_configuration

__all__ = [
    "PROJECT_JAVA_PACKAGE",
    "LoopbackWorkerServers",
    "PlannerOperator",
    "environment_configuration",
    "initialize_filesystems",
    "java_configuration",
    "java_ints",
    "java_map",
    "java_properties",
    "java_stream",
    "java_strings",
    "jvm",
    "planner_operators",
    "project_class",
    "set_log_level",
    "string_stream",
    "table_configuration",
]

# The Java package of the project's connector jar.
PROJECT_JAVA_PACKAGE = "dev.streamscoring.connectors"


def jvm() -> Any:
    """The JVM view of PyFlink's gateway (starts the JVM on first use)."""
    return get_gateway().jvm


def project_class(name: str) -> Any:
    """A class of the connector jar by its name below the project package, e.g. ``kinesis.KinesisStreamSource``."""
    target = jvm()
    for part in f"{PROJECT_JAVA_PACKAGE}.{name}".split("."):
        target = getattr(target, part)
    return target


def java_properties(values: Mapping[str, str]) -> Any:
    """A ``java.util.Properties`` holding ``values``."""
    properties = jvm().java.util.Properties()
    for key, value in values.items():
        properties.setProperty(key, value)
    return properties


def java_strings(values: Sequence[str]) -> Any:
    """A Java ``String[]`` (what a varargs ``String...`` parameter takes through py4j)."""
    array = get_gateway().new_array(jvm().java.lang.String, len(values))
    for index, value in enumerate(values):
        array[index] = value
    return array


def java_ints(values: Iterable[int]) -> Any:
    """A Java ``int[]``."""
    items = list(values)
    array = get_gateway().new_array(jvm().int, len(items))
    for index, value in enumerate(items):
        array[index] = value
    return array


def java_configuration(values: Mapping[str, str]) -> Any:
    """A Java ``org.apache.flink.configuration.Configuration`` holding ``values``."""
    configuration = jvm().org.apache.flink.configuration.Configuration()
    for key, value in values.items():
        configuration.setString(key, value)
    return configuration


def string_stream(t_env: StreamTableEnvironment, table: Table) -> DataStream:
    """A single STRING column table as a DataStream of Java strings, with no Python on the path.

    Private: ``_j_tenv``, ``_j_table`` and ``_to_java_data_type``.  PyFlink's public
    ``to_data_stream`` yields Rows that a Python sink would unpack in a Python worker; the Java
    ``toDataStream(table, DataTypes.STRING())`` hands the sinks plain Java strings.
    """
    j_stream = t_env._j_tenv.toDataStream(table._j_table, _to_java_data_type(DataTypes.STRING()))
    return DataStream(j_stream)


def java_stream(stream: DataStream, build: Callable[[Any], Any]) -> DataStream:
    """``build(java_stream)``: a Java DataStream made from ``stream``'s by the project's Java code.

    Private: ``_j_data_stream``.  PyFlink has no public way to hand a DataStream to Java code.
    """
    return DataStream(build(stream._j_data_stream))


def environment_configuration(env: StreamExecutionEnvironment) -> dict[str, str]:
    """Every entry of the execution environment's configuration, as the job would submit it.

    Private: ``_j_stream_execution_environment`` and ``pyflink.util.java_utils``.  PyFlink has
    no public reader of the environment's configuration; what the job's code (and PyFlink on
    its behalf, e.g. ``add_python_file``) set there is what Managed Flink checks at start.
    """
    configuration = get_j_env_configuration(env._j_stream_execution_environment)
    return {str(key): str(value) for key, value in configuration.toMap().items()}


def table_configuration(t_env: StreamTableEnvironment) -> dict[str, str]:
    """The table environment's own settings (``TableConfig.set``), without the environment's."""
    return {str(key): str(value) for key, value in t_env.get_config().get_configuration().to_dict().items()}


def java_map(stream: DataStream, function: Any) -> DataStream:
    """``stream`` through a Java ``MapFunction`` of the project's jar that keeps the record type.

    Private: ``_j_data_stream``.  PyFlink's ``map`` takes Python functions only.
    """
    j_stream = stream._j_data_stream
    return DataStream(j_stream.map(function, j_stream.getType()))


# How Flink's planner names the operators it makes: "Calc[4]", "LocalWindowAggregate[9]", and
# "*anonymous_datastream_source$1*[1]" for a table read from a DataStream (kind "Scan" here).
_PLANNER_NAME = re.compile(r"^(?:(?P<scan>\*anonymous_datastream_source\$\d+\*)|(?P<kind>[A-Za-z]+))\[\d+\]$")


@dataclass(frozen=True)
class PlannerOperator:
    """An operator Flink's planner made from the job's SQL, still under the planner's name."""

    kind: str
    transformation: Any

    def rename(self, name: str) -> None:
        self.transformation.setName(name)


def planner_operators(stream: DataStream) -> list[PlannerOperator]:
    """The operators upstream of ``stream`` that still carry the planner's names, oldest first.

    Private: ``_j_data_stream``.  The dashboard names a task after its operators, and the planner
    names them after plan nodes (``Calc[4]``); Flink's public ``Transformation.setName`` renames
    them, which PyFlink offers only for the DataStream operators it made itself.
    """
    found: dict[int, PlannerOperator] = {}
    seen: set[int] = set()
    pending = [stream._j_data_stream.getTransformation()]
    while pending:
        transformation = pending.pop()
        if transformation.getId() in seen:
            continue
        seen.add(transformation.getId())
        match = _PLANNER_NAME.match(transformation.getName())
        if match:
            kind = "Scan" if match["scan"] else match["kind"]
            found[transformation.getId()] = PlannerOperator(kind, transformation)
        pending.extend(transformation.getInputs())
    return [found[key] for key in sorted(found)]


def initialize_filesystems(configuration: Configuration) -> None:
    """Hand ``configuration`` to Flink's filesystems (the S3 endpoint of a local run).

    Private: ``_j_configuration``.  A mini cluster does not pass its configuration to the
    filesystems, and PyFlink has no call that does.
    """
    jvm().org.apache.flink.core.fs.FileSystem.initialize(configuration._j_configuration, None)


def set_log_level(logger: str, level: str) -> None:
    """Set a log4j logger's level in this JVM (the mini cluster's task managers log through it)."""
    log4j = jvm().org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel(logger, getattr(log4j.Level, level))


class LoopbackWorkerServers:
    """Stops, on request, the gRPC servers PyFlink starts for in-process Python workers.

    Private: the module ``pyflink.fn_execution.beam.beam_worker_pool_service``.  In a local run
    every ``execute`` with Python functions starts a new loopback worker server and registers
    its stop with ``atexit``; at interpreter exit, gRPC cannot start the thread that stop needs
    and prints "can't create new thread at interpreter shutdown" per server.  :meth:`install`
    takes those stops over so that :meth:`stop_all` runs them while threads can still start.
    """

    def __init__(self) -> None:
        self._stops: list[Any] = []

    def install(self) -> None:
        from pyflink.fn_execution.beam import beam_worker_pool_service as pool

        owner = self

        class _Atexit:
            @staticmethod
            def register(function: Any, *args: Any, **kwargs: Any) -> Any:
                owner._stops.append(functools.partial(function, *args, **kwargs))
                return function

        pool.atexit = _Atexit

    def stop_all(self) -> None:
        stops, self._stops = self._stops, []
        for stop in stops:
            stop().wait(5)
