"""A stream that goes quiet: how long after its last record the last window reaches S3 and the delivery stream.

Without records no watermark moves, so the windows a stream's last records fall in would stay
open until the next record; the source's close-when-idle rule lets the watermark follow
processing time once every shard has been quiet for ``close.when.idle.ms``. The bound of the
wait is the window size (the last record may open a window just begun), plus that quiet time,
plus one checkpoint interval (the S3 sink commits on checkpoints).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.end_to_end import OutputWatcher, _epoch_s, bench_groups
from config import build_config, write_property_groups
from deploy.local.job_process import running_job
from deploy.local.producer import TripProducer
from deploy.local.stack import LocalAws, create_resources, free_port
from deploy.local.testing import wait_until

CHECKPOINT_INTERVAL_MS = 5000
CLOSE_WHEN_IDLE_MS = 10_000
RATE = 200.0
SEND_S = 12.0


def measure_quiet_stream(aws: LocalAws, run_dir: Path, index: int) -> dict[str, Any]:
    """Trips for ``SEND_S`` seconds, then none; the time from the last put to the last window in both outputs."""
    groups = bench_groups("quiet_stream", index)
    groups["window"]["close.when.idle.ms"] = str(CLOSE_WHEN_IDLE_MS)
    properties = run_dir / "quiet_stream.properties.json"
    write_property_groups(properties, groups)
    config = build_config(groups, {"AWS_ENDPOINT_URL": aws.endpoint})
    create_resources(aws, config)
    bound_ms = config.window.size_seconds * 1000 + config.window.close_when_idle_ms + CHECKPOINT_INTERVAL_MS

    watcher = OutputWatcher(aws, config)
    args = ("--checkpoint-interval-ms", str(CHECKPOINT_INTERVAL_MS))
    with running_job(aws, properties, run_dir / "quiet_stream.log", free_port(), args):
        watcher.start()
        producer = TripProducer(aws.client("kinesis"), config.source.stream_name, RATE)
        producer.start()
        time.sleep(SEND_S)
        producer.stop()
        wait_until(producer.finished.is_set, 30, "the producer to stop")
        last_put = time.time()
        # The last record arrived at most now: its window starts at or before this second.
        last_window_start = last_put - last_put % config.window.size_seconds

        def last_window_seen() -> bool:
            return all(
                any(_epoch_s(w["window_start"]) >= last_window_start for w in watcher.seen[name].windows.values())
                for name in ("s3", "delivery")
            )

        wait_until(last_window_seen, 3 * bound_ms / 1000, "the last window in S3 and the delivery stream")
    watcher.stop()
    if watcher.error is not None:
        raise watcher.error

    def seen_ms(name: str) -> float:
        seen = watcher.seen[name]
        times = [seen.seen_at[i] for i, w in seen.windows.items() if _epoch_s(w["window_start"]) >= last_window_start]
        return (min(times) - last_put) * 1000.0

    s3_ms, delivery_ms = seen_ms("s3"), seen_ms("delivery")
    return {
        "records": producer.sent,
        "window_s": config.window.size_seconds,
        "close_when_idle_ms": config.window.close_when_idle_ms,
        "checkpoint_interval_ms": CHECKPOINT_INTERVAL_MS,
        "s3_ms": round(s3_ms),
        "delivery_ms": round(delivery_ms),
        "last_window_ms": round(max(s3_ms, delivery_ms)),
        "bound_ms": bound_ms,
    }
