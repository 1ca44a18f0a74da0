"""``make package``: the zip Managed Service for Apache Flink runs as uploaded.

Layout of ``dist/stream-scoring-<version>.zip``::

    config/ job/ udfs/ connectors/   the job's Python code (no tests, no caches)
    lib/stream-scoring-connectors.jar the single shaded jar (connectors and the S3 filesystem)
    python-libs/                     the job's Python dependencies for CPython 3.12 manylinux x86_64,
                                     and the packages the Python workers import (config/, udfs/)

apache-flink itself is not included: the service provides it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON_PACKAGES = ("config", "job", "udfs", "connectors")
JAR_NAME = "stream-scoring-connectors.jar"
LIBS_DIR = "python-libs"
# The packages the Python workers import.  pyFiles puts python-libs/ itself on the workers'
# path (the service refuses a job that adds Python files in code), so they sit inside it too.
WORKER_PACKAGES = ("config", "udfs")
# The job's own dependencies, pinned in requirements.txt; apache-flink comes with the service.
VENDORED = ("aiohttp", "botocore")
RUN_OPTIONS = {"python": "job/main.py", "jarfile": f"lib/{JAR_NAME}", "pyFiles": f"{LIBS_DIR}/"}


def project_version() -> tuple[str, str]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    return str(project["name"]), str(project["version"])


def archive_path(output_dir: Path = PROJECT_ROOT / "dist") -> Path:
    """Where :func:`build` writes the zip (``make package`` validates that file)."""
    name, version = project_version()
    return output_dir / f"{name}-{version}.zip"


def pinned(names: tuple[str, ...]) -> list[str]:
    """The requirements.txt pins of ``names`` (so the zip carries exactly the tested versions)."""
    pins = {}
    for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if "==" in requirement:
            name = requirement.split("==")[0].split("[")[0].strip().lower()
            pins[name] = requirement
    missing = [name for name in names if name not in pins]
    if missing:
        raise SystemExit(f"package: requirements.txt pins no version of {', '.join(missing)}")
    return [pins[name] for name in names]


def vendor(target: Path) -> None:
    """Install the job's dependencies as wheels for the service's Python (3.12, manylinux x86_64)."""
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--target", str(target),
        "--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.12",
        "--only-binary=:all:", *pinned(VENDORED),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    for pattern in ("**/__pycache__", "bin"):
        for path in target.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)


def build(jar: Path, output_dir: Path) -> Path:
    if not jar.is_file():
        raise SystemExit(f"package: {jar} not found; build it with 'make jar'")
    staging = PROJECT_ROOT / "build" / "package"
    shutil.rmtree(staging, ignore_errors=True)
    vendor(staging / LIBS_DIR)
    output_dir.mkdir(parents=True, exist_ok=True)
    archive = archive_path(output_dir)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for package in PYTHON_PACKAGES:
            for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
                zf.write(path, path.relative_to(PROJECT_ROOT).as_posix())
                if package in WORKER_PACKAGES:
                    zf.write(path, f"{LIBS_DIR}/{path.relative_to(PROJECT_ROOT).as_posix()}")
        zf.write(jar, f"lib/{JAR_NAME}")
        for path in sorted((staging / LIBS_DIR).rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(staging).as_posix())
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jar", type=Path, default=PROJECT_ROOT / "build" / "lib" / JAR_NAME)
    parser.add_argument("--output-dir", type=Path, default=PROJECT_ROOT / "dist")
    args = parser.parse_args(argv)
    archive = build(args.jar, args.output_dir)
    size_mb = archive.stat().st_size / 1e6
    print(
        f"package: {archive.relative_to(PROJECT_ROOT) if archive.is_relative_to(PROJECT_ROOT) else archive} "
        f"({size_mb:.1f} MB)"
    )
    print("package: runtime properties group kinesis.analytics.flink.run.options:")
    for key, value in RUN_OPTIONS.items():
        print(f"  {key} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
