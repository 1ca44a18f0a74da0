"""Print the reliability summary line from the last run's figures; exit 1 on loss or failure.

``python -m tests.reliability.summary [PYTEST_EXIT_STATUS]``
"""

from __future__ import annotations

import json
import sys

from tests.reliability.conftest import FIGURES_PATH


def summary_line(totals: dict[str, int]) -> str:
    return (
        f"reliability: cases={totals['cases']} faults_injected={totals['faults_injected']} "
        f"records_in={totals['records_in']} lost={totals['lost']} duplicated_s3={totals['duplicated_s3']}"
    )


def main(argv: list[str]) -> int:
    pytest_status = int(argv[0]) if argv else 0
    if not FIGURES_PATH.is_file():
        print("reliability: cases=0 faults_injected=0 records_in=0 lost=0 duplicated_s3=0")
        return 1
    totals = json.loads(FIGURES_PATH.read_text(encoding="utf-8"))["totals"]
    print(summary_line(totals))
    failed = pytest_status != 0 or totals["failed"] > 0 or totals["lost"] > 0 or totals["duplicated_s3"] > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
