"""A rate-limited producer of taxi trips into a Kinesis stream (the workshop's producer)."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from deploy.local.taxi import random_trip, workshop_record

# PutRecords takes at most 500 records per call.
_MAX_BATCH = 500
MALFORMED_RECORD = b'"not,a,trip"'


class TripProducer(threading.Thread):
    """Puts ``rate`` trips per second until stopped; ``sent`` counts the records Kinesis accepted.

    A ``malformed_rate`` share of records is deliberately broken, to show the dead-letter path.
    """

    def __init__(self, kinesis: Any, stream_name: str, rate: float, malformed_rate: float = 0.0, seed: int = 7) -> None:
        super().__init__(name="trip-producer", daemon=True)
        self._kinesis = kinesis
        self._stream_name = stream_name
        self._rate = rate
        self._malformed_rate = malformed_rate
        self._rng = random.Random(seed)
        self._stop_requested = threading.Event()
        self.sent = 0
        self.malformed = 0
        self.error: Exception | None = None

    def stop(self) -> None:
        self._stop_requested.set()
        self.join()

    def run(self) -> None:
        tick = 0.1
        start = time.monotonic()
        try:
            while not self._stop_requested.is_set():
                due = int((time.monotonic() - start) * self._rate) - self.sent
                while due > 0:
                    count = min(due, _MAX_BATCH)
                    self._put(count)
                    due -= count
                self._stop_requested.wait(tick)
        except Exception as error:  # noqa: BLE001 - surfaced by the caller through .error
            self.error = error

    def _put(self, count: int) -> None:
        entries = []
        for _ in range(count):
            if self._rng.random() < self._malformed_rate:
                data = MALFORMED_RECORD
                self.malformed += 1
            else:
                data = workshop_record(random_trip(self._rng))
            entries.append({"Data": data, "PartitionKey": "1"})
        pending = entries
        while pending:
            response = self._kinesis.put_records(StreamName=self._stream_name, Records=pending)
            results = response["Records"]
            self.sent += sum(1 for r in results if "ErrorCode" not in r)
            pending = [entry for entry, r in zip(pending, results, strict=True) if "ErrorCode" in r]
            if pending:
                time.sleep(0.1)
