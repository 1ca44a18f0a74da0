"""Entry point: ``python job/main.py`` on Managed Service for Apache Flink, or locally with
``python job/main.py --properties application_properties.json``."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import NoReturn

if __package__ in (None, ""):
    # Run as a script (the service runs "python job/main.py"): make the project and, in the
    # application zip, its vendored dependencies importable.
    _root = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(_root), *([str(_root / "python-libs")] if (_root / "python-libs").is_dir() else [])]

# How a failed start reads in the application's log: one ERROR line with the reason (what
# ``python -m deploy logs --errors`` picks out), the Python traceback, if any, under it.
START_FAILURE = "ERROR stream-scoring could not start: "


def stop_at_start(reason: str, error: BaseException | None = None) -> NoReturn:
    """Report why the job cannot start and exit 1: on the service, PyFlink's own report is only
    "Run python process failed", with this process's output the one trace of the cause."""
    # A Java exception's text carries its stack trace: the first line is the reason.
    print(START_FAILURE + reason.strip().partition("\n")[0], file=sys.stderr, flush=True)
    if error is not None:
        traceback.print_exception(error, file=sys.stderr)
        sys.stderr.flush()
    raise SystemExit(1)


try:
    from config import SERVICE_PROPERTIES_PATH, ConfigError, build_config, load_property_groups
    from connectors.generator import ENDLESS, TripGenerator
    from job.runtime import LocalOptions, local_environment, service_environment
    from job.topology import JOB_NAME, build_topology
except ImportError as import_error:
    stop_at_start(f"cannot import the job's code: {type(import_error).__name__}: {import_error}", import_error)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Score a Kinesis stream in tumbling windows.")
    parser.add_argument(
        "--properties",
        type=Path,
        help="run locally on a mini cluster with the runtime properties of this JSON file",
    )
    parser.add_argument("--rest-port", type=int, default=8081, help="local Flink dashboard port")
    parser.add_argument("--checkpoint-interval-ms", type=int, default=5000, help="local checkpoint interval")
    parser.add_argument("--parallelism", type=int, default=1, help="local parallelism")
    parser.add_argument("--checkpoint-dir", type=Path, help="local checkpoint directory")
    parser.add_argument(
        "--from-savepoint", help="resume a local run from this savepoint: a path or a URI such as file:/..."
    )
    parser.add_argument(
        "--generator-rate",
        type=float,
        help="read generated taxi trips instead of Kinesis, at this many records/s (0: as fast as possible)",
    )
    parser.add_argument("--generator-records", type=int, default=ENDLESS, help="how many generated records")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        groups = load_property_groups(args.properties or SERVICE_PROPERTIES_PATH)
        config = build_config(groups, os.environ)
    except ConfigError as error:
        stop_at_start(str(error))

    generator = None
    if args.generator_rate is not None:
        if args.properties is None:
            raise SystemExit("--generator-rate is for local runs (with --properties)")
        generator = TripGenerator(args.generator_rate, args.generator_records)

    try:
        if args.properties is not None:
            options = LocalOptions(
                rest_port=args.rest_port,
                checkpoint_interval_ms=args.checkpoint_interval_ms,
                parallelism=args.parallelism,
                checkpoint_dir=args.checkpoint_dir,
                restore_from=args.from_savepoint,
            )
            env, t_env = local_environment(config, options)
        else:
            env, t_env = service_environment()
        build_topology(env, t_env, config, generator)
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 - any failure to build the plan stops the start
        # A jar missing from the run options, a class it lacks, SQL the planner refuses.
        stop_at_start(f"cannot build the job: {type(error).__name__}: {error}", error)
    env.execute(JOB_NAME)


if __name__ == "__main__":
    main()
