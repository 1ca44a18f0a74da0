"""Rolling out a new model: which variant answered, and a shadow endpoint scoring the same batches.

The shadow request goes out at the same time as the primary's and is never waited for: when the primary's answer is
in, the batch takes the shadow's predictions only if they are already there.  A shadow answer that comes later is
still measured when it arrives (its latency) and then counted as missed; one that does not come by the shadow's
timeout is counted as missed too.  A shadow failure is counted and goes nowhere else: it never dead-letters a record.

Which batches the shadow scores is decided by a stable hash of the batch's first record, so a replay of the same
records makes the same choice.  The window comparisons (``disagreement``, ``mae``, ``bias``) are computed in SQL; the
functions here say what they mean, for the tests and the demo.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from config import ShadowConfig
from udfs.inference.codecs import Codec, DecodeError, csv_line
from udfs.inference.requests import EndpointRequests, HttpRequest
from udfs.inference.retry import classify_response

# Metric names of the shadow (group ``KinesisAnalytics``), as the dashboard names them.
SHADOW_REQUESTS = "shadowRequests"
SHADOW_FAILURES = "shadowFailures"
SHADOW_MISSES = "shadowMisses"
SHADOW_LATENCY_PERCENTILES = (("shadowLatencyP50Ms", 0.5), ("shadowLatencyP95Ms", 0.95), ("shadowLatencyP99Ms", 0.99))

_HASH_SPACE = float(1 << 64)


def sampled(first_record: bytes, rate: float) -> bool:
    """Whether the shadow scores a batch, from a stable hash of its first record: the same record, the same answer,
    in any process (Python's own ``hash`` of bytes changes from process to process)."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.blake2b(first_record, digest_size=8).digest()
    return int.from_bytes(digest, "big") / _HASH_SPACE < rate


def first_record_key(instances: Sequence[Sequence[float]]) -> bytes:
    """The bytes a batch is sampled by: its first instance as a CSV line."""
    return csv_line(instances[0]).encode("utf-8") if instances else b""


def header_value(headers: dict[str, str], name: str) -> str | None:
    """A response header's value, its name in any case."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def variant_of(headers: dict[str, str], header: str | None) -> str | None:
    """The variant an answer names in ``header``; None without the header or with an empty one."""
    value = header_value(headers, header) if header is not None else None
    return value.strip() or None if value is not None else None


def _instances(body: bytes, codec: Codec) -> list[list[float]]:
    """The instances a request body holds (CSV lines, or the JSON instances list)."""
    if codec.content_type == "text/csv":
        return [[float(value) for value in line.split(b",")] for line in body.split(b"\n") if line]
    document = json.loads(body)
    return [[float(value) for value in instance] for instance in document[codec.instances_key]]


def _pairs(first: Iterable[float | None], second: Iterable[float | None]) -> list[tuple[float, float]]:
    return [(a, b) for a, b in zip(first, second, strict=True) if a is not None and b is not None]


def disagreement(primary: Sequence[float | None], shadow: Sequence[float | None]) -> float | None:
    """Mean absolute difference of the records both scored; None when none were."""
    pairs = _pairs(primary, shadow)
    return sum(abs(p - s) for p, s in pairs) / len(pairs) if pairs else None


def mae(predictions: Sequence[float | None], labels: Sequence[float | None]) -> float | None:
    """Mean absolute error of the scored records; None when none were."""
    pairs = _pairs(predictions, labels)
    return sum(abs(p - y) for p, y in pairs) / len(pairs) if pairs else None


def bias(predictions: Sequence[float | None], labels: Sequence[float | None]) -> float | None:
    """Mean signed error (prediction minus label) of the scored records; None when none were."""
    pairs = _pairs(predictions, labels)
    return sum(p - y for p, y in pairs) / len(pairs) if pairs else None


class ShadowMetrics:
    """What the shadow did: requests, failures (errors, refusals, undecodable answers), misses and latency."""

    LATENCY_WINDOW = 1024

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.misses = 0
        self._latencies_ms: deque[float] = deque(maxlen=self.LATENCY_WINDOW)

    def answered(self, latency_ms: float) -> None:
        self._latencies_ms.append(latency_ms)

    def latency_percentile_ms(self, fraction: float) -> float:
        if not self._latencies_ms:
            return 0.0
        ordered = sorted(self._latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def register(self, group: Any) -> None:
        """Gauges on a Flink metric group (``KinesisAnalytics``)."""
        group.gauge(SHADOW_REQUESTS, lambda: self.requests)
        group.gauge(SHADOW_FAILURES, lambda: self.failures)
        group.gauge(SHADOW_MISSES, lambda: self.misses)
        for name, fraction in SHADOW_LATENCY_PERCENTILES:
            group.gauge(name, lambda f=fraction: round(self.latency_percentile_ms(f)))


Transport = Callable[[HttpRequest, float], Any]


class ShadowCall:
    """One shadow request in flight for a batch.

    Missed: answered after the primary (the batch's records are gone without it) or not by the shadow's timeout.
    A failure is a failure, however late.
    """

    def __init__(self, metrics: ShadowMetrics) -> None:
        self._metrics = metrics
        self._predictions: list[float] | None = None
        self._ended = False
        self._late = False

    def predictions_now(self) -> list[float] | None:
        """The shadow's predictions if they are already in, else None.  Never waits."""
        if not self._ended:
            self._late = True
        return self._predictions

    def ended(self, predictions: list[float] | None) -> None:
        self._ended = True
        if self._late:
            if predictions is not None:
                self._metrics.misses += 1
        else:
            self._predictions = predictions

    def timed_out(self) -> None:
        self._ended = True
        self._metrics.misses += 1


class ShadowScorer:
    """Sends a sampled share of the batches to the shadow endpoint: one attempt each, bounded by its timeout."""

    def __init__(
        self,
        config: ShadowConfig,
        requests: EndpointRequests,
        transport: Transport,
        metrics: ShadowMetrics | None = None,
    ) -> None:
        self._config = config
        self._requests = requests
        self._transport = transport
        self._codec = Codec.of(config.codec)
        self.metrics = metrics or ShadowMetrics()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, instances: Sequence[Sequence[float]]) -> ShadowCall | None:
        """Send ``instances`` to the shadow now, if the batch is sampled; the caller does not wait for it."""
        if not instances or not sampled(first_record_key(instances), self._config.sample_rate):
            return None
        return self._send(instances, None)

    def start_body(self, body: bytes, count: int, body_codec: Codec) -> ShadowCall | None:
        """:meth:`start` for a batch given as the primary's request body (``body_codec``: how it is written).

        A body the shadow takes as it is (same content type and instances key, a POST) is sent as it is; otherwise
        its instances are read back and written the shadow's way.
        """
        csv = body_codec.content_type == "text/csv"
        if csv and not sampled(body.split(b"\n", 1)[0], self._config.sample_rate):
            return None
        try:
            instances = _instances(body, body_codec)
        except (ValueError, KeyError, TypeError):
            self.metrics.failures += 1
            return None
        if len(instances) != count or (not csv and not sampled(first_record_key(instances), self._config.sample_rate)):
            return None
        same = (
            self._config.endpoint.method == "POST"
            and self._codec.content_type == body_codec.content_type
            and (csv or self._codec.instances_key == body_codec.instances_key)
        )
        return self._send(instances, body if same else None)

    def _send(self, instances: Sequence[Sequence[float]], body: bytes | None) -> ShadowCall:
        call = ShadowCall(self.metrics)
        task = asyncio.get_running_loop().create_task(self._score(instances, call, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return call

    async def _score(self, instances: Sequence[Sequence[float]], call: ShadowCall, body: bytes | None) -> None:
        self.metrics.requests += 1
        timeout_s = self._config.timeout_ms / 1000.0
        started = time.perf_counter()
        predictions = None
        try:
            request = self._requests.post(body) if body is not None else self._request(instances)
            status, headers, body = await asyncio.wait_for(self._transport(request, timeout_s), timeout_s)
        except TimeoutError:
            call.timed_out()
            return
        except Exception:  # noqa: BLE001 - a shadow failure is counted and never reaches a record
            self.metrics.failures += 1
        else:
            self.metrics.answered((time.perf_counter() - started) * 1000.0)
            predictions = self._predictions(status, headers, body, len(instances))
        call.ended(predictions)

    def _predictions(self, status: int, headers: dict[str, str], body: bytes, expected: int) -> list[float] | None:
        if classify_response(status, header_value(headers, "x-amzn-ErrorType"), body) is not None:
            self.metrics.failures += 1
            return None
        try:
            return self._codec.decode(body, expected)
        except DecodeError:
            self.metrics.failures += 1
            return None

    def _request(self, instances: Sequence[Sequence[float]]) -> HttpRequest:
        if self._config.endpoint.method == "GET":
            return self._requests.get(csv_line(instances[0]))
        return self._requests.post(self._codec.encode(list(instances)))
