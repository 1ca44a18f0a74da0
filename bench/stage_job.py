"""The inference stage alone, as a Flink job: generated trips -> scoring -> discarded.

``python -m bench.stage_job --url URL --batch-size B --capacity C [--sync]`` runs until
stopped.  With ``--sync`` the stage is a plain map that calls the endpoint with a blocking
HTTP client, one record per request: how a job without an async operator scores.
The rate is measured outside, at the endpoint.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyflink.common import Configuration, Row, Types
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors import Sink
from pyflink.datastream.functions import MapFunction, RuntimeContext
from pyflink.table import StreamTableEnvironment

from config import InferenceConfig, build_config
from connectors.jvm import java_ints, java_stream, java_strings, jvm, project_class
from job.runtime import CONNECTOR_JAR
from udfs.inference.codecs import Codec
from udfs.inference.flink import record_output_columns, score_batches
from udfs.inference.requests import EndpointRequests, default_credentials

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FEATURES = ("trip_distance", "duration_seconds")


def inference_config(url: str, batch_size: int, capacity: int) -> InferenceConfig:
    groups = {
        "kinesis.source": {"stream.arn": "arn:aws:kinesis:us-east-1:123456789012:stream/unused"},
        "records": {"format": "json", "key.fields": "id"},
        "window": {"aggregate.fields": ",".join(FEATURES)},
        "sink.s3": {"path": "s3://unused/w"},
        "sink.dlq": {"path": "s3://unused/d"},
        "inference": {
            "input": "record",
            "type": "apigateway",
            "url": url,
            "auth": "none",
            "content.type": "application/json",
            "features": ",".join(FEATURES),
            "batch.size": str(batch_size),
            "capacity": str(capacity),
        },
    }
    inference = build_config(groups, {}).inference
    assert inference is not None
    return inference


class BlockingScoring(MapFunction):
    """One blocking request per record over a kept-alive connection."""

    def __init__(self, config: InferenceConfig) -> None:
        self._config = config
        self._connection: http.client.HTTPConnection | None = None

    def open(self, runtime_context: RuntimeContext) -> None:
        config = self._config
        self._requests = EndpointRequests(config.endpoint, config.codec.content_type, default_credentials())
        self._codec = Codec.of(config.codec)
        parts = urlsplit(config.endpoint.url)
        self._connection = http.client.HTTPConnection(parts.netloc, timeout=config.retry.timeout_ms / 1000)
        self._path = parts.path or "/"

    def map(self, value: Row) -> float:
        request = self._requests.post(self._codec.encode([[float(value[name]) for name in FEATURES]]))
        assert self._connection is not None
        self._connection.request(request.method, self._path, body=request.body, headers=request.headers)
        response = self._connection.getresponse()
        return self._codec.decode(response.read(), 1)[0]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def _batch_path(t_env: StreamTableEnvironment, config: InferenceConfig) -> DataStream:
    """The job's record-mode path: Java batches, one Python element per batch, Java unbatching."""
    trips = t_env.to_data_stream(
        t_env.sql_query(
            "SELECT CAST(id AS STRING) AS payload, '' AS arrival, CAST(id AS STRING) AS id,"
            " trip_distance, duration_seconds FROM trips"
        )
    )
    layout = project_class("inference.RecordLayout")(0, 1, java_ints([2]), java_ints([]), java_ints([3, 4]))
    body = project_class("inference.RequestBody")(config.codec.content_type, config.codec.json_instances_key)
    streams = project_class("inference.InferenceStreams")
    batching = config.batching
    batches = java_stream(trips, lambda rows: streams.batches(rows, layout, body, batching.size, batching.max_delay_ms))
    names = java_strings([name for name, _ in record_output_columns(config, ("id",), ())])
    variant, shadow = config.endpoint.variant_header is not None, config.shadow is not None
    return java_stream(
        score_batches(batches, config), lambda scored: streams.scoredRecords(scored, layout, variant, shadow, names)
    )


def _discard(stream: DataStream) -> None:
    j_sink = jvm().org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink()
    stream.sink_to(Sink(j_sink)).name("discard")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument("--sync", action="store_true")
    parser.add_argument("--rest-port", type=int, default=8081)
    parser.add_argument("--bundle-time-ms", type=int, help="python.fn-execution.bundle.time (Flink's default: 1000)")
    parser.add_argument("--bundle-size", type=int, help="python.fn-execution.bundle.size (PyFlink 2.2.1: 1000)")
    args = parser.parse_args(argv)
    config = inference_config(args.url, args.batch_size, args.capacity)

    flink = Configuration()
    flink.set_string("rest.port", str(args.rest_port))
    flink.set_string("rest.address", "localhost")
    flink.set_string("rest.bind-address", "127.0.0.1")
    flink.set_string("parallelism.default", "1")
    flink.set_string("python.executable", sys.executable)
    flink.set_string("python.client.executable", sys.executable)
    if args.bundle_time_ms is not None:
        flink.set_string("python.fn-execution.bundle.time", str(args.bundle_time_ms))
    if args.bundle_size is not None:
        flink.set_string("python.fn-execution.bundle.size", str(args.bundle_size))
    env = StreamExecutionEnvironment.get_execution_environment(flink)
    env.add_jars(CONNECTOR_JAR.resolve().as_uri())
    for package in ("job", "udfs", "bench"):
        env.add_python_file(str(PROJECT_ROOT / package))
    t_env = StreamTableEnvironment.create(env)
    t_env.execute_sql(
        "CREATE TEMPORARY TABLE trips (id BIGINT, trip_distance DOUBLE, duration_seconds DOUBLE) WITH ("
        " 'connector' = 'datagen', 'rows-per-second' = '1000000000',"
        " 'fields.trip_distance.min' = '0.3', 'fields.trip_distance.max' = '12.0',"
        " 'fields.duration_seconds.min' = '60', 'fields.duration_seconds.max' = '3600')"
    )
    if args.sync:
        trips = t_env.to_data_stream(
            t_env.sql_query("SELECT CAST(id AS STRING) AS id, trip_distance, duration_seconds FROM trips")
        )
        scored = trips.map(BlockingScoring(config), Types.DOUBLE()).name("blocking scoring")
    else:
        scored = _batch_path(t_env, config)
    _discard(scored)
    env.execute("stage-benchmark-sync" if args.sync else "stage-benchmark")


if __name__ == "__main__":
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    main()
