"""Record mode's batch path: the request body Java builds, the batch scorer (one request per batch,
split on a rejection of its instances) and the async function's answer for a batch."""

from __future__ import annotations

import asyncio
import json
import math
import random
import struct
from collections.abc import Callable

import pytest
from pyflink.common import Row

from config import InferenceConfig
from connectors.jvm import project_class
from tests.flink_local import local_environment
from tests.udfs.inference.support import ENDPOINT_NAME, RecordingTransport, endpoint_requests, inference_config
from tests.udfs.inference.support import local_credentials as credentials
from udfs.inference.codecs import Codec
from udfs.inference.flink import BatchScoringFunction
from udfs.inference.requests import HttpRequest
from udfs.inference.retry import Failure
from udfs.inference.stage import BatchOutcome, BatchRequests, BatchScorer, InferenceError, Response, StageMetrics

DEADLINE_S = 10.0
RECORDS = b"records as the batcher wrote them"


def config(**properties: str) -> InferenceConfig:
    return inference_config({"endpoint.name": ENDPOINT_NAME, **properties})


def csv_instances(request: HttpRequest) -> list[list[float]]:
    assert request.body is not None
    return [[float(v) for v in line.split(",")] for line in request.body.decode().split("\n")]


def scorer(
    settings: InferenceConfig, answer: Callable[[list[list[float]]], Response], metrics: StageMetrics
) -> tuple[BatchScorer, RecordingTransport]:
    async def send(request: HttpRequest, timeout_s: float) -> Response:
        return answer(csv_instances(request))

    transport = RecordingTransport(send)
    requests = endpoint_requests(settings, "http://127.0.0.1:1", credentials)
    batch_requests = BatchRequests(settings, requests, transport, metrics, random.Random(0))
    return BatchScorer(settings, batch_requests), transport


def first_features(instances: list[list[float]]) -> Response:
    answer = json.dumps({"predictions": [row[0] for row in instances]}).encode()
    return 200, {"X-Amzn-Invoked-Production-Variant": "a"}, answer


def poison_rejected(instances: list[list[float]]) -> Response:
    if any(row[0] < 0 for row in instances):
        return 400, {"x-amzn-ErrorType": "ModelError"}, b"bad instance"
    return first_features(instances)


ROWS = [[1.5, 300.0], [-999.0, 1.0], [2.5, 60.0], [3.25, 90.0]]


def test_a_served_batch_is_one_request_with_one_prediction_per_record() -> None:
    metrics = StageMetrics()
    batch, transport = scorer(config(), first_features, metrics)
    body = Codec("text/csv").encode([ROWS[0], ROWS[2]])
    outcome = asyncio.run(asyncio.wait_for(batch.score(body, 2), DEADLINE_S))
    assert outcome == BatchOutcome([1.5, 2.5], variants=["a", "a"])  # the variant the answer names
    assert [s.request.body for s in transport.sent] == [b"1.5,300.0\n2.5,60.0"]
    assert (metrics.requests, metrics.instances, metrics.failures, metrics.mean_batch_size()) == (1, 2, 0, 2.0)


def test_a_rejected_batch_is_split_until_the_poison_fails_alone() -> None:
    metrics = StageMetrics()
    batch, transport = scorer(config(), poison_rejected, metrics)
    outcome = asyncio.run(asyncio.wait_for(batch.score(Codec("text/csv").encode(ROWS), 4), DEADLINE_S))
    assert outcome.predictions[0] == 1.5 and outcome.predictions[2:] == [2.5, 3.25]
    assert math.isnan(outcome.predictions[1])
    assert outcome.errors is not None
    assert [error is None for error in outcome.errors] == [True, False, True, True]
    assert str(outcome.errors[1]) == "rejected 400 ModelError: bad instance (status 400, 1 attempt)"
    sent = [csv_instances(s.request) for s in transport.sent]
    assert sent == [ROWS, ROWS[:2], ROWS[2:], ROWS[:1], ROWS[1:2]]
    assert (metrics.requests, metrics.instances, metrics.failures) == (5, 3, 3)


def test_json_halves_are_the_bodies_the_codec_builds_for_them() -> None:
    codec = Codec("application/json", "instances")
    first, second = codec.halves(codec.encode(ROWS[:3]), 3)
    assert (first, second) == (codec.encode(ROWS[:1]), codec.encode(ROWS[1:3]))
    csv = Codec("text/csv")
    assert csv.halves(csv.encode(ROWS), 4) == (csv.encode(ROWS[:2]), csv.encode(ROWS[2:]))


def function_for(settings: InferenceConfig, answer: Callable[[list[list[float]]], Response]) -> BatchScoringFunction:
    function = BatchScoringFunction(settings)
    metrics = StageMetrics()
    function._metrics = metrics
    function._scorer = scorer(settings, answer, metrics)[0]
    return function


def invoke(function: BatchScoringFunction, batch: Row) -> list[Row]:
    return asyncio.run(asyncio.wait_for(function.async_invoke(batch), DEADLINE_S))


def test_the_function_answers_a_batch_with_its_records_predictions_and_failures() -> None:
    function = function_for(config(), poison_rejected)
    [row] = invoke(function, Row(Codec("text/csv").encode(ROWS), 4, RECORDS))
    assert row[0] == RECORDS
    assert [row[1][i] for i in (0, 2, 3)] == [1.5, 2.5, 3.25] and math.isnan(row[1][1])
    assert (row[2], row[3]) == ([-1, 0, -1, -1], ["rejected 400 ModelError: bad instance (status 400, 1 attempt)"])
    assert function._metrics is not None and function._metrics.dead_lettered == 1


def test_a_fully_scored_batch_has_no_failure_entries() -> None:
    [row] = invoke(function_for(config(), first_features), Row(b"1.5,300.0", 1, RECORDS))
    assert list(row) == [RECORDS, [1.5], [], [], ["a"], []]


def test_a_batch_the_stage_gives_up_on_fails_every_record_with_one_reason() -> None:
    def unavailable(instances: list[list[float]]) -> Response:
        return 503, {}, b""

    settings = config(**{"max.attempts": "2", "backoff.initial.ms": "1", "backoff.max.ms": "1"})
    [row] = invoke(function_for(settings, unavailable), Row(b"1.5,300.0\n2.5,60.0", 2, RECORDS))
    assert (row[0], row[2]) == (RECORDS, [0, 0])
    assert row[3] == ["attempts exhausted, last: endpoint error 503 (status 503, 2 attempts)"]
    assert all(math.isnan(p) for p in row[1])


def test_an_error_outside_the_requests_fails_the_batch_as_cannot_score() -> None:
    class Broken(BatchScorer):
        async def score(self, body: bytes, count: int) -> BatchOutcome:
            raise RuntimeError("broken")

    function = function_for(config(), first_features)
    function._scorer = Broken(config(), function._scorer._requests)  # type: ignore[union-attr]
    [row] = invoke(function, Row(b"1.5,300.0\n2.5,60.0", 2, RECORDS))
    assert (row[0], row[2], row[3]) == (RECORDS, [0, 0], ["cannot score: RuntimeError: broken"])
    assert function._metrics is not None and function._metrics.dead_lettered == 2


def test_the_timeout_answer_dead_letters_every_record() -> None:
    function = BatchScoringFunction(config())
    assert list(function.timeout(Row(b"x", 2, RECORDS))[0])[2:] == [[0, 0], ["inference stage timed out"], [], []]


def random_features(rng: random.Random) -> list[float]:
    """Doubles of every kind: short decimals, any bit pattern, powers of two, tiny and huge ones."""
    kinds: list[Callable[[], float]] = [
        lambda: round(rng.uniform(-1000, 1000), rng.randint(0, 6)),
        lambda: struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0],
        lambda: 2.0 ** rng.randint(-1074, 1023),
        lambda: rng.random() * 10.0 ** rng.randint(-30, 30),
        lambda: float(rng.randint(-(10**18), 10**18)),
    ]
    return [rng.choice(kinds)() for _ in range(3)]


@pytest.mark.parametrize("content_type", ["text/csv", "application/json"])
def test_java_builds_the_body_byte_for_byte_as_the_codec(content_type: str) -> None:
    local_environment(connector_jar=True)
    from pyflink.java_gateway import get_gateway

    rng = random.Random(13)
    codec = Codec(content_type, "instances")
    body = project_class("inference.RequestBody")(content_type, "instances")
    gateway = get_gateway()
    for _ in range(100):
        instances = [random_features(rng) for _ in range(50)]
        for features in instances:
            array = gateway.new_array(gateway.jvm.double, len(features))
            for index, value in enumerate(features):
                array[index] = value
            body.add(array)
        assert bytes(body.finish()) == codec.encode(instances)


def test_inference_errors_keep_their_failure() -> None:
    error = InferenceError(Failure("rejected 400", False, 400, per_instance=True), 1)
    assert BatchOutcome.failed(2, error).errors == [error, error]
