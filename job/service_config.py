"""What the job sets in Flink's configuration from its own code, checked against what Managed
Service for Apache Flink allows.

From Managed Flink 2.2 on, a job that sets a property missing from the service's list
("Programmatic Flink configuration properties", kept in ``deploy/managed-flink-allowed-properties.txt``
with its source and date) fails at start.  :func:`service_job` builds the job as the service
would start it, without running it; :func:`properties_set_in_code` reads what the code set
(the execution environment's configuration and the table environment's); :func:`disallowed`
names those the service refuses.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from config import AppConfig, ConfigError, build_config, load_property_groups
from connectors.jvm import environment_configuration, initialize_filesystems, table_configuration
from job.runtime import CONNECTOR_JAR, PROJECT_ROOT, PYTHON_LIBS, PYTHON_PACKAGES, service_environment
from job.topology import build_topology

__all__ = [
    "ALLOWED_PROPERTIES",
    "ALLOWED_PROPERTIES_FILE",
    "disallowed",
    "load_allowed_properties",
    "main",
    "properties_set_in_code",
    "service_job",
    "service_provided",
]

ALLOWED_PROPERTIES_FILE = PROJECT_ROOT / "deploy" / "managed-flink-allowed-properties.txt"

# PyFlink sets these itself when the job runs in a local mini cluster (never on the service):
# the address of the in-process Python worker server, a new port per environment.
_LOCAL_DEPLOYMENT_KEYS = frozenset({"python.loopback-server.address"})


def load_allowed_properties(path: Path = ALLOWED_PROPERTIES_FILE) -> frozenset[str]:
    """The property names of the list file: one a line, ``#`` comments and blank lines ignored."""
    names = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return frozenset(name for name in names if name)


# Empty where the list is not at hand (an unzipped application carries no deploy/):
# :func:`disallowed` then reads the file, and says it is missing.
ALLOWED_PROPERTIES = load_allowed_properties() if ALLOWED_PROPERTIES_FILE.is_file() else frozenset()


def service_provided(connector_jar: Path = CONNECTOR_JAR) -> dict[str, str]:
    """What the service passes in from the run options: the jar (``jarfile``) and the Python
    packages (``pyFiles``), as the Flink command line would set them."""
    # In the application, python-libs/ holds the workers' packages.  A source tree names its
    # packages one by one: PyFlink zips every python.files directory when it builds the plan, and
    # the tree's root would take .venv and build/ with it (gigabytes, on every plan).
    if PYTHON_LIBS.is_dir():
        py_files = str(PYTHON_LIBS)
    else:
        py_files = ",".join(str(PROJECT_ROOT / package) for package in PYTHON_PACKAGES)
    return {"pipeline.jars": connector_jar.resolve().as_uri(), "python.files": py_files}


def service_job(
    config: AppConfig, provided: Mapping[str, str] | None = None
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """The job's environments with its topology built as on the service, not executed.

    ``provided`` is what the service passes in (default :func:`service_provided`).  The plan is
    generated once (``get_execution_plan``) so that what PyFlink adds while translating the
    Python operators is in the configuration too.
    """
    configuration = Configuration()
    for key, value in (service_provided() if provided is None else provided).items():
        configuration.set_string(key, value)
    env, t_env = service_environment(configuration)
    # The sinks' S3 filesystem comes with the jar, which PyFlink has just loaded: have Flink look
    # for filesystems again, in case this process used one before (the service has its plugins).
    initialize_filesystems(configuration)
    build_topology(env, t_env, config)
    env.get_execution_plan()
    return env, t_env


def properties_set_in_code(
    env: StreamExecutionEnvironment, t_env: StreamTableEnvironment, provided: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Properties the job's code set (or changed): in the execution environment's configuration
    and in the table configuration, compared with a fresh environment given only ``provided``
    (default :func:`service_provided`)."""
    if provided is None:
        provided = service_provided()
    baseline = Configuration()
    for key, value in provided.items():
        baseline.set_string(key, value)
    fresh_env = StreamExecutionEnvironment.get_execution_environment(baseline)
    fresh_t_env = StreamTableEnvironment.create(fresh_env)
    before = {**environment_configuration(fresh_env), **table_configuration(fresh_t_env)}
    after = {**environment_configuration(env), **table_configuration(t_env)}
    return {
        key: value
        for key, value in sorted(after.items())
        if before.get(key) != value and key not in _LOCAL_DEPLOYMENT_KEYS and not _is_internal(key)
    }


def _is_internal(key: str) -> bool:
    """Flink's own bookkeeping keys, ``__name__``: the planner sets ``__table.query-start.*__``
    while it translates any Table API query, so they cannot be what the service refuses."""
    return key.startswith("__") and key.endswith("__")


def disallowed(properties: Collection[str], allowed: Collection[str] | None = None) -> list[str]:
    """The names in ``properties`` the service does not allow a job to set, sorted; ``allowed``
    defaults to :data:`ALLOWED_PROPERTIES`."""
    if allowed is None:
        allowed = ALLOWED_PROPERTIES or load_allowed_properties()
    return sorted(name for name in properties if name not in allowed)


def main(argv: list[str] | None = None) -> int:
    """``python -m job.service_config --properties FILE``: build the job as the service would
    (no run), print what its code sets as one JSON object, and one line per property the service
    refuses (exit 1).  Run it where the job's packages and their dependencies import."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--properties", type=Path, required=True, help="the application's runtime properties")
    parser.add_argument("--jar", type=Path, default=CONNECTOR_JAR, help="the connector jar (run option jarfile)")
    parser.add_argument("--allowed", type=Path, default=ALLOWED_PROPERTIES_FILE, help="the list of allowed properties")
    args = parser.parse_args(argv)
    try:
        config = build_config(load_property_groups(args.properties), os.environ)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    provided = service_provided(args.jar)
    env, t_env = service_job(config, provided)
    properties = properties_set_in_code(env, t_env, provided)
    print(json.dumps(properties, sort_keys=True))
    refused = disallowed(properties, load_allowed_properties(args.allowed))
    for name in refused:
        print(f"not allowed on Managed Service for Apache Flink 2.2: {name} = {properties[name]}", file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
