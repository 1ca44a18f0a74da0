"""Reusable test pieces: a small local Flink environment and a bounded source of payload rows."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pyflink.common import Configuration, Row, Types
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from config import RecordsConfig, WindowConfig
from connectors.kinesis import event_time_watermarks
from job.runtime import CONNECTOR_JAR


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


def payload_rows(
    env: StreamExecutionEnvironment, items: Sequence[tuple[str, int]], records: RecordsConfig, window: WindowConfig
) -> DataStream:
    """A bounded stream of the source's payload rows (payload, arrival epoch ms), with the job's event time and
    watermarks, emitted after every record that advances them so lateness is deterministic."""
    rows = [Row(payload, arrival_ms, None) for payload, arrival_ms in items]
    names = ["payload", "arrival_ms", "source_error"]
    stream = env.from_collection(rows, Types.ROW_NAMED(names, [Types.STRING(), Types.LONG(), Types.STRING()]))
    return stream.assign_timestamps_and_watermarks(event_time_watermarks(records, window, per_record=True))


def collect_strings(stream: DataStream) -> list[str]:
    """Run the job and return every string of ``stream`` (Java strings, no Python on the path)."""
    with stream.execute_and_collect() as results:
        return [str(item) for item in results]
