"""The reliability suite's ledger: every case adds its figures; the session ends with one line.

Cases marked ``full`` run only with ``--reliability-full`` (``make reliability``); the others
are quick and also run in ``make test``.  The figures of the last run are written to
``build/reliability/figures.json`` and printed as the summary line by
``python -m tests.reliability.summary``.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIGURES_PATH = PROJECT_ROOT / "build" / "reliability" / "figures.json"


@dataclass
class CaseFigures:
    """What one case injected and counted."""

    name: str
    faults_injected: int = 0
    records_in: int = 0
    lost: int = 0
    duplicated_s3: int = 0
    details: dict[str, object] = field(default_factory=dict)
    passed: bool = False


@dataclass
class Ledger:
    cases: list[CaseFigures] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {
            "cases": len(self.cases),
            "failed": sum(not case.passed for case in self.cases),
            "faults_injected": sum(case.faults_injected for case in self.cases),
            "records_in": sum(case.records_in for case in self.cases),
            "lost": sum(case.lost for case in self.cases),
            "duplicated_s3": sum(case.duplicated_s3 for case in self.cases),
        }


_LEDGER = Ledger()
_CASE_FIGURES = pytest.StashKey[CaseFigures]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reliability-full", action="store_true", help="also run the long reliability cases")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "full: a long reliability case, run by make reliability")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--reliability-full"):
        return
    skip = pytest.mark.skip(reason="long reliability case: make reliability runs it")
    for item in items:
        if "full" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def case(request: pytest.FixtureRequest) -> Iterator[CaseFigures]:
    """This case's figures; fill them in, and assert on them in the test itself."""
    figures = CaseFigures(name=request.node.nodeid.split("::", 1)[-1])
    request.node.stash[_CASE_FIGURES] = figures
    yield figures


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    figures = item.stash.get(_CASE_FIGURES, None)
    if figures is not None and report.when == "call":
        figures.passed = report.passed
        _LEDGER.cases.append(figures)
    elif figures is not None and report.when == "setup" and report.failed:
        _LEDGER.cases.append(figures)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _LEDGER.cases:
        return
    FIGURES_PATH.parent.mkdir(parents=True, exist_ok=True)
    document = {"totals": _LEDGER.totals(), "cases": [asdict(case) for case in _LEDGER.cases]}
    FIGURES_PATH.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
