"""Reusable test pieces: a small local Flink environment and a source of timestamped strings."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pyflink.common import Configuration, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from job.runtime import CONNECTOR_JAR


class _SecondField(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):  # type: ignore[no-untyped-def]
        return value[1]


def local_environment(connector_jar: bool = False) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """A parallelism-1 local environment; with ``connector_jar``, the project's jar is loaded too."""
    config = Configuration()
    config.set_string("parallelism.default", "1")
    # A watermark after every record that advances it, so lateness is deterministic.
    config.set_string("pipeline.auto-watermark-interval", "0 ms")
    config.set_string("python.executable", sys.executable)
    config.set_string("python.client.executable", sys.executable)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(1)
    if connector_jar:
        env.add_jars(CONNECTOR_JAR.resolve().as_uri())
    return env, StreamTableEnvironment.create(env)


def timestamped_strings(env: StreamExecutionEnvironment, items: Sequence[tuple[str, int]]) -> DataStream:
    """A bounded stream of payload strings whose record timestamps are the given epoch ms."""
    pairs = env.from_collection(list(items), Types.TUPLE([Types.STRING(), Types.LONG()]))
    stamped = pairs.assign_timestamps_and_watermarks(
        WatermarkStrategy.no_watermarks().with_timestamp_assigner(_SecondField())
    )
    return stamped.map(lambda pair: pair[0], output_type=Types.STRING())


def collect_strings(stream: DataStream) -> list[str]:
    """Run the job and return every string of ``stream`` (Java strings, no Python on the path)."""
    with stream.execute_and_collect() as results:
        return [str(item) for item in results]
