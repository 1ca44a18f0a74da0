"""Uploading the application zip to S3, with progress."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


class UploadProgress:
    """A one-line progress bar for ``upload_file``'s ``Callback`` (called from transfer threads)."""

    WIDTH = 30
    MB = 1024 * 1024

    def __init__(self, label: str, total: int, stream: IO[str]) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.done = 0
        self._shown = -1
        self._lock = threading.Lock()

    def __call__(self, transferred: int) -> None:
        with self._lock:
            self.done = max(0, min(self.total, self.done + transferred))
            percent = self._percent()
            if percent != self._shown:
                self._draw(percent)

    def finish(self) -> None:
        with self._lock:
            self.done = self.total
            self._draw(100)
            self.stream.write("\n")
            self.stream.flush()

    def abort(self) -> None:
        """End a drawn line, so that what follows starts on its own."""
        with self._lock:
            if self._shown >= 0:
                self.stream.write("\n")
                self.stream.flush()

    def _percent(self) -> int:
        return 100 if self.total == 0 else self.done * 100 // self.total

    def _draw(self, percent: int) -> None:
        self._shown = percent
        filled = self.WIDTH * percent // 100
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = f"\r{self.label} [{bar}] {percent:3d}% {self.done / self.MB:.1f}/{self.total / self.MB:.1f} MB"
        self.stream.write(line)
        self.stream.flush()


def upload_zip(s3: Any, path: Path, bucket: str, key: str, progress: Callable[[int], None]) -> str:
    """Upload ``path`` to ``s3://bucket/key`` and return that location."""
    s3.upload_file(str(path), bucket, key, Callback=progress)
    return f"s3://{bucket}/{key}"
