"""A model rollout in the stage: the variant that answered, the shadow sent with the primary and never waited for,
sampling by the batch's first record, and the window comparisons."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pyflink.common import Row

from config import InferenceConfig, ShadowConfig
from config.app import sagemaker_invocations_url
from deploy.local.model_server import LinearFareModel, ModelServerHandle, rollout_endpoints, running_model_server
from deploy.local.stack import LOCAL_CREDENTIALS
from udfs.inference.flink import BatchScoringFunction, rollout_fields
from udfs.inference.requests import EndpointRequests, HttpRequest
from udfs.inference.rollout import (
    ShadowMetrics,
    ShadowScorer,
    bias,
    disagreement,
    first_record_key,
    mae,
    sampled,
    variant_of,
)
from udfs.inference.stage import InferenceStage, Response, Scored, StageMetrics

from .support import inference_config

PRIMARY_URL = "http://primary.test/predict"
SHADOW_URL = "http://shadow.test/predict"
ROWS = [[3.2, 840.0], [1.05, 300.0], [11.0, 2700.5]]


def primary_model(row: list[float]) -> float:
    return 2.5 + 2.5 * row[0] + row[1] / 200


def shadow_model(row: list[float]) -> float:
    return 3.0 + 2.9 * row[0]


@dataclass
class Gate:
    """An endpoint answer the test releases (or never does)."""

    opened: asyncio.Event = field(default_factory=asyncio.Event)
    answer: Callable[[list[list[float]]], Response] | None = None


class ScriptedTransport:
    """Two endpoints in one transport: each request is recorded when sent and answered when its gate opens."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gates = {PRIMARY_URL: Gate(), SHADOW_URL: Gate()}
        self.gates[PRIMARY_URL].answer = _answer(primary_model, "current")
        self.gates[SHADOW_URL].answer = _answer(shadow_model, "candidate")

    async def __call__(self, request: HttpRequest, timeout_s: float) -> Response:
        self.sent.append(request.url)
        gate = self.gates[request.url]
        await gate.opened.wait()
        assert gate.answer is not None and request.body is not None
        return gate.answer(json.loads(request.body)["instances"])

    def open(self, url: str) -> None:
        self.gates[url].opened.set()


def _answer(model: Callable[[list[float]], float], variant: str) -> Callable[[list[list[float]]], Response]:
    def answer(instances: list[list[float]]) -> Response:
        body = json.dumps({"predictions": [model(row) for row in instances]}).encode()
        return 200, {"Content-Type": "application/json", "x-model-variant": variant}, body

    return answer


def failing(status: int) -> Callable[[list[list[float]]], Response]:
    return lambda instances: (status, {"x-amzn-ErrorType": "InternalFailure"}, b'{"message":"down"}')


def config(sample_rate: float = 1.0, shadow_timeout_ms: int = 2000) -> InferenceConfig:
    primary = inference_config(
        {
            "type": "apigateway",
            "url": PRIMARY_URL,
            "content.type": "application/json",
            "variant.header": "X-Model-Variant",
            "batch.size": str(len(ROWS)),
            "batch.max.delay.ms": "10000",
            "max.attempts": "1",
        }
    )
    shadow_endpoint = dataclasses.replace(primary.endpoint, url=SHADOW_URL)
    shadow = ShadowConfig(shadow_endpoint, primary.codec, sample_rate, shadow_timeout_ms)
    return dataclasses.replace(primary, shadow=shadow)


def stage_of(inference: InferenceConfig, transport: ScriptedTransport) -> tuple[InferenceStage, ShadowMetrics]:
    def no_credentials() -> object:
        raise AssertionError("no signing without iam")

    assert inference.shadow is not None
    requests = EndpointRequests(inference.endpoint, inference.codec.content_type, no_credentials)
    shadow_requests = EndpointRequests(inference.shadow.endpoint, "application/json", no_credentials)
    metrics = ShadowMetrics()
    shadow = ShadowScorer(inference.shadow, shadow_requests, transport, metrics)
    return InferenceStage(inference, requests, transport, StageMetrics(), shadow=shadow), metrics


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.001)

    try:
        await asyncio.wait_for(poll(), timeout_s)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def on_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop, with a deadline."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 10))

    return run


def scored_all(stage: InferenceStage) -> asyncio.Future[list[Scored]]:
    return asyncio.ensure_future(asyncio.gather(*(stage.predict_scored(row) for row in ROWS)))


# -- the stage --------------------------------------------------------------------------------------------------------


@on_loop
async def test_the_stage_sends_primary_and_shadow_at_once_and_carries_both_answers() -> None:
    transport = ScriptedTransport()
    stage, metrics = stage_of(config(), transport)
    results = scored_all(stage)
    # Neither endpoint has answered, yet both have the batch.
    await until(lambda: len(transport.sent) == 2, "both requests sent")
    assert sorted(transport.sent) == [PRIMARY_URL, SHADOW_URL]
    transport.open(SHADOW_URL)
    await until(lambda: metrics.requests == 1 and len(metrics._latencies_ms) == 1, "the shadow's answer")
    transport.open(PRIMARY_URL)
    assert await asyncio.wait_for(results, 5) == [
        Scored(primary_model(row), "current", shadow_model(row)) for row in ROWS
    ]
    assert (metrics.requests, metrics.failures, metrics.misses) == (1, 0, 0)


@on_loop
async def test_a_slow_shadow_does_not_delay_the_primary_and_is_counted_as_missed() -> None:
    transport = ScriptedTransport()
    stage, metrics = stage_of(config(), transport)
    results = scored_all(stage)
    transport.open(PRIMARY_URL)
    # The shadow's gate stays shut: the primary's answer must come without it.
    assert await asyncio.wait_for(results, 5) == [Scored(primary_model(row), "current", None) for row in ROWS]
    assert (metrics.requests, metrics.misses) == (1, 0)
    transport.open(SHADOW_URL)
    await until(lambda: len(metrics._latencies_ms) == 1, "the late shadow answer measured")
    assert (metrics.requests, metrics.failures, metrics.misses) == (1, 0, 1)


@pytest.mark.parametrize("outcome", ["error", "connection", "timeout", "undecodable"])
@on_loop
async def test_shadow_failures_never_dead_letter_a_record(outcome: str) -> None:
    transport = ScriptedTransport()
    stage, metrics = stage_of(config(shadow_timeout_ms=50), transport)
    gate = transport.gates[SHADOW_URL]
    if outcome == "error":
        gate.answer = failing(500)
    elif outcome == "undecodable":
        gate.answer = lambda instances: (200, {}, b'{"predictions": [1.0]}')
    elif outcome == "connection":

        def refuse(instances: list[list[float]]) -> Response:
            raise ConnectionError("connection refused")

        gate.answer = refuse
    if outcome != "timeout":
        transport.open(SHADOW_URL)
        await_shadow = until(lambda: metrics.failures == 1, "the shadow's failure")
    else:
        await_shadow = until(lambda: metrics.misses == 1, "the shadow's timeout")
    results = scored_all(stage)
    await await_shadow
    transport.open(PRIMARY_URL)
    assert await asyncio.wait_for(results, 5) == [Scored(primary_model(row), "current", None) for row in ROWS]
    assert stage.metrics.dead_lettered == 0
    expected = (1, 0, 1) if outcome == "timeout" else (1, 1, 0)
    assert (metrics.requests, metrics.failures, metrics.misses) == expected


@on_loop
async def test_an_unsampled_batch_goes_to_the_primary_only() -> None:
    transport = ScriptedTransport()
    stage, metrics = stage_of(config(sample_rate=0.0), transport)
    transport.open(PRIMARY_URL)
    assert await asyncio.wait_for(scored_all(stage), 5) == [Scored(primary_model(row), "current", None) for row in ROWS]
    assert transport.sent == [PRIMARY_URL]
    assert (metrics.requests, metrics.misses) == (0, 0)


@on_loop
async def test_a_primary_without_a_variant_header_names_no_variant() -> None:
    transport = ScriptedTransport()
    inference = config()
    inference = dataclasses.replace(inference, endpoint=dataclasses.replace(inference.endpoint, variant_header=None))
    stage, _ = stage_of(inference, transport)
    transport.open(PRIMARY_URL)
    transport.open(SHADOW_URL)
    results = await asyncio.wait_for(scored_all(stage), 5)
    assert [result.variant for result in results] == [None, None, None]


# -- sampling and the comparisons -------------------------------------------------------------------------------------


def test_sampling_is_stable_and_takes_its_share() -> None:
    keys = [first_record_key([[float(i), float(i) * 3.5]]) for i in range(10_000)]
    chosen = [sampled(key, 0.25) for key in keys]
    assert chosen == [sampled(key, 0.25) for key in keys]
    assert 2300 < sum(chosen) < 2700
    # A larger rate keeps every batch a smaller one took.
    assert all(sampled(key, 0.5) for key, taken in zip(keys, chosen, strict=True) if taken)
    assert all(sampled(key, 1.0) for key in keys) and not any(sampled(key, 0.0) for key in keys)
    assert first_record_key([[3.2, 840.0], [1.0, 2.0]]) == b"3.2,840.0"


def test_sampling_is_the_same_in_every_process() -> None:
    # Fixed values: a hash that changed between processes (Python's hash of bytes does) would fail here.
    assert [sampled(f"{i},1.0".encode(), 0.5) for i in range(8)] == [
        sampled(f"{i},1.0".encode(), 0.5) for i in range(8)
    ]
    assert [sampled(f"{i},1.0".encode(), 0.5) for i in range(8)] == EXPECTED_HALF


EXPECTED_HALF = [False, False, False, False, True, False, True, True]


def test_the_variant_header_is_read_in_any_case() -> None:
    headers = {"X-Amzn-Invoked-Production-Variant": "candidate", "Content-Type": "application/json"}
    assert variant_of(headers, "x-amzn-invoked-production-variant") == "candidate"
    assert variant_of(headers, "X-Model-Variant") is None
    assert variant_of({"X-Model-Variant": " "}, "X-Model-Variant") is None
    assert variant_of(headers, None) is None


def test_window_comparisons() -> None:
    primary = [10.0, 12.0, 7.0, 3.0]
    shadow = [11.0, None, 6.0, 3.5]
    labels = [10.5, 12.5, 8.0, 2.0]
    assert disagreement(primary, shadow) == pytest.approx((1.0 + 1.0 + 0.5) / 3)
    assert mae(shadow, labels) == pytest.approx((0.5 + 2.0 + 1.5) / 3)
    assert bias(shadow, labels) == pytest.approx((0.5 - 2.0 + 1.5) / 3)
    assert mae(primary, labels) == pytest.approx((0.5 + 0.5 + 1.0 + 1.0) / 4)
    assert disagreement([1.0], [None]) is None and mae([], []) is None and bias([None], [1.0]) is None


# -- the batch path (record mode): the Python function between the Java batcher and unbatcher ------------------------

BATCH_BODY = b"3.2,840.0\n1.05,300.0"
BATCH_ROWS = [[3.2, 840.0], [1.05, 300.0]]


class FakeMetricGroup:
    def __init__(self) -> None:
        self.gauges: dict[str, Callable[[], int]] = {}

    def add_group(self, name: str) -> FakeMetricGroup:
        assert name == "KinesisAnalytics"
        return self

    def gauge(self, name: str, read: Callable[[], int]) -> None:
        self.gauges[name] = read


class FakeRuntimeContext:
    def __init__(self) -> None:
        self.group = FakeMetricGroup()

    def get_metrics_group(self) -> FakeMetricGroup:
        return self.group


@pytest.fixture(scope="module")
def rollout_server() -> Iterator[ModelServerHandle]:
    with running_model_server(endpoints=rollout_endpoints(0.5), auth="iam") as handle:
        yield handle


@pytest.fixture
def batch_function(
    rollout_server: ModelServerHandle, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[BatchScoringFunction, FakeMetricGroup]]:
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    rollout_server.set_faults(endpoint="fare-model")
    rollout_server.set_faults(endpoint="fare-model-shadow")
    primary = inference_config(
        {"endpoint.name": "fare-model"}, {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": rollout_server.url}
    )
    shadow_url = sagemaker_invocations_url("fare-model-shadow", primary.endpoint.region, rollout_server.url)
    shadow_endpoint = dataclasses.replace(primary.endpoint, url=shadow_url, endpoint_name="fare-model-shadow")
    shadow = ShadowConfig(shadow_endpoint, primary.codec, 1.0, 2000)
    function = BatchScoringFunction(dataclasses.replace(primary, shadow=shadow))
    context = FakeRuntimeContext()
    function.open(context)
    yield function, context.group


def run_batch(function: BatchScoringFunction) -> tuple[Any, float]:
    """The function's outcome row for one batch, and how long it took (s)."""

    async def invoke() -> tuple[Any, float]:
        started = asyncio.get_running_loop().time()
        (row,) = await function.async_invoke(Row(BATCH_BODY, len(BATCH_ROWS), b"records"))
        elapsed = asyncio.get_running_loop().time() - started
        # Let a late shadow answer end before the loop does.
        await until(lambda: not function._shadow or not function._shadow._tasks, "the shadow request ended")
        return row, elapsed

    return asyncio.run(invoke())


def primary_predictions(variants: list[str]) -> list[float]:
    current, candidate = rollout_endpoints(0.5)[0].variants
    models = {current.name: current.model, candidate.name: candidate.model}
    endpoint = rollout_endpoints(0.5)[0]
    return [
        endpoint.predict(next(v for v in endpoint.variants if v.name == name), [row])[0]
        for name, row in zip(variants, BATCH_ROWS, strict=True)
        if name in models
    ]


def test_a_batch_carries_its_variant_and_the_shadows_predictions(
    batch_function: tuple[BatchScoringFunction, FakeMetricGroup], rollout_server: ModelServerHandle
) -> None:
    function, group = batch_function
    rollout_server.set_faults(endpoint="fare-model", latency_ms=300)
    row, _ = run_batch(function)
    records, predictions, failures, reasons, variants, shadow = (row[i] for i in range(6))
    assert (records, failures, reasons) == (b"records", [], [])
    assert len(set(variants)) == 1 and variants[0] in ("current", "candidate")
    assert predictions == primary_predictions(variants)
    assert shadow == LinearFareModel.fit(("trip_distance",)).predict([[3.2], [1.05]])
    assert {name: group.gauges[name]() for name in ("shadowRequests", "shadowFailures", "shadowMisses")} == {
        "shadowRequests": 1,
        "shadowFailures": 0,
        "shadowMisses": 0,
    }


def test_a_slow_shadow_does_not_hold_the_batch_up(
    batch_function: tuple[BatchScoringFunction, FakeMetricGroup], rollout_server: ModelServerHandle
) -> None:
    function, group = batch_function
    rollout_server.set_faults(endpoint="fare-model-shadow", latency_ms=1500)
    row, elapsed = run_batch(function)
    assert elapsed < 1.0  # the primary's answer, not the shadow's
    assert (row[2], row[5]) == ([], [])
    assert row[1] == primary_predictions(row[4])
    assert (group.gauges["shadowRequests"](), group.gauges["shadowMisses"]()) == (1, 1)


def test_a_shadow_outage_never_dead_letters_a_record(
    batch_function: tuple[BatchScoringFunction, FakeMetricGroup], rollout_server: ModelServerHandle
) -> None:
    function, group = batch_function
    rollout_server.set_faults(endpoint="fare-model-shadow", outage_until=4_000_000_000)
    row, _ = run_batch(function)
    assert (row[2], row[3], row[5]) == ([], [], [])
    assert row[1] == primary_predictions(row[4])
    assert (group.gauges["shadowFailures"](), group.gauges["shadowMisses"]()) == (1, 0)
    assert group.gauges["inferenceFailures"]() == 0


def test_a_scored_window_gets_its_variant_the_shadows_prediction_and_their_distance() -> None:
    inference = config()
    assert rollout_fields(inference, Scored(10.0, "current", 9.25)) == {
        "prediction_variant": "current",
        "shadow_prediction": 9.25,
        "disagreement": 0.75,
    }
    assert rollout_fields(inference, Scored(10.0, None, None)) == {
        "prediction_variant": None,
        "shadow_prediction": None,
        "disagreement": None,
    }
    plain = dataclasses.replace(
        inference, shadow=None, endpoint=dataclasses.replace(inference.endpoint, variant_header=None)
    )
    assert rollout_fields(plain, Scored(10.0, "current", 9.25)) == {}
