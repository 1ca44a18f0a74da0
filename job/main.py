"""Entry point: ``python job/main.py`` on Managed Service for Apache Flink, or locally with
``python job/main.py --properties application_properties.json``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (the service runs "python job/main.py"): make the project and, in the
    # application zip, its vendored dependencies importable.
    _root = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(_root), *([str(_root / "python-libs")] if (_root / "python-libs").is_dir() else [])]

from config import SERVICE_PROPERTIES_PATH, ConfigError, build_config, load_property_groups
from connectors.generator import ENDLESS, TripGenerator
from job.runtime import LocalOptions, local_environment, service_environment
from job.topology import JOB_NAME, build_topology


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
        raise SystemExit(str(error)) from None

    generator = None
    if args.generator_rate is not None:
        if args.properties is None:
            raise SystemExit("--generator-rate is for local runs (with --properties)")
        generator = TripGenerator(args.generator_rate, args.generator_records)

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
    env.execute(JOB_NAME)


if __name__ == "__main__":
    main()
