"""The inference stage in plain Python: batching, retries with backoff, and split-on-failure.

``BatchScorer.score`` scores a batch given as its request body (record mode: the batch and its
body are built in Java); ``InferenceStage.predict`` scores one instance (window mode):
instances wait up to ``batch.max.delay.ms`` to share a request of up to ``batch.size``
instances.  A request (``BatchRequests.send``, the one place requests are sent) is retried on throttling,
5xx, timeouts and connection errors with exponential backoff and jitter; a batch the endpoint
rejects for its content (400, 413, 422, 424, or an answer that cannot be decoded) is split in
halves so that one poison instance fails alone and the good ones still get their predictions.
Everything runs on one asyncio loop (the operator's).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import aiohttp
from yarl import URL

from config import InferenceConfig
from udfs.inference.codecs import Codec, DecodeError, csv_line
from udfs.inference.requests import EndpointRequests, HttpRequest
from udfs.inference.retry import Backoff, Failure, classify_response, connection_failure, timeout_failure
from udfs.inference.rollout import ShadowCall, ShadowScorer, variant_of

# (status, headers, body) of one HTTP exchange; raises on connection errors and timeouts.
Response = tuple[int, dict[str, str], bytes]
Transport = Callable[[HttpRequest, float], Awaitable[Response]]


class InferenceError(Exception):
    """An instance could not be scored; the record goes to the dead-letter output."""

    def __init__(self, failure: Failure, attempts: int) -> None:
        self.failure = failure
        self.attempts = attempts
        status = f"status {failure.status}, " if failure.status is not None else ""
        super().__init__(f"{failure.reason} ({status}{attempts} attempt{'s' if attempts != 1 else ''})")


class StageMetrics:
    """Counts what the stage does; the Flink adapter reports them as operator metrics."""

    # Latency percentiles and the mean batch size are taken over the most recent requests.
    LATENCY_WINDOW = 1024

    def __init__(self, on_latency_ms: Callable[[float], None] | None = None) -> None:
        self.requests = 0
        self.instances = 0
        self.retries = 0
        self.failures = 0
        self.dead_lettered = 0
        self.in_flight = 0
        self._on_latency_ms = on_latency_ms
        self._latencies_ms: deque[float] = deque(maxlen=self.LATENCY_WINDOW)
        self._batch_sizes: deque[int] = deque(maxlen=self.LATENCY_WINDOW)

    def request_done(self, latency_ms: float, instances: int = 1) -> None:
        """A request answered (served or not) after ``latency_ms``, carrying ``instances``."""
        self.requests += 1
        self._latencies_ms.append(latency_ms)
        self._batch_sizes.append(instances)
        if self._on_latency_ms is not None:
            self._on_latency_ms(latency_ms)

    def latency_percentile_ms(self, fraction: float) -> float:
        """The latency below which ``fraction`` of the recent requests stayed (0 with none yet)."""
        if not self._latencies_ms:
            return 0.0
        ordered = sorted(self._latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def mean_batch_size(self) -> float:
        """Mean instances per request over the recent requests (0 with none yet)."""
        return sum(self._batch_sizes) / len(self._batch_sizes) if self._batch_sizes else 0.0


@dataclass(frozen=True)
class Answer:
    """A served request: its predictions, and the response's headers (which variant answered, ...)."""

    predictions: list[float]
    headers: dict[str, str]


class BatchRequests:
    """One batch request, from its body to its predictions: the one place a request is sent.

    Retries throttling, 5xx, timeouts and connection errors with exponential backoff and jitter;
    raises :class:`InferenceError` when the batch cannot be scored.  With ``GET`` the body is the
    one instance's CSV line.
    """

    def __init__(
        self,
        config: InferenceConfig,
        requests: EndpointRequests,
        transport: Transport,
        metrics: StageMetrics,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._requests = requests
        self._transport = transport
        self._codec = Codec.of(config.codec)
        self._backoff = Backoff(config.retry.backoff_initial_ms, config.retry.backoff_max_ms, rng or random.Random())
        self._metrics = metrics

    def request(self, body: bytes) -> HttpRequest:
        if self._config.endpoint.method == "GET":
            return self._requests.get(body.decode())
        return self._requests.post(body)

    async def send(self, body: bytes, count: int) -> Answer:
        """The ``count`` predictions for ``body``, and the headers of the response that gave them."""
        request = self.request(body)
        timeout_s = self._config.retry.timeout_ms / 1000.0
        failure = Failure("not attempted", True)
        for attempt in range(self._config.retry.max_attempts):
            if attempt:
                self._metrics.retries += 1
                await asyncio.sleep(self._backoff.delay_s(attempt - 1))
            started = time.perf_counter()
            try:
                status, headers, answer = await asyncio.wait_for(self._transport(request, timeout_s), timeout_s)
            except TimeoutError:
                failure = timeout_failure(self._config.retry.timeout_ms)
            except OSError as error:  # ConnectionError included
                failure = connection_failure(error)
            else:
                self._metrics.request_done((time.perf_counter() - started) * 1000.0, count)
                response_failure = classify_response(status, _header(headers, "x-amzn-ErrorType"), answer)
                if response_failure is None:
                    try:
                        predictions = self._codec.decode(answer, count)
                    except DecodeError as error:
                        failure = Failure(f"undecodable response: {error}", False, status, per_instance=True)
                    else:
                        self._metrics.instances += count
                        return Answer(predictions, headers)
                else:
                    failure = response_failure
            self._metrics.failures += 1
            if not failure.retryable:
                raise InferenceError(failure, attempt + 1)
        raise InferenceError(
            Failure(f"attempts exhausted, last: {failure.reason}", True, failure.status),
            self._config.retry.max_attempts,
        )


@dataclass(frozen=True)
class BatchOutcome:
    """Each instance's prediction (NaN where it failed) and, where any failed, each one's error;
    where the answers name one, the variant that made each prediction."""

    predictions: list[float]
    errors: list[InferenceError | None] | None = None
    variants: list[str | None] | None = None

    @classmethod
    def failed(cls, count: int, error: InferenceError) -> BatchOutcome:
        return cls([math.nan] * count, [error] * count)

    def __add__(self, other: BatchOutcome) -> BatchOutcome:
        errors = _joined(self.errors, other.errors, len(self.predictions), len(other.predictions))
        variants = _joined(self.variants, other.variants, len(self.predictions), len(other.predictions))
        return BatchOutcome(self.predictions + other.predictions, errors, variants)


T = TypeVar("T")


def _joined(first: list[T | None] | None, second: list[T | None] | None, n1: int, n2: int) -> list[T | None] | None:
    """Two halves' per-instance lists as one; None (nothing to say) when neither half has one."""
    if first is None and second is None:
        return None
    return (first or [None] * n1) + (second or [None] * n2)


class BatchScorer:
    """Scores a batch given as its request body: one request, or, when the endpoint rejects the
    instances, the halves of the batch in turn until the instance at fault fails alone."""

    def __init__(self, config: InferenceConfig, requests: BatchRequests) -> None:
        self._codec = Codec.of(config.codec)
        self._variant_header = config.endpoint.variant_header
        self._requests = requests
        self._metrics = requests._metrics

    async def score(self, body: bytes, count: int) -> BatchOutcome:
        try:
            answer = await self._requests.send(body, count)
        except InferenceError as error:
            if not error.failure.per_instance or count == 1:
                return BatchOutcome.failed(count, error)
            first, second = self._codec.halves(body, count)
            middle = count // 2
            halves = await asyncio.gather(self.score(first, middle), self.score(second, count - middle))
            return halves[0] + halves[1]
        except Exception as error:  # noqa: BLE001 - never leave a record without an outcome
            self._metrics.failures += 1
            failure = Failure(f"internal error: {type(error).__name__}: {error}", False)
            return BatchOutcome.failed(count, InferenceError(failure, 1))
        variant = variant_of(answer.headers, self._variant_header)
        return BatchOutcome(answer.predictions, variants=None if variant is None else [variant] * count)


@dataclass(frozen=True)
class Scored:
    """One instance's prediction, the variant that made it (if the answer names one) and the shadow's prediction
    (if the shadow scored the batch and answered in time)."""

    prediction: float
    variant: str | None = None
    shadow: float | None = None


@dataclass
class _Pending:
    features: Sequence[float]
    future: asyncio.Future[Scored] = field(repr=False)


class InferenceStage:
    """Scores instance by instance (window mode): instances wait up to ``batch.max.delay.ms`` to
    share a request of up to ``batch.size`` instances, scored by :class:`BatchScorer`."""

    def __init__(
        self,
        config: InferenceConfig,
        requests: EndpointRequests,
        transport: Transport,
        metrics: StageMetrics | None = None,
        rng: random.Random | None = None,
        shadow: ShadowScorer | None = None,
    ) -> None:
        self._config = config
        self._shadow = shadow
        self._codec = Codec.of(config.codec)
        self.metrics = metrics or StageMetrics()
        self._scorer = BatchScorer(config, BatchRequests(config, requests, transport, self.metrics, rng))
        self._pending: list[_Pending] = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def predict(self, features: Sequence[float]) -> float:
        """The prediction for one instance; raises :class:`InferenceError` when it cannot be had."""
        return (await self.predict_scored(features)).prediction

    async def predict_scored(self, features: Sequence[float]) -> Scored:
        """The prediction for one instance with its variant and the shadow's; raises :class:`InferenceError` when it
        cannot be had."""
        loop = asyncio.get_running_loop()
        pending = _Pending(features, loop.create_future())
        self.metrics.in_flight += 1
        self._pending.append(pending)
        if len(self._pending) >= self._config.batching.size:
            self._flush()
        elif self._flush_timer is None:
            self._flush_timer = loop.call_later(self._config.batching.max_delay_ms / 1000.0, self._flush)
        try:
            return await pending.future
        except InferenceError:
            self.metrics.dead_lettered += 1
            raise
        finally:
            self.metrics.in_flight -= 1

    def _flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        batch, self._pending = self._pending, []
        if batch:
            # The shadow gets the batch at the same time as the primary, and the primary never waits for it.
            shadow = self._shadow.start([item.features for item in batch]) if self._shadow is not None else None
            task = asyncio.get_running_loop().create_task(self._score(batch, shadow))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _score(self, batch: list[_Pending], shadow: ShadowCall | None = None) -> None:
        outcome = await self._scorer.score(self._body([item.features for item in batch]), len(batch))
        errors = outcome.errors or [None] * len(batch)
        variants = outcome.variants or [None] * len(batch)
        shadows: list[float | None] = [None] * len(batch)
        if shadow is not None:
            shadows = list(shadow.predictions_now() or shadows)
        for item, prediction, error, variant, shadow_prediction in zip(
            batch, outcome.predictions, errors, variants, shadows, strict=True
        ):
            if item.future.done():
                continue
            if error is not None:
                item.future.set_exception(error)
            else:
                item.future.set_result(Scored(prediction, variant, shadow_prediction))

    def _body(self, instances: list[Sequence[float]]) -> bytes:
        if self._config.endpoint.method == "GET":
            return csv_line(instances[0]).encode()
        return self._codec.encode(instances)


def _header(headers: dict[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def aiohttp_transport(session: aiohttp.ClientSession) -> Transport:
    """A transport over one aiohttp session (which must belong to the running loop)."""

    async def send(request: HttpRequest, timeout_s: float) -> Response:
        try:
            async with session.request(
                request.method,
                URL(request.url, encoded=True),  # signed URLs must be sent byte for byte
                headers=request.headers,
                data=request.body,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                return response.status, dict(response.headers), await response.read()
        except aiohttp.ClientError as error:
            raise ConnectionError(str(error) or type(error).__name__) from error

    return send
