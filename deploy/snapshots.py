"""The application's snapshots: listed with their age, the oldest pruned, a chosen one restored.

The service keeps every snapshot until someone deletes it.  ``ListApplicationSnapshots`` and
``DescribeApplicationSnapshot`` report name, status, application version, runtime and creation
time; they report no size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from deploy.application import DeployError

# The service answers at most 50 snapshots a page.
PAGE_SIZE = 50


@dataclass(frozen=True)
class Snapshot:
    """One application snapshot as the service describes it."""

    name: str
    status: str
    created: datetime
    version: int
    runtime: str

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> Snapshot:
        return cls(
            name=summary["SnapshotName"],
            status=summary["SnapshotStatus"],
            created=summary["SnapshotCreationTimestamp"],
            version=int(summary.get("ApplicationVersionId", 0)),
            runtime=summary.get("RuntimeEnvironment", "-"),
        )


@dataclass(frozen=True)
class Pruned:
    """What a prune did: the ready snapshots it deleted and those it kept, oldest first."""

    deleted: list[Snapshot]
    kept: list[Snapshot]


def age(delta: timedelta) -> str:
    """``delta`` in its largest whole unit and the next: ``3d 4h``, ``2h 5m``, ``40s``."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"


class Snapshots:
    """The snapshots of one application, through a ``kinesisanalyticsv2`` client."""

    def __init__(self, client: Any, application: str) -> None:
        self.client = client
        self.application = application

    def _pages(self) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {"ApplicationName": self.application, "Limit": PAGE_SIZE}
        while True:
            page: dict[str, Any] = self.client.list_application_snapshots(**request)
            yield page
            if not page.get("NextToken"):
                return
            request["NextToken"] = page["NextToken"]

    def oldest_first(self) -> list[Snapshot]:
        """Every snapshot, oldest first."""
        found = [Snapshot.from_summary(s) for page in self._pages() for s in page.get("SnapshotSummaries", [])]
        return sorted(found, key=lambda snapshot: snapshot.created)

    def describe(self, name: str) -> Snapshot:
        detail = self.client.describe_application_snapshot(ApplicationName=self.application, SnapshotName=name)
        return Snapshot.from_summary(detail["SnapshotDetails"])

    def prune(self, keep: int) -> Pruned:
        """Delete all but the ``keep`` newest ready snapshots.

        Snapshots still being made or deleted are neither counted nor touched.
        """
        ready = [snapshot for snapshot in self.oldest_first() if snapshot.status == "READY"]
        cut = max(0, len(ready) - keep)
        doomed, kept = ready[:cut], ready[cut:]
        for snapshot in doomed:
            self.client.delete_application_snapshot(
                ApplicationName=self.application,
                SnapshotName=snapshot.name,
                SnapshotCreationTimestamp=snapshot.created,
            )
        return Pruned(doomed, kept)

    def restorable(self, name: str) -> Snapshot:
        """The snapshot ``name`` if the service can start from it."""
        snapshot = self.describe(name)
        if snapshot.status != "READY":
            raise DeployError(f"snapshot '{name}' is {snapshot.status}, not READY: it cannot be restored")
        return snapshot


def table(snapshots: list[Snapshot], now: datetime) -> list[str]:
    """The lines ``deploy snapshots`` prints, oldest first."""
    rows = [("NAME", "STATUS", "AGE", "CREATED", "VERSION", "RUNTIME")]
    for snapshot in snapshots:
        created = snapshot.created.isoformat(timespec="seconds").replace("+00:00", "Z")
        rows.append(
            (
                snapshot.name,
                snapshot.status,
                age(now - snapshot.created),
                created,
                str(snapshot.version),
                snapshot.runtime,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
