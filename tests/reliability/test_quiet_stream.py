"""A stream that goes quiet: its last windows still close and reach S3 and the delivery stream.

Records, then nothing. No record means no watermark progress, so without the source's
close-when-idle rule the last windows would wait for the next record forever. With it, once no
shard has had a record for ``close.when.idle.ms``, the watermark follows processing time. The
expected wait is at most the window size, plus that quiet time, plus one checkpoint interval
(``make bench`` measures it against that bound; the test waits three times as long and records
what it saw).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from deploy.local.job_process import running_job
from deploy.local.stack import LocalAws, delivery_prefix, free_port
from deploy.local.testing import S3Lines, json_record_groups, prepare, wait_until
from tests.reliability.conftest import CaseFigures

WINDOW_S = 2
CLOSE_WHEN_IDLE_MS = 3000
CHECKPOINT_MS = 1000
RECORDS = 40
STEP_MS = 150  # event time between records: 40 records span three windows


def test_quiet_stream_closes_its_last_window(local_aws: LocalAws, tmp_path: Path, case: CaseFigures) -> None:
    name = f"quiet-{int(time.time() * 1000) % 10**8}"
    groups = json_record_groups(name, WINDOW_S, "v")
    groups["window"]["close.when.idle.ms"] = str(CLOSE_WHEN_IDLE_MS)
    groups["sink.delivery"] = {"type": "firehose", "stream.name": f"{name}-delivery"}
    properties = tmp_path / "properties.json"
    config = prepare(local_aws, groups, properties)
    windows = S3Lines(local_aws, config.sink_s3.location)
    delivered = S3Lines(local_aws, config.sink_s3.location, delivery_prefix(config))
    dead_letters = S3Lines(local_aws, config.dead_letter.location)
    bound_ms = WINDOW_S * 1000 + CLOSE_WHEN_IDLE_MS + CHECKPOINT_MS
    window_ms = WINDOW_S * 1000

    args = ("--checkpoint-interval-ms", str(CHECKPOINT_MS))
    with running_job(local_aws, properties, tmp_path / "job.log", free_port(), args):
        first = int(time.time() * 1000)
        times = [first + i * STEP_MS for i in range(RECORDS)]
        entries = [{"Data": json.dumps({"k": "a", "t": t, "v": 1}), "PartitionKey": "a"} for t in times]
        answer = local_aws.client("kinesis").put_records(StreamName=config.source.stream_name, Records=entries)
        assert answer["FailedRecordCount"] == 0
        last_put = time.time()
        expected = Counter(t - t % window_ms for t in times)
        last_window = max(expected)

        def last_window_in(lines: S3Lines) -> bool:
            return any(_epoch_ms(w["window_start"]) == last_window for w in lines.read())

        wait_until(lambda: last_window_in(windows) and last_window_in(delivered), 3 * bound_ms / 1000, "last window")
        seen_after_ms = round((time.time() - last_put) * 1000)

    rows = windows.read()
    counts = {_epoch_ms(w["window_start"]): w["count"] for w in rows}
    late = [d for d in dead_letters.read() if d["stage"] == "window"]
    case.records_in = RECORDS
    case.lost = RECORDS - sum(counts.values())
    case.duplicated_s3 = len(rows) - len(counts)
    case.details.update(
        {"last_window_seen_after_ms": seen_after_ms, "bound_ms": bound_ms, "windows": len(counts), "late": len(late)}
    )
    assert counts == dict(expected)
    assert (case.lost, case.duplicated_s3, len(late)) == (0, 0, 0)


def _epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
