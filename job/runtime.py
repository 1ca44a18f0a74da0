"""The Flink execution environment: as Managed Service for Apache Flink provides it, or local.

On the service the cluster, checkpointing and the connector jar come from the application's
configuration.  A local run builds the same job on a mini cluster in this process, with the
Flink dashboard, checkpointing (the S3 sink commits files on checkpoint), the project's
connector jar and the S3 filesystem on the classpath, and the endpoints of a local AWS
emulator.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from config import AppConfig
from connectors.jvm import initialize_filesystems, set_log_level

PROJECT_ROOT = Path(__file__).resolve().parent.parent
JAR_NAME = "stream-scoring-connectors.jar"
# In a source tree the jar is built under build/; in the unzipped application it is in lib/.
CONNECTOR_JAR = next(
    (p for p in (PROJECT_ROOT / "build" / "lib" / JAR_NAME, PROJECT_ROOT / "lib" / JAR_NAME) if p.is_file()),
    PROJECT_ROOT / "build" / "lib" / JAR_NAME,
)
S3_FILESYSTEM_DIR = PROJECT_ROOT / "build" / "plugins" / "s3-fs-hadoop"
# The job's vendored Python dependencies, in the application zip.
PYTHON_LIBS = PROJECT_ROOT / "python-libs"
# Logs each Python worker's environment variables when it closes the worker.
WORKER_ENVIRONMENT_LOGGER = "org.apache.beam.runners.fnexecution.control.DefaultJobBundleFactory"


# A URI scheme of two letters or more (one letter would be a drive, not a scheme).
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


@dataclass(frozen=True)
class LocalOptions:
    """Settings of a local run that the service owns in production."""

    rest_port: int = 8081
    checkpoint_interval_ms: int = 5000
    parallelism: int = 1
    checkpoint_dir: Path | None = None
    # Resume from this savepoint or retained checkpoint (the service restores from a snapshot):
    # a path, or a URI as Flink's REST API reports it (``file:/...``).
    restore_from: str | None = None
    connector_jar: Path = CONNECTOR_JAR


# The packages Python workers import when they run the job's functions.
PYTHON_PACKAGES = ("config", "udfs")


def service_environment(
    provided: Configuration | None = None,
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """The environment as the service starts the job in it.

    The service's run options deliver the Python packages (``pyFiles``) and the jar
    (``jarfile``); the job must not add them itself: ``add_python_file`` sets ``python.files``,
    which the service does not allow a job to set.  ``provided`` stands for what the service
    passes in when the job is built offline (see :mod:`job.service_config`).
    """
    env = StreamExecutionEnvironment.get_execution_environment(provided)
    _tune(env)
    return env, StreamTableEnvironment.create(env)


def _tune(env: StreamExecutionEnvironment) -> None:
    """Settings the benchmark chose (BENCHMARKS.md).

    Object reuse: chained operators hand records on without a defensive copy.  The job's
    operators never keep or change a record they passed on (SQL operators are built for it;
    the sinks write what they get at once), so the copies bought nothing and cost a quarter of
    the CPU per record in the window topology.
    """
    env.get_config().enable_object_reuse()


def _ship_python_packages(env: StreamExecutionEnvironment) -> None:
    for package in PYTHON_PACKAGES:
        env.add_python_file(str(PROJECT_ROOT / package))
    if PYTHON_LIBS.is_dir():
        env.add_python_file(str(PYTHON_LIBS))


def local_environment(
    config: AppConfig, options: LocalOptions
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """A mini cluster in this process; must run before anything else starts the JVM."""
    if not options.connector_jar.is_file():
        raise SystemExit(f"connector jar not found at {options.connector_jar}: build it with 'make jar'")
    # The shaded jar carries the S3 filesystem too; the separate copy is lighter on the classpath.
    s3_jars = sorted(S3_FILESYSTEM_DIR.glob("flink-s3-fs-hadoop-*.jar")) or [options.connector_jar]

    # Flink finds filesystems on the JVM classpath at start-up, not in pipeline.jars; PyFlink
    # adds HADOOP_CLASSPATH to the classpath of the JVM it launches.
    _append_env("HADOOP_CLASSPATH", str(s3_jars[0].resolve()), os.pathsep)
    if config.endpoints.kinesis or config.endpoints.firehose:
        # Emulators speak JSON only; the AWS SDK for Java defaults to CBOR for Kinesis.
        _append_env("JVM_ARGS", "-Daws.cborEnabled=false", " ")

    flink = Configuration()
    flink.set_string("rest.port", str(options.rest_port))
    flink.set_string("rest.address", "localhost")
    flink.set_string("rest.bind-address", "127.0.0.1")
    flink.set_string("pipeline.jars", options.connector_jar.resolve().as_uri())
    flink.set_string("parallelism.default", str(options.parallelism))
    flink.set_string("execution.checkpointing.interval", f"{options.checkpoint_interval_ms} ms")
    if options.checkpoint_dir is not None:
        flink.set_string("execution.checkpointing.dir", options.checkpoint_dir.resolve().as_uri())
    if options.restore_from is not None:
        flink.set_string("execution.state-recovery.path", savepoint_uri(options.restore_from))
    flink.set_string("python.executable", sys.executable)
    flink.set_string("python.client.executable", sys.executable)
    if config.endpoints.s3:
        flink.set_string("s3.endpoint", config.endpoints.s3)
        flink.set_string("s3.path.style.access", "true")

    env = StreamExecutionEnvironment.get_execution_environment(flink)
    _tune(env)
    _ship_python_packages(env)
    # The mini cluster does not hand its configuration to the filesystems; do it here so the
    # S3 filesystem sees the endpoint.  Never on the service, whose plugins are set up already.
    initialize_filesystems(flink)
    # Beam logs a Python worker's whole environment at INFO when it closes the worker, AWS
    # credentials included; the mini cluster's task managers log through this JVM.
    set_log_level(WORKER_ENVIRONMENT_LOGGER, "WARN")
    return env, StreamTableEnvironment.create(env)


def savepoint_uri(location: str) -> str:
    """The URI Flink restores from: a URI as given (``file:/...``, ``s3://...``), a path made absolute."""
    if _URI_SCHEME.match(location):
        return location
    return Path(location).resolve().as_uri()


def _append_env(name: str, value: str, separator: str) -> None:
    current = os.environ.get(name, "")
    if value not in current.split(separator):
        os.environ[name] = f"{current}{separator}{value}" if current else value
