"""Rate-limited producers into a Kinesis stream: taxi trips (the workshop's producer), or any records."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from deploy.local.taxi import random_trip, workshop_record

# PutRecords takes at most 500 records per call.
_MAX_BATCH = 500
MALFORMED_RECORD = b'"not,a,trip"'


class RecordProducer(threading.Thread):
    """Puts ``rate`` records per second, record ``i`` being ``make_record(i)``, until stopped or ``limit`` are in.

    One thread makes one PutRecords call at a time (concurrent calls to one stream lose records on
    moto), so the records enter the shard in index order, but for an entry Kinesis refuses, which is
    put again at once. ``sent`` counts the records Kinesis accepted; ``finished`` is set once
    ``limit`` records are in or the producer failed (``error``).
    """

    def __init__(
        self,
        kinesis: Any,
        stream_name: str,
        rate: float,
        make_record: Callable[[int], bytes],
        limit: int | None = None,
        name: str = "record-producer",
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._kinesis = kinesis
        self._stream_name = stream_name
        self._rate = rate
        self._make_record = make_record
        self.limit = limit
        self._stop_requested = threading.Event()
        self.finished = threading.Event()
        self.sent = 0
        self.error: Exception | None = None

    def stop(self) -> None:
        self._stop_requested.set()
        self.join()

    def run(self) -> None:
        tick = 0.1
        start = time.monotonic()
        made = 0
        try:
            while not self._stop_requested.is_set() and (self.limit is None or made < self.limit):
                due = int((time.monotonic() - start) * self._rate) - made
                if self.limit is not None:
                    due = min(due, self.limit - made)
                while due > 0 and not self._stop_requested.is_set():
                    count = min(due, _MAX_BATCH)
                    self._put([self._make_record(index) for index in range(made, made + count)])
                    made += count
                    due -= count
                self._stop_requested.wait(tick)
        except Exception as error:  # noqa: BLE001 - surfaced by the caller through .error
            self.error = error
        finally:
            self.finished.set()

    def _put(self, records: list[bytes]) -> None:
        pending = [{"Data": data, "PartitionKey": "1"} for data in records]
        while pending:
            response = self._kinesis.put_records(StreamName=self._stream_name, Records=pending)
            results = response["Records"]
            self.sent += sum(1 for r in results if "ErrorCode" not in r)
            pending = [entry for entry, r in zip(pending, results, strict=True) if "ErrorCode" in r]
            if pending:
                time.sleep(0.1)


class TripProducer(RecordProducer):
    """Puts ``rate`` trips per second until stopped; ``sent`` counts the records Kinesis accepted.

    A ``malformed_rate`` share of records is deliberately broken, to show the dead-letter path.
    """

    def __init__(self, kinesis: Any, stream_name: str, rate: float, malformed_rate: float = 0.0, seed: int = 7) -> None:
        super().__init__(kinesis, stream_name, rate, self._trip, name="trip-producer")
        self._malformed_rate = malformed_rate
        self._rng = random.Random(seed)
        self.malformed = 0

    def _trip(self, index: int) -> bytes:
        if self._rng.random() < self._malformed_rate:
            self.malformed += 1
            return MALFORMED_RECORD
        return workshop_record(random_trip(self._rng))
