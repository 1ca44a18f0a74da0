"""``python -m deploy validate ZIP --properties FILE``: what the service would refuse, found offline.

The zip is unzipped into a temporary folder and checked as Managed Service for Apache Flink
starts it: the run options point at files in it, it holds exactly one jar, every native
library in ``python-libs/`` is built for CPython 3.12 on manylinux x86_64, the properties
validate, and ``job/main.py`` imports and builds its job plan (without running it) in a
Python 3.12 that has only apache-flink, with no property set in code that the service's
allowlist lacks.  Each problem is one line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config import ConfigError
from deploy.application import RUN_OPTIONS, RUN_OPTIONS_GROUP, load_properties
from job.service_config import disallowed, load_allowed_properties

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LIBS_DIR = "python-libs"
SERVICE_PYTHON = PROJECT_ROOT / "build" / "service-python"
PLAN_SCRIPT = Path(__file__).with_name("job_plan.py")
PLAN_TIMEOUT_S = 300

# The service's Python for Flink 2.2, and the one platform it runs on.
PYTHON_TAG = "cp312"
ABI3_OLDEST, ABI3_NEWEST = 2, 12
ELF_MAGIC = b"\x7fELF"
ELF_64_BIT, ELF_LITTLE_ENDIAN, ELF_X86_64 = 2, 1, 62
_CPYTHON_SUFFIX = re.compile(r"\.cpython-(?P<version>\d+)[a-z]*-(?P<platform>[\w-]+)\.so$")
_NATIVE_NAME = re.compile(r"\.(so(\.\d+)*|pyd|dylib)$")
_MANYLINUX_X86_64 = re.compile(r"^manylinux(1|2010|2014|_\d+_\d+)_x86_64$")


@dataclass
class Report:
    """What a validation found: problems (each one line) and what it checked."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems.append(text)


def flink_pin() -> str:
    for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("apache-flink=="):
            return line.strip()
    raise ValueError("requirements.txt pins no apache-flink version")


def service_python(venv: Path = SERVICE_PYTHON) -> Path | None:
    """A Python 3.12 with only the pinned apache-flink (made once, under build/); None without a 3.12."""
    python = venv / "bin" / "python"
    pin = flink_pin()
    marker = venv / f".{pin}"
    if marker.exists():
        return python
    found = subprocess.run([str(PROJECT_ROOT / "deploy" / "find-python")], capture_output=True, text=True)
    interpreter = found.stdout.strip()
    if not interpreter:
        return None
    version = subprocess.run(
        [interpreter, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"], capture_output=True, text=True
    )
    if version.stdout.strip() != "True":
        return None
    subprocess.run([interpreter, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", pin], check=True)
    marker.touch()
    return python


# --- the zip's layout ----------------------------------------------------------------------------


def run_options(properties: list[dict[str, object]] | None) -> dict[str, str]:
    """The run options the service will use: the properties file's, else the ones ``create`` adds."""
    for group in properties or []:
        if group.get("PropertyGroupId") == RUN_OPTIONS_GROUP:
            values = group.get("PropertyMap")
            return {str(k): str(v) for k, v in values.items()} if isinstance(values, Mapping) else {}
    return dict(RUN_OPTIONS)


def check_run_options(app: Path, options: Mapping[str, str], report: Report) -> None:
    for key in ("python", "jarfile"):
        if not options.get(key):
            report.problem(f"run option {key} is not set in {RUN_OPTIONS_GROUP}")
    for key, value in options.items():
        if key not in ("python", "jarfile", "pyFiles") or not value:
            continue
        for entry in value.split(",") if key == "pyFiles" else [value]:
            target = app / entry.strip()
            if not target.exists():
                report.problem(f"run option {key} = {value}: {entry.strip()} is not in the zip")
            elif key != "pyFiles" and not target.is_file():
                report.problem(f"run option {key} = {value}: {entry.strip()} is a folder, not a file")
    jarfile = options.get("jarfile", "")
    if jarfile and not jarfile.endswith(".jar"):
        report.problem(f"run option jarfile = {jarfile}: not a .jar file")


def check_single_jar(app: Path, report: Report) -> None:
    jars = sorted(p.relative_to(app).as_posix() for p in app.rglob("*.jar"))
    if not jars:
        report.problem("the zip holds no jar (the connectors jar belongs in lib/)")
    elif len(jars) > 1:
        report.problem(f"the zip holds {len(jars)} jars, the service takes exactly one: {', '.join(jars)}")


def native_files(libs: Path) -> Iterator[Path]:
    for path in sorted(libs.rglob("*")):
        if path.is_file() and _NATIVE_NAME.search(path.name):
            yield path


def elf_problem(path: Path) -> str | None:
    """Why ``path`` is not a 64-bit little-endian x86-64 ELF file, or None."""
    with path.open("rb") as file:
        header = file.read(20)
    if len(header) < 20 or header[:4] != ELF_MAGIC:
        return "not a Linux (ELF) library"
    if header[4] != ELF_64_BIT or header[5] != ELF_LITTLE_ENDIAN:
        return "not a 64-bit little-endian library"
    machine = int.from_bytes(header[18:20], "little")
    if machine != ELF_X86_64:
        return f"built for ELF machine {machine}, not x86-64 ({ELF_X86_64})"
    return None


def check_native_files(app: Path, report: Report) -> None:
    libs = app / LIBS_DIR
    if not libs.is_dir():
        return
    for path in native_files(libs):
        name = path.relative_to(app).as_posix()
        if not path.name.endswith(".so") and ".so." not in path.name:
            report.problem(f"{name}: not a Linux library (the service runs Linux x86_64)")
            continue
        suffix = _CPYTHON_SUFFIX.search(path.name)
        if suffix and (suffix["version"] != "312" or suffix["platform"] != "x86_64-linux-gnu"):
            report.problem(
                f"{name}: built for cpython-{suffix['version']}-{suffix['platform']}, "
                "the service runs cpython-312-x86_64-linux-gnu"
            )
            continue
        reason = elf_problem(path)
        if reason:
            report.problem(f"{name}: {reason}")


def tag_problem(tag: str) -> str | None:
    """Why a wheel tag (``py-abi-platform``) does not run on the service's Python, or None."""
    parts = tag.split("-")
    if len(parts) != 3:
        return f"unreadable wheel tag {tag}"
    python, abi, platform = parts
    if platform == "any":
        return None
    if not _MANYLINUX_X86_64.match(platform):
        return f"wheel tag {tag} is for {platform}, not manylinux x86_64"
    if abi == "abi3":
        version = re.fullmatch(r"cp3(\d+)", python)
        if version and ABI3_OLDEST <= int(version[1]) <= ABI3_NEWEST:
            return None
        return f"wheel tag {tag}: abi3 of {python} does not load on CPython 3.12"
    if python != PYTHON_TAG or abi != PYTHON_TAG:
        return f"wheel tag {tag} is for {python}/{abi}, the service runs CPython 3.12 ({PYTHON_TAG})"
    return None


def check_wheel_tags(app: Path, report: Report) -> None:
    libs = app / LIBS_DIR
    if not libs.is_dir():
        return
    for wheel in sorted(libs.glob("*.dist-info/WHEEL")):
        tags = [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines() if line.startswith("Tag:")]
        reasons = [tag_problem(tag) for tag in tags]
        if tags and all(reasons):
            report.problem(f"{wheel.parent.relative_to(app).as_posix()}: {reasons[0]}")


# --- the properties and the job plan -------------------------------------------------------------


def check_properties(properties: Path | None, report: Report) -> list[dict[str, object]] | None:
    if properties is None:
        report.notes.append("no --properties: run options as 'create' sets them; job plan not built")
        return None
    try:
        return load_properties(properties)
    except ConfigError as error:
        report.problem(str(error))
        return None


def build_job_plan(app: Path, properties: Path, python: Path, jar: Path) -> dict[str, object]:
    """Run :mod:`deploy.job_plan` in ``python`` on the unzipped application; its result.

    The result's ``set_in_code`` maps every Flink property the job's code set; the caller holds
    it to the service's list (``deploy/managed-flink-allowed-properties.txt``).
    """
    with tempfile.TemporaryDirectory(prefix="job-plan-") as scratch:
        output = Path(scratch) / "plan.json"
        env = {
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": os.environ.get("HOME", scratch),
            # The service puts the jar of the run options on the classpath; PyFlink's launcher
            # adds HADOOP_CLASSPATH to the classpath of the JVM it starts.
            "HADOOP_CLASSPATH": str(jar),
            "JAVA_HOME": os.environ.get("JAVA_HOME", ""),
        }
        completed = subprocess.run(
            [str(python), str(PLAN_SCRIPT), str(app), str(properties.resolve()), str(output)],
            cwd=app,
            env={k: v for k, v in env.items() if v},
            capture_output=True,
            text=True,
            timeout=PLAN_TIMEOUT_S,
        )
        if not output.is_file():
            last = (completed.stderr.strip().splitlines() or [f"exit code {completed.returncode}"])[-1]
            return {"error": f"the plan build did not finish: {last}"}
        result: dict[str, object] = json.loads(output.read_text(encoding="utf-8"))
        return result


def check_job_plan(app: Path, properties: Path, options: Mapping[str, str], report: Report) -> None:
    python = service_python()
    if python is None:
        report.problem("no Python 3.12 on this machine to build the job plan as the service does")
        return
    result = build_job_plan(app, properties, python, app / options["jarfile"])
    if result.get("error"):
        report.problem(f"job/main.py does not build its job plan: {result['error']}")
        return
    report.notes.append(f"job plan built: {result['operators']} operators")
    set_in_code = result.get("set_in_code") or {}
    assert isinstance(set_in_code, dict)
    if not result.get("checked"):
        report.notes.append("the zip has no job/service_config.py: properties compared with a fresh environment")
    for key in disallowed(set_in_code, load_allowed_properties()):
        report.problem(
            f"the job sets {key} = {set_in_code[key]} in code, not on the service's allowlist"
            " (Not allowed configuration change)"
        )


def validate(archive: Path, properties: Path | None) -> Report:
    report = Report()
    if not zipfile.is_zipfile(archive):
        report.problem(f"{archive} is not a zip file")
        return report
    groups = check_properties(properties, report)
    with tempfile.TemporaryDirectory(prefix="validate-") as scratch:
        app = Path(scratch)
        zipfile.ZipFile(archive).extractall(app)
        options = run_options(groups)
        check_run_options(app, options, report)
        check_single_jar(app, report)
        check_native_files(app, report)
        check_wheel_tags(app, report)
        if report.problems:
            report.notes.append("job plan not built: fix the problems above first")
        elif properties is not None:
            check_job_plan(app, properties, options, report)
    return report
