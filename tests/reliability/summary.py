"""Print the reliability summary line from the last run's figures; exit 1 on loss or failure.

``python -m tests.reliability.summary [PYTEST_EXIT_STATUS]`` prints the line;
``--markdown`` prints the figures of every case as a Markdown table instead, and
``--fill RELIABILITY.md`` writes that table into the file, between its figures markers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tests.reliability.conftest import FIGURES_PATH

FIGURES_BEGIN = "<!-- figures:begin -->"
FIGURES_END = "<!-- figures:end -->"

# Details a case may report, shown as columns when present.
_DETAIL_COLUMNS = (
    ("restarts", "restarts"),
    ("delivery_duplicates", "delivery duplicates"),
    ("wall_s", "wall s"),
)


def summary_line(totals: dict[str, int]) -> str:
    return (
        f"reliability: cases={totals['cases']} faults_injected={totals['faults_injected']} "
        f"records_in={totals['records_in']} lost={totals['lost']} duplicated_s3={totals['duplicated_s3']}"
    )


def markdown_table(document: dict[str, Any]) -> str:
    """One row per case and a totals row: what was put in, injected, lost and duplicated."""
    header = ["case", "result", "records in", "faults injected", "lost", "duplicated in S3"]
    header += [title for _, title in _DETAIL_COLUMNS]
    rows = [header, ["---"] * len(header)]
    for case in document["cases"]:
        details = case.get("details", {})
        row = [f"`{case['name']}`", "passed" if case["passed"] else "**failed**"]
        row += [str(case[name]) for name in ("records_in", "faults_injected", "lost", "duplicated_s3")]
        row += [str(details[name]) if name in details else "" for name, _ in _DETAIL_COLUMNS]
        rows.append(row)
    totals = document["totals"]
    passed = totals["cases"] - totals["failed"]
    row = [f"**{totals['cases']} cases**", f"{passed} passed"]
    row += [str(totals[name]) for name in ("records_in", "faults_injected", "lost", "duplicated_s3")]
    rows.append(row + [""] * len(_DETAIL_COLUMNS))
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows)


def fill(path: Path, table: str) -> None:
    """Replace what stands between the figures markers of ``path`` with ``table``."""
    text = path.read_text(encoding="utf-8")
    begin, end = text.find(FIGURES_BEGIN), text.find(FIGURES_END)
    if begin < 0 or end < begin:
        raise SystemExit(f"{path} has no {FIGURES_BEGIN} ... {FIGURES_END} block")
    path.write_text(f"{text[: begin + len(FIGURES_BEGIN)]}\n{table}\n{text[end:]}", encoding="utf-8")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pytest_status", type=int, nargs="?", default=0, help="exit status of the pytest run")
    parser.add_argument("--markdown", action="store_true", help="print the figures as a Markdown table")
    parser.add_argument("--fill", type=Path, metavar="FILE", help="write the table into FILE between its markers")
    args = parser.parse_args(argv)
    if not FIGURES_PATH.is_file():
        print("reliability: cases=0 faults_injected=0 records_in=0 lost=0 duplicated_s3=0")
        return 1
    document = json.loads(FIGURES_PATH.read_text(encoding="utf-8"))
    totals = document["totals"]
    if args.markdown or args.fill:
        table = markdown_table(document)
        if args.fill:
            fill(args.fill, table)
        else:
            print(table)
        return 0
    print(summary_line(totals))
    failed = args.pytest_status != 0 or totals["failed"] > 0 or totals["lost"] > 0 or totals["duplicated_s3"] > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
