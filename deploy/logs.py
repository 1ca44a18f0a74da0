"""Reading the application's CloudWatch Logs stream, and picking out the lines worth reading."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deploy.application import DeployError

_LOG_STREAM_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:logs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"log-group:(?P<group>[^:]+):log-stream:(?P<stream>[^:*]+)$"
)

# Log text that marks a failure worth reading; the first is how PyFlink reports a job that
# could not start, the last how this job reports a bad runtime property.
ERROR_MARKERS = (
    "ERROR",
    "Exception",
    "Traceback",
    "Run python process failed",
    "configuration error in property group",
)


@dataclass(frozen=True)
class LogStream:
    region: str
    group: str
    stream: str


@dataclass(frozen=True)
class LogLine:
    timestamp_ms: int
    level: str | None
    text: str

    def format(self) -> str:
        moment = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat(timespec="milliseconds")
        stamp = moment.replace("+00:00", "Z")
        return f"{stamp} {self.level} {self.text}" if self.level else f"{stamp} {self.text}"


def parse_log_stream_arn(arn: str) -> LogStream:
    match = _LOG_STREAM_ARN.match(arn)
    if not match:
        raise DeployError(f"'{arn}' is not a CloudWatch Logs log stream ARN")
    return LogStream(match["region"], match["group"], match["stream"])


def parse_log_event(event: Mapping[str, Any]) -> LogLine:
    """One event; the service writes JSON objects with ``message`` and ``messageType``."""
    raw = str(event.get("message", "")).rstrip("\n")
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    if isinstance(document, dict) and "message" in document:
        level = document.get("messageType")
        return LogLine(int(event["timestamp"]), str(level) if level else None, str(document["message"]).rstrip("\n"))
    return LogLine(int(event["timestamp"]), None, raw)


def read_log_lines(logs: Any, stream: LogStream, start_ms: int) -> Iterator[LogLine]:
    """Every event of the stream since ``start_ms``, oldest first."""
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=stream.group, logStreamNames=[stream.stream], startTime=start_ms
    )
    for page in pages:
        for event in page.get("events", []):
            yield parse_log_event(event)


def is_error(line: LogLine) -> bool:
    return line.level == "ERROR" or any(marker in line.text for marker in ERROR_MARKERS)


def error_lines(lines: Iterable[LogLine]) -> Iterator[LogLine]:
    """The failing lines, with the whole of a Python traceback logged one line per event.

    PyFlink passes the Python process's output on line by line: after ``Traceback (most recent
    call last):`` come indented frames and then the exception line, which alone would not match.
    """
    in_traceback = False
    for line in lines:
        if in_traceback:
            yield line
            in_traceback = line.text[:1].isspace() or not line.text
            continue
        if is_error(line):
            yield line
            in_traceback = line.text.rstrip().endswith("Traceback (most recent call last):")
