"""``deploy validate``: the built zip passes; a zip the service would refuse fails, naming the problem.

The variants are the real zip rewritten: the jar removed, a run option pointing nowhere, a
Python 3.11 build in python-libs/. Only the real zip builds the job plan (in the service-like
Python); a zip with a layout problem stops before it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy.cli import main
from deploy.package import JAR_NAME, build
from deploy.validate import elf_problem, tag_problem

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROPERTIES = PROJECT_ROOT / "deploy" / "local" / "demo.properties.json"
JAR = f"lib/{JAR_NAME}"
CP312_SO = "python-libs/frozenlist/_frozenlist.cpython-312-x86_64-linux-gnu.so"


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(PROJECT_ROOT / "build" / "lib" / JAR_NAME, tmp_path_factory.mktemp("dist"))


def rewritten(source: Path, target: Path, change: Callable[[zipfile.ZipFile, zipfile.ZipFile], None]) -> Path:
    """A copy of ``source`` with every entry but those ``change`` writes itself, then ``change``'s."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        change(old, new)
    return target


def copy_except(*skipped: str) -> Callable[[zipfile.ZipFile, zipfile.ZipFile], None]:
    def change(old: zipfile.ZipFile, new: zipfile.ZipFile) -> None:
        for item in old.infolist():
            if item.filename not in skipped:
                new.writestr(item, old.read(item))

    return change


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--region", "us-east-1", "validate", *argv], clients=lambda service: None)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_built_zip_passes_with_its_job_plan(built_zip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(built_zip), "--properties", str(PROPERTIES))

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[-1] == f"{built_zip}: ready for Managed Flink"
    (plan,) = [line for line in lines if line.startswith("note: job plan built: ")]
    assert int(plan.split(": ")[2].split()[0]) > 10


def test_a_property_set_in_code_that_the_service_refuses(
    built_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The job's service environment, changed in the zip to set one property the service's list lacks.
    tuned = (
        "\n_service_environment = service_environment\n\n\n"
        "def service_environment(provided=None):\n"
        "    env, t_env = _service_environment(provided)\n"
        "    t_env.get_config().set('python.fn-execution.bundle.size', '100')\n"
        "    return env, t_env\n"
    )

    def with_tuning(old: zipfile.ZipFile, new: zipfile.ZipFile) -> None:
        copy_except("job/runtime.py")(old, new)
        new.writestr("job/runtime.py", old.read("job/runtime.py").decode() + tuned)

    archive = rewritten(built_zip, tmp_path / "tuned.zip", with_tuning)

    code, _, err = run(capsys, str(archive), "--properties", str(PROPERTIES))

    assert code == 1
    assert err.splitlines() == [
        "problem: the job sets python.fn-execution.bundle.size = 100 in code, not on the service's allowlist "
        "(Not allowed configuration change)",
        f"error: {archive} would not start on Managed Flink: 1 problem",
    ]


def test_a_zip_without_the_jar(built_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = rewritten(built_zip, tmp_path / "no-jar.zip", copy_except(JAR))

    code, out, err = run(capsys, str(archive), "--properties", str(PROPERTIES))

    assert code == 1
    assert err.splitlines() == [
        f"problem: run option jarfile = {JAR}: {JAR} is not in the zip",
        "problem: the zip holds no jar (the connectors jar belongs in lib/)",
        f"error: {archive} would not start on Managed Flink: 2 problems",
    ]
    assert "note: job plan not built: fix the problems above first" in out.splitlines()


def test_a_second_jar(built_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def add_jar(old: zipfile.ZipFile, new: zipfile.ZipFile) -> None:
        copy_except()(old, new)
        new.writestr("python-libs/extra.jar", b"PK\x05\x06" + bytes(18))

    archive = rewritten(built_zip, tmp_path / "two-jars.zip", add_jar)

    code, _, err = run(capsys, str(archive))

    assert code == 1
    assert err.splitlines()[0] == (
        f"problem: the zip holds 2 jars, the service takes exactly one: {JAR}, python-libs/extra.jar"
    )


def test_a_run_option_pointing_nowhere(built_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    groups: list[dict[str, Any]] = json.loads(PROPERTIES.read_text())
    groups.append(
        {
            "PropertyGroupId": "kinesis.analytics.flink.run.options",
            "PropertyMap": {"python": "job/start.py", "jarfile": JAR, "pyFiles": "python-libs/,extras/"},
        }
    )
    properties = tmp_path / "application_properties.json"
    properties.write_text(json.dumps(groups))

    code, _, err = run(capsys, str(built_zip), "--properties", str(properties))

    assert code == 1
    assert err.splitlines() == [
        "problem: run option python = job/start.py: job/start.py is not in the zip",
        "problem: run option pyFiles = python-libs/,extras/: extras/ is not in the zip",
        f"error: {built_zip} would not start on Managed Flink: 2 problems",
    ]


def test_a_python_311_build_in_python_libs(built_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cp311_so = CP312_SO.replace("cpython-312", "cpython-311")
    wheel = "python-libs/frozenlist-1.8.0.dist-info/WHEEL"

    def python_311(old: zipfile.ZipFile, new: zipfile.ZipFile) -> None:
        copy_except(CP312_SO, wheel)(old, new)
        new.writestr(cp311_so, old.read(CP312_SO))
        new.writestr(wheel, "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_17_x86_64\n")

    archive = rewritten(built_zip, tmp_path / "cp311.zip", python_311)

    code, _, err = run(capsys, str(archive))

    assert code == 1
    assert err.splitlines() == [
        f"problem: {cp311_so}: built for cpython-311-x86_64-linux-gnu, the service runs cpython-312-x86_64-linux-gnu",
        "problem: python-libs/frozenlist-1.8.0.dist-info: wheel tag cp311-cp311-manylinux_2_17_x86_64 is for "
        "cp311/cp311, the service runs CPython 3.12 (cp312)",
        f"error: {archive} would not start on Managed Flink: 2 problems",
    ]


def test_bad_properties_are_one_line(built_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    groups: list[dict[str, Any]] = json.loads(PROPERTIES.read_text())
    for group in groups:
        if group["PropertyGroupId"] == "window":
            group["PropertyMap"]["size.seconds"] = "0"
    properties = tmp_path / "application_properties.json"
    properties.write_text(json.dumps(groups))

    code, _, err = run(capsys, str(built_zip), "--properties", str(properties))

    assert code == 1
    assert err.splitlines()[0] == (
        "problem: configuration error in property group 'window', key 'size.seconds': must be at least 1, got 0"
    )


def test_validate_needs_no_aws_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nobody")
    archive = tmp_path / "app.zip"
    archive.write_bytes(b"not a zip")

    code = main(["validate", str(archive)])

    assert (code, capsys.readouterr().err.splitlines()[0]) == (1, f"problem: {archive} is not a zip file")


def test_not_a_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "app.zip"
    archive.write_bytes(b"not a zip")

    assert run(capsys, str(archive)) == (
        1,
        "",
        f"problem: {archive} is not a zip file\nerror: {archive} would not start on Managed Flink: 1 problem\n",
    )


@pytest.mark.parametrize(
    ("tag", "problem"),
    [
        ("py3-none-any", None),
        ("cp312-cp312-manylinux2014_x86_64", None),
        ("cp312-cp312-manylinux_2_28_x86_64", None),
        ("cp38-abi3-manylinux_2_17_x86_64", None),
        ("cp312-cp312-manylinux_2_17_aarch64", "wheel tag cp312-cp312-manylinux_2_17_aarch64 is for "
         "manylinux_2_17_aarch64, not manylinux x86_64"),
        ("cp312-cp312-macosx_11_0_arm64", "wheel tag cp312-cp312-macosx_11_0_arm64 is for macosx_11_0_arm64, "
         "not manylinux x86_64"),
        ("cp313-abi3-manylinux_2_17_x86_64", "wheel tag cp313-abi3-manylinux_2_17_x86_64: abi3 of cp313 does not "
         "load on CPython 3.12"),
    ],
)  # fmt: skip
def test_wheel_tags(tag: str, problem: str | None) -> None:
    assert tag_problem(tag) == problem


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (b"\x7fELF\x02\x01" + bytes(12) + (62).to_bytes(2, "little"), None),
        (b"\x7fELF\x02\x01" + bytes(12) + (183).to_bytes(2, "little"), "built for ELF machine 183, not x86-64 (62)"),
        (b"\x7fELF\x01\x01" + bytes(12) + (3).to_bytes(2, "little"), "not a 64-bit little-endian library"),
        (b"\xcf\xfa\xed\xfe" + bytes(16), "not a Linux (ELF) library"),
    ],
    ids=["x86-64", "aarch64", "32-bit", "mach-o"],
)
def test_elf_headers(tmp_path: Path, header: bytes, problem: str | None) -> None:
    library = tmp_path / "lib.so"
    library.write_bytes(header + bytes(64))
    assert elf_problem(library) == problem
