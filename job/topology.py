"""The job's topology, source to sinks."""

from __future__ import annotations

from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors import Sink
from pyflink.table import StreamTableEnvironment

from config import AppConfig
from connectors.generator import TripGenerator, trip_generator_source
from connectors.kinesis import delivery_sink, event_time_watermarks, kinesis_source
from connectors.metrics import WINDOWS_EMITTED, count_dead_letters, count_records
from connectors.s3 import json_lines_file_sink, window_file_sink
from udfs.dead_letters import Stage
from udfs.output import window_columns
from udfs.relational import parse_records, scored_record_window_lines, scored_window_lines, window_lines

JOB_NAME = "stream-scoring"


def build_topology(
    env: StreamExecutionEnvironment,
    t_env: StreamTableEnvironment,
    config: AppConfig,
    generator: TripGenerator | None = None,
) -> None:
    """Kinesis -> parse and validate (SQL) -> windows (SQL) and inference (async) -> S3 and delivery.

    Inference scores either each window (input=window) or each record before the windows
    (input=record). Records that cannot be used go to the dead-letter path with stage and reason.
    A ``generator`` (local runs only) replaces Kinesis with trips generated inside the job.
    """
    watermarks = event_time_watermarks(config.records, config.window)
    if generator is None:
        source = kinesis_source(config.source, config.endpoints)
        payloads = env.from_source(source, watermarks, "Kinesis source").uid("kinesis-source")
    else:
        payloads = env.from_source(trip_generator_source(generator), watermarks, "Trip generator").uid("trip-generator")
    parsed = parse_records(t_env, payloads, config.records, config.window, config.inference)

    inference = config.inference
    if inference is None:
        windows = window_lines(t_env, parsed.valid, config.records, config.window)
    elif inference.input == "window":
        windows = scored_window_lines(t_env, parsed.valid, config.records, config.window, inference)
    else:
        windows = scored_record_window_lines(t_env, parsed.valid, config.records, config.window, inference)
    dead_letters = parsed.dead_letters
    if windows.dead_letters is not None:
        dead_letters = dead_letters.union(windows.dead_letters)
    dead_letters = count_dead_letters(dead_letters, [str(stage) for stage in Stage])
    lines = count_records(windows.lines, WINDOWS_EMITTED, "Count windows", "count-windows")

    s3_windows = window_file_sink(config.sink_s3, window_columns(config))
    _sink(lines, s3_windows, "S3 windows", "s3-windows")
    if config.delivery is not None:
        sink = delivery_sink(config.delivery, config.source.region, config.endpoints, config.records.key_fields)
        _sink(lines, sink, f"Delivery {config.delivery.type}", "delivery")
    _sink(dead_letters, json_lines_file_sink(config.dead_letter.location, "dead-letters"), "S3 dead letters", "s3-dlq")


def _sink(stream: DataStream, sink: Sink, name: str, uid: str) -> None:
    stream.sink_to(sink).name(name).uid(uid)
