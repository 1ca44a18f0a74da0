"""The inference stage against the local model server on loopback: batching, ordering, split on a rejection of
the instances, retries with backoff, timeouts, both API Gateway contracts and exact metrics."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp
import pytest
from botocore.credentials import ReadOnlyCredentials

from config import InferenceConfig
from deploy.local.model_server import Faults, ModelServerHandle
from deploy.local.stack import LOCAL_ACCOUNT, free_port
from tests.udfs.inference.support import (
    ENDPOINT_NAME,
    MODEL,
    RecordingTransport,
    Sent,
    endpoint_requests,
    inference_config,
    local_credentials,
    model_server,
)
from udfs.inference.codecs import csv_line
from udfs.inference.requests import CredentialsSource, HttpRequest
from udfs.inference.retry import Failure
from udfs.inference.stage import InferenceError, InferenceStage, Response, StageMetrics, aiohttp_transport

T = TypeVar("T")
# No test waits longer than this for anything; a hang fails the test instead of the suite.
DEADLINE_S = 10.0
UNAVAILABLE = '{"message": "The service is unavailable. Try your call again."}'
INTERNAL = '{"message": "An internal failure occurred. Try your call again."}'
SIGNATURE_MISMATCH = (
    '{"message": "The request signature we calculated does not match the signature you provided. '
    'Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}'
)
POISON = -999.0


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, DEADLINE_S))


def trips(count: int) -> list[list[float]]:
    """Distinct (trip_distance, duration_seconds) rows, so each prediction tells which instance it belongs to."""
    return [[round(0.5 + 0.37 * i, 2), 120.0 + 61.5 * i] for i in range(count)]


def sagemaker_config(**properties: str) -> InferenceConfig:
    return inference_config(
        {
            "endpoint.name": ENDPOINT_NAME,
            "timeout.ms": "5000",
            "backoff.initial.ms": "1",
            "backoff.max.ms": "4",
            **properties,
        }
    )


def counts(metrics: StageMetrics) -> dict[str, int]:
    names = ("requests", "instances", "retries", "failures", "dead_lettered", "in_flight")
    return {name: getattr(metrics, name) for name in names}


def metrics_of(
    requests: int = 0, instances: int = 0, retries: int = 0, failures: int = 0, dead_lettered: int = 0
) -> dict[str, int]:
    return {
        "requests": requests,
        "instances": instances,
        "retries": retries,
        "failures": failures,
        "dead_lettered": dead_lettered,
        "in_flight": 0,
    }


def instances_of(sent: Sent, rows: Sequence[Sequence[float]]) -> list[int]:
    """The indices in ``rows`` of the instances a CSV request carried, in the order sent."""
    index = {tuple(row): i for i, row in enumerate(rows)}
    assert sent.request.body is not None
    return [index[tuple(float(v) for v in line.split(","))] for line in sent.request.body.decode().splitlines()]


@asynccontextmanager
async def stage_for(
    config: InferenceConfig,
    base: str | None,
    *,
    credentials: CredentialsSource = local_credentials,
    after: Callable[[list[Sent]], None] | None = None,
    metrics: StageMetrics | None = None,
    seed: int = 0,
) -> AsyncIterator[tuple[InferenceStage, RecordingTransport]]:
    """A stage over aiohttp (a session of the running loop) whose exchanges are recorded."""
    async with aiohttp.ClientSession() as session:
        transport = RecordingTransport(aiohttp_transport(session), after)
        requests = endpoint_requests(config, base, credentials)
        yield InferenceStage(config, requests, transport, metrics, random.Random(seed)), transport


async def outcomes(stage: InferenceStage, rows: Sequence[Sequence[float]]) -> list[float | InferenceError]:
    """Each instance's prediction or error, all submitted at once, in submission order."""
    results = await asyncio.gather(*(stage.predict(row) for row in rows), return_exceptions=True)
    settled: list[float | InferenceError] = []
    for result in results:
        if not isinstance(result, float | InferenceError):
            raise result
        settled.append(result)
    return settled


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    """Poll ``condition`` (run off the loop: it may call into the server's thread) until true or the deadline."""
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


@pytest.fixture
def server() -> Iterator[ModelServerHandle]:
    with model_server(auth="iam") as handle:
        yield handle


# -- batching and ordering -----------------------------------------------------------------------------------------


def test_25_concurrent_instances_go_in_3_batches_and_each_gets_its_own_prediction(server: ModelServerHandle) -> None:
    rows = trips(25)
    latencies: list[float] = []

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "10", "batch.max.delay.ms": "20"})
        async with stage_for(config, server.url, metrics=StageMetrics(latencies.append)) as (stage, transport):
            assert await outcomes(stage, rows) == MODEL.predict(rows)
            assert [instances_of(sent, rows) for sent in transport.sent] == [
                list(range(0, 10)),
                list(range(10, 20)),
                list(range(20, 25)),
            ]
            assert [sent.outcome for sent in transport.sent] == [200, 200, 200]
            assert transport.sent[0].request.body == "\n".join(csv_line(row) for row in rows[:10]).encode()
            assert counts(stage.metrics) == metrics_of(requests=3, instances=25)

    run(scenario())
    stats = server.stats()
    assert (stats.requests, stats.instances, stats.by_status) == (3, 25, {200: 3})
    assert len(latencies) == 3
    assert all(latency > 0 for latency in latencies)


def test_a_full_batch_is_sent_without_waiting_for_the_delay(server: ModelServerHandle) -> None:
    rows = trips(10)

    async def scenario() -> None:
        # A delay far beyond the test's deadline: only a batch sent when full can finish in time.
        config = sagemaker_config(**{"batch.size": "10", "batch.max.delay.ms": "600000"})
        async with stage_for(config, server.url) as (stage, transport):
            assert await outcomes(stage, rows) == MODEL.predict(rows)
            assert len(transport.sent) == 1

    run(scenario())
    assert (server.stats().requests, server.stats().instances) == (1, 10)


def test_a_partial_batch_is_flushed_after_the_max_delay(server: ModelServerHandle) -> None:
    rows = trips(5)

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "10", "batch.max.delay.ms": "100"})
        async with stage_for(config, server.url) as (stage, transport):
            loop = asyncio.get_running_loop()
            started = loop.time()
            first = [asyncio.ensure_future(stage.predict(row)) for row in rows[:3]]
            await asyncio.sleep(0)  # the three are waiting for company
            assert (transport.sent, stage.metrics.in_flight) == ([], 3)
            assert await asyncio.gather(*first) == MODEL.predict(rows[:3])
            assert len(transport.sent) == 1
            assert transport.sent[0].at - started >= 0.1 - 1e-6
            # The timer starts again with the next instance.
            restarted = loop.time()
            assert await outcomes(stage, rows[3:]) == MODEL.predict(rows[3:])
            assert [instances_of(sent, rows) for sent in transport.sent] == [[0, 1, 2], [3, 4]]
            assert transport.sent[1].at - restarted >= 0.1 - 1e-6
            assert counts(stage.metrics) == metrics_of(requests=2, instances=5)

    run(scenario())
    assert server.stats().by_status == {200: 2}


def test_batch_size_one_sends_each_instance_alone(server: ModelServerHandle) -> None:
    rows = trips(4)

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "1", "batch.max.delay.ms": "600000"})
        async with stage_for(config, server.url) as (stage, transport):
            assert await outcomes(stage, rows) == MODEL.predict(rows)
            assert [instances_of(sent, rows) for sent in transport.sent] == [[0], [1], [2], [3]]
            assert counts(stage.metrics) == metrics_of(requests=4, instances=4)

    run(scenario())


def test_json_content_type_to_sagemaker(server: ModelServerHandle) -> None:
    rows = trips(3)

    async def scenario() -> None:
        config = sagemaker_config(**{"content.type": "application/json", "batch.size": "3"})
        async with stage_for(config, server.url) as (stage, transport):
            assert await outcomes(stage, rows) == MODEL.predict(rows)
            assert transport.sent[0].request.body == json.dumps({"instances": rows}, separators=(",", ":")).encode()
            assert transport.sent[0].request.headers["Content-Type"] == "application/json"

    run(scenario())
    assert server.stats().instances == 3


# -- a rejected batch is split -------------------------------------------------------------------------------------


def test_a_poison_instance_fails_alone_and_the_others_get_their_predictions() -> None:
    rows = trips(8)
    rows[5] = [POISON, 600.0]

    async def scenario(server: ModelServerHandle) -> None:
        config = sagemaker_config(**{"batch.size": "8", "batch.max.delay.ms": "20"})
        async with stage_for(config, server.url) as (stage, transport):
            results = await outcomes(stage, rows)
            for index, result in enumerate(results):
                if index != 5:
                    assert result == MODEL.predict([rows[index]])[0], index
            error = results[5]
            assert isinstance(error, InferenceError)
            reason = (
                'rejected 400 ModelError: {"message": "instance 0 holds the value -999, which the model cannot score"}'
            )
            assert error.failure == Failure(reason, False, 400, per_instance=True)
            assert error.attempts == 1
            assert str(error) == f"{reason} (status 400, 1 attempt)"
            # Halving: the 8, its halves, the halves of the rejected half, then the last two alone.
            assert [instances_of(sent, rows) for sent in transport.sent] == [
                [0, 1, 2, 3, 4, 5, 6, 7],
                [0, 1, 2, 3],
                [4, 5, 6, 7],
                [4, 5],
                [6, 7],
                [4],
                [5],
            ]
            assert [sent.outcome for sent in transport.sent] == [400, 200, 400, 400, 200, 200, 400]
            # ``requests`` counts every answered request; ``instances`` only those of the answers read.
            assert counts(stage.metrics) == metrics_of(requests=7, instances=7, failures=4, dead_lettered=1)

    with model_server(auth="iam", faults=Faults(poison_value="-999")) as server:
        run(scenario(server))
        stats = server.stats()
    assert (stats.requests, stats.instances, stats.by_status) == (7, 7, {200: 3, 400: 4})


def test_a_batch_rejected_for_its_signature_fails_whole_without_splitting(server: ModelServerHandle) -> None:
    rows = trips(4)

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "4"})
        wrong = lambda: ReadOnlyCredentials("testing", "wrong", "testing")  # noqa: E731
        async with stage_for(config, server.url, credentials=wrong) as (stage, transport):
            results = await outcomes(stage, rows)
            reason = f"rejected 403 InvalidSignatureException: {SIGNATURE_MISMATCH}"
            for result in results:
                assert isinstance(result, InferenceError)
                assert (result.failure, result.attempts) == (Failure(reason, False, 403, per_instance=False), 1)
                assert str(result) == f"{reason} (status 403, 1 attempt)"
            assert [instances_of(sent, rows) for sent in transport.sent] == [[0, 1, 2, 3]]
            assert counts(stage.metrics) == metrics_of(requests=1, failures=1, dead_lettered=4)

    run(scenario())
    stats = server.stats()
    assert (stats.requests, stats.instances, stats.by_status) == (1, 0, {403: 1})


def test_a_batch_rejected_for_its_api_key_fails_whole_without_splitting() -> None:
    rows = trips(4)

    async def scenario(server: ModelServerHandle) -> None:
        properties = {
            "type": "apigateway",
            "url": f"{server.url}/predict",
            "content.type": "application/json",
            "auth": "api_key",
            "api.key": "wrong-key",
            "batch.size": "4",
        }
        async with stage_for(inference_config(properties), None) as (stage, transport):
            results = await outcomes(stage, rows)
            expected = Failure('rejected 403 ForbiddenException: {"message": "Forbidden"}', False, 403)
            for result in results:
                assert isinstance(result, InferenceError)
                assert (result.failure, result.attempts) == (expected, 1)
            assert len(transport.sent) == 1
            assert counts(stage.metrics) == metrics_of(requests=1, failures=1, dead_lettered=4)

    with model_server(auth="api_key", api_key="k-123") as server:
        run(scenario(server))
        stats = server.stats()
    assert (stats.requests, stats.instances, stats.by_status) == (1, 0, {403: 1})


def test_a_batch_sent_to_a_missing_route_fails_whole_without_splitting(server: ModelServerHandle) -> None:
    rows = trips(4)

    async def scenario() -> None:
        properties = {
            "type": "apigateway",
            "url": f"{server.url}/no-such-route",
            "content.type": "application/json",
            "batch.size": "4",
        }
        async with stage_for(inference_config(properties), None) as (stage, transport):
            results = await outcomes(stage, rows)
            for result in results:
                assert isinstance(result, InferenceError)
                assert (result.failure, result.attempts) == (Failure("rejected 404: 404: Not Found", False, 404), 1)
                assert str(result) == "rejected 404: 404: Not Found (status 404, 1 attempt)"
            assert len(transport.sent) == 1
            assert counts(stage.metrics) == metrics_of(requests=1, failures=1, dead_lettered=4)

    run(scenario())
    assert server.stats().by_status == {404: 1}


def test_a_batch_for_an_unknown_endpoint_is_split_as_a_400_rejection(server: ModelServerHandle) -> None:
    # SageMaker answers an unknown endpoint name with 400 ValidationError, a status that may concern the instances.
    rows = trips(4)

    async def scenario() -> None:
        config = sagemaker_config(**{"endpoint.name": "no-such-model", "batch.size": "4"})
        async with stage_for(config, server.url) as (stage, transport):
            results = await outcomes(stage, rows)
            message = json.dumps({"message": f"Endpoint no-such-model of account {LOCAL_ACCOUNT} not found."})
            expected = Failure(f"rejected 400 ValidationError: {message}", False, 400, per_instance=True)
            for result in results:
                assert isinstance(result, InferenceError)
                assert (result.failure, result.attempts) == (expected, 1)
            sent = [instances_of(sent, rows) for sent in transport.sent]
            assert sent[:3] == [[0, 1, 2, 3], [0, 1], [2, 3]]
            # Which rejected half answers first decides which pair of singles goes first.
            assert sent[3:] in ([[0], [1], [2], [3]], [[2], [3], [0], [1]])
            assert counts(stage.metrics) == metrics_of(requests=7, failures=7, dead_lettered=4)

    run(scenario())
    stats = server.stats()
    assert (stats.requests, stats.instances, stats.by_status) == (7, 0, {400: 7})


def test_an_undecodable_answer_is_a_permanent_failure(server: ModelServerHandle) -> None:
    # A GET route answers {"prediction": x}; left at the default field "predictions" the answer cannot be read.
    row = [3.2, 840.0]

    async def scenario() -> None:
        config = inference_config(
            {
                "type": "apigateway",
                "url": f"{server.url}/liveinference",
                "method": "GET",
                "batch.size": "1",
                "auth": "iam",
            }
        )
        async with stage_for(config, None) as (stage, _):
            (error,) = await outcomes(stage, [row])
            text = json.dumps({"prediction": MODEL.predict([row])[0]})
            reason = f"undecodable response: response has no field 'predictions': {text!r}"
            assert isinstance(error, InferenceError)
            assert (error.failure, error.attempts) == (Failure(reason, False, 200, per_instance=True), 1)
            assert str(error) == f"{reason} (status 200, 1 attempt)"
            assert counts(stage.metrics) == metrics_of(requests=1, failures=1, dead_lettered=1)

    run(scenario())


def scripted_stage(
    config: InferenceConfig,
    answer: Callable[[list[list[float]]], Response],
    metrics: StageMetrics | None = None,
) -> tuple[InferenceStage, RecordingTransport]:
    """A stage whose transport answers each CSV request with ``answer(instances)`` at once, without a network (so
    the order of the requests is the order the stage hands them over)."""

    async def send(request: HttpRequest, timeout_s: float) -> Response:
        assert request.body is not None
        return answer([[float(v) for v in line.split(",")] for line in request.body.decode().splitlines()])

    transport = RecordingTransport(send)
    requests = endpoint_requests(config, "http://127.0.0.1:1", local_credentials)
    return InferenceStage(config, requests, transport, metrics, random.Random(0)), transport


def sent_by(transport: RecordingTransport, rows: Sequence[Sequence[float]]) -> list[list[int]]:
    return [instances_of(sent, rows) for sent in transport.sent]


def first_features(instances: list[list[float]]) -> Response:
    """A served answer: each instance's first feature is its prediction."""
    return 200, {}, json.dumps({"predictions": [row[0] for row in instances]}).encode()


@pytest.mark.parametrize(
    ("status", "headers", "body", "reason"),
    [
        (400, {"x-amzn-ErrorType": "ModelError"}, b'{"message": "bad"}', 'rejected 400 ModelError: {"message": "bad"}'),
        (413, {}, b"Request Entity Too Large", "rejected 413: Request Entity Too Large"),
        (422, {"X-Amzn-ErrorType": "ValidationException:x"}, b"no", "rejected 422 ValidationException: no"),
        (424, {"x-amzn-errortype": "ModelError"}, b"", "rejected 424 ModelError"),
    ],
    ids=["400", "413", "422", "424"],
)
def test_every_instance_rejection_splits_the_batch_down_to_the_poison(
    status: int, headers: dict[str, str], body: bytes, reason: str
) -> None:
    rows = trips(4)
    rows[2] = [POISON, 600.0]

    def answer(instances: list[list[float]]) -> Response:
        return (status, headers, body) if [POISON, 600.0] in instances else first_features(instances)

    async def scenario() -> None:
        stage, transport = scripted_stage(sagemaker_config(**{"batch.size": "4", "max.attempts": "3"}), answer)
        results = await outcomes(stage, rows)
        assert results[:2] + results[3:] == [rows[0][0], rows[1][0], rows[3][0]]
        error = results[2]
        assert isinstance(error, InferenceError)
        assert (error.failure, error.attempts) == (Failure(reason, False, status, per_instance=True), 1)
        assert sent_by(transport, rows) == [[0, 1, 2, 3], [0, 1], [2, 3], [2], [3]]
        assert counts(stage.metrics) == metrics_of(requests=5, instances=3, failures=3, dead_lettered=1)

    run(scenario())


@pytest.mark.parametrize(
    ("status", "headers", "body", "reason"),
    [
        (
            401,
            {"x-amzn-ErrorType": "UnrecognizedClientException"},
            b'{"message": "The security token included in the request is invalid."}',
            'rejected 401 UnrecognizedClientException: {"message": "The security token included in the request is '
            'invalid."}',
        ),
        (403, {"x-amzn-ErrorType": "AccessDeniedException"}, b"denied", "rejected 403 AccessDeniedException: denied"),
        (404, {}, b"Not Found", "rejected 404: Not Found"),
        (405, {}, b"", "rejected 405"),
        (301, {}, b"", "rejected 301"),
    ],
    ids=["401", "403", "404", "405", "301"],
)
def test_a_rejection_of_the_request_itself_fails_the_whole_batch_in_one_request(
    status: int, headers: dict[str, str], body: bytes, reason: str
) -> None:
    rows = trips(4)
    rows[2] = [POISON, 600.0]

    def answer(instances: list[list[float]]) -> Response:
        return (status, headers, body) if [POISON, 600.0] in instances else first_features(instances)

    async def scenario() -> None:
        stage, transport = scripted_stage(sagemaker_config(**{"batch.size": "4", "max.attempts": "3"}), answer)
        results = await outcomes(stage, rows)
        for result in results:
            assert isinstance(result, InferenceError)
            assert (result.failure, result.attempts) == (Failure(reason, False, status, per_instance=False), 1)
        assert sent_by(transport, rows) == [[0, 1, 2, 3]]
        assert counts(stage.metrics) == metrics_of(requests=1, failures=1, dead_lettered=4)

    run(scenario())


def test_an_undecodable_answer_to_a_batch_splits_it_down_to_the_instance_at_fault() -> None:
    rows = trips(4)
    rows[1] = [POISON, 600.0]

    def answer(instances: list[list[float]]) -> Response:
        return (200, {}, b"{oops") if [POISON, 600.0] in instances else first_features(instances)

    async def scenario() -> None:
        stage, transport = scripted_stage(sagemaker_config(**{"batch.size": "4"}), answer)
        results = await outcomes(stage, rows)
        assert [results[0], *results[2:]] == [rows[0][0], rows[2][0], rows[3][0]]
        error = results[1]
        reason = "undecodable response: response is not JSON: '{oops'"
        assert isinstance(error, InferenceError)
        assert (error.failure, error.attempts) == (Failure(reason, False, 200, per_instance=True), 1)
        assert str(error) == f"{reason} (status 200, 1 attempt)"
        assert sent_by(transport, rows) == [[0, 1, 2, 3], [0, 1], [2, 3], [0], [1]]
        assert counts(stage.metrics) == metrics_of(requests=5, instances=3, failures=3, dead_lettered=1)

    run(scenario())


def test_answers_that_never_decode_split_the_batch_down_to_every_instance() -> None:
    rows = trips(4)

    async def scenario() -> None:
        none: Response = (200, {}, b'{"predictions": []}')
        stage, transport = scripted_stage(sagemaker_config(**{"batch.size": "4"}), lambda _: none)
        results = await outcomes(stage, rows)
        expected = Failure("undecodable response: expected 1 predictions, got 0", False, 200, per_instance=True)
        for result in results:
            assert isinstance(result, InferenceError)
            assert (result.failure, result.attempts) == (expected, 1)
        assert sent_by(transport, rows) == [[0, 1, 2, 3], [0, 1], [2, 3], [0], [1], [2], [3]]
        assert counts(stage.metrics) == metrics_of(requests=7, failures=7, dead_lettered=4)

    run(scenario())


def test_an_internal_error_in_a_half_counts_one_failure_for_that_half() -> None:
    rows = trips(4)

    def answer(instances: list[list[float]]) -> Response:
        if len(instances) == 4:
            return 400, {"x-amzn-ErrorType": "ModelError"}, b"no"
        if instances == rows[2:]:
            raise RuntimeError("half broken")
        return first_features(instances)

    async def scenario() -> None:
        stage, transport = scripted_stage(sagemaker_config(**{"batch.size": "4"}), answer)
        results = await outcomes(stage, rows)
        assert results[:2] == [rows[0][0], rows[1][0]]
        for result in results[2:]:
            assert isinstance(result, InferenceError)
            assert (result.failure, result.attempts) == (Failure("internal error: RuntimeError: half broken", False), 1)
        assert sent_by(transport, rows) == [[0, 1, 2, 3], [0, 1], [2, 3]]
        assert counts(stage.metrics) == metrics_of(requests=2, instances=2, failures=2, dead_lettered=2)

    run(scenario())


# -- retries -------------------------------------------------------------------------------------------------------


def test_throttling_cleared_from_another_task_is_retried_until_served(server: ModelServerHandle) -> None:
    rows = trips(3)
    server.set_faults(throttle_rate=1.0)

    async def clear_once_throttled() -> None:
        await until(lambda: server.stats().requests >= 2, "two throttled requests")
        await asyncio.to_thread(server.set_faults)

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "3", "max.attempts": "100000"})
        async with stage_for(config, server.url) as (stage, transport):
            scored, _ = await asyncio.gather(outcomes(stage, rows), clear_once_throttled())
            assert scored == MODEL.predict(rows)
            throttled = len(transport.sent) - 1
            assert throttled >= 2
            assert [sent.outcome for sent in transport.sent] == [429] * throttled + [200]
            assert counts(stage.metrics) == metrics_of(
                requests=throttled + 1, instances=3, retries=throttled, failures=throttled
            )
            stats = server.stats()
            assert (stats.requests, stats.instances, stats.by_status) == (throttled + 1, 3, {429: throttled, 200: 1})

    run(scenario())


def test_throttled_twice_then_served_waits_the_jittered_backoff(server: ModelServerHandle) -> None:
    rows = trips(4)
    server.set_faults(throttle_rate=1.0)

    def clear_after_two(sent: list[Sent]) -> None:
        if len(sent) == 2:
            server.set_faults()

    async def scenario() -> None:
        config = sagemaker_config(
            **{"batch.size": "4", "max.attempts": "3", "backoff.initial.ms": "20", "backoff.max.ms": "30"}
        )
        async with stage_for(config, server.url, after=clear_after_two, seed=11) as (stage, transport):
            assert await outcomes(stage, rows) == MODEL.predict(rows)
            assert [sent.outcome for sent in transport.sent] == [429, 429, 200]
            draws = random.Random(11)
            first, second = draws.uniform(0, 20) / 1000, draws.uniform(0, 30) / 1000
            assert transport.sent[1].at - transport.sent[0].at >= first
            assert transport.sent[2].at - transport.sent[1].at >= second
            assert counts(stage.metrics) == metrics_of(requests=3, instances=4, retries=2, failures=2)

    run(scenario())
    assert server.stats().by_status == {429: 2, 200: 1}


def test_throttling_on_every_attempt_exhausts_them() -> None:
    async def scenario(server: ModelServerHandle) -> None:
        config = sagemaker_config(**{"batch.size": "1", "max.attempts": "3"})
        async with stage_for(config, server.url) as (stage, transport):
            (error,) = await outcomes(stage, [[3.2, 840.0]])
            assert isinstance(error, InferenceError)
            reason = "attempts exhausted, last: throttled (429 ThrottlingException)"
            assert (error.failure, error.attempts) == (Failure(reason, True, 429), 3)
            assert str(error) == f"{reason} (status 429, 3 attempts)"
            assert stage.metrics.failures == 3
            assert counts(stage.metrics) == metrics_of(requests=3, retries=2, failures=3, dead_lettered=1)
            assert [sent.outcome for sent in transport.sent] == [429, 429, 429]

    with model_server(auth="iam") as server:
        server.set_faults(throttle_rate=1.0)
        run(scenario(server))
        stats = server.stats()
    assert (stats.requests, stats.instances, stats.by_status) == (3, 0, {429: 3})


@pytest.mark.parametrize(
    ("faults", "status", "reason"),
    [
        ({"error_rate": 1.0, "error_status": 503}, 503, f"endpoint error 503 ServiceUnavailable: {UNAVAILABLE}"),
        ({"error_rate": 1.0, "error_status": 500}, 500, f"endpoint error 500 InternalFailure: {INTERNAL}"),
        ({"outage_until": time.time() + 3600}, 503, f"endpoint error 503 ServiceUnavailable: {UNAVAILABLE}"),
    ],
    ids=["503", "500", "outage"],
)
def test_a_retryable_failure_fails_the_whole_batch_without_splitting(
    server: ModelServerHandle, faults: dict[str, Any], status: int, reason: str
) -> None:
    rows = trips(4)
    server.set_faults(**faults)

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "4", "max.attempts": "2"})
        async with stage_for(config, server.url) as (stage, transport):
            results = await outcomes(stage, rows)
            expected = Failure(f"attempts exhausted, last: {reason}", True, status)
            for result in results:
                assert isinstance(result, InferenceError)
                assert (result.failure, result.attempts) == (expected, 2)
                assert str(result) == f"attempts exhausted, last: {reason} (status {status}, 2 attempts)"
            assert [instances_of(sent, rows) for sent in transport.sent] == [[0, 1, 2, 3], [0, 1, 2, 3]]
            assert counts(stage.metrics) == metrics_of(requests=2, retries=1, failures=2, dead_lettered=4)

    run(scenario())
    assert server.stats().by_status == {status: 2}


@pytest.mark.parametrize(
    "faults", [{"spike_rate": 1.0, "spike_ms": 400.0}, {"latency_ms": 400.0}], ids=["spike", "latency"]
)
def test_no_answer_within_the_timeout_is_a_retryable_timeout_failure(
    server: ModelServerHandle, faults: dict[str, Any]
) -> None:
    server.set_faults(**faults)

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "1", "max.attempts": "2", "timeout.ms": "100"})
        async with stage_for(config, server.url) as (stage, transport):
            (error,) = await outcomes(stage, [[3.2, 840.0]])
            assert isinstance(error, InferenceError)
            reason = "attempts exhausted, last: no response within 100 ms"
            assert (error.failure, error.attempts) == (Failure(reason, True, None), 2)
            assert str(error) == f"{reason} (2 attempts)"
            assert len(transport.sent) == 2
            assert counts(stage.metrics) == metrics_of(retries=1, failures=2, dead_lettered=1)

    run(scenario())


def test_a_timed_out_attempt_is_retried(server: ModelServerHandle) -> None:
    row = [3.2, 840.0]
    server.set_faults(spike_rate=1.0, spike_ms=400.0)

    def clear_after_first(sent: list[Sent]) -> None:
        if len(sent) == 1:
            server.set_faults()

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "1", "max.attempts": "2", "timeout.ms": "150"})
        async with stage_for(config, server.url, after=clear_after_first) as (stage, transport):
            assert await outcomes(stage, [row]) == MODEL.predict([row])
            assert len(transport.sent) == 2
            assert transport.sent[1].outcome == 200
            assert counts(stage.metrics) == metrics_of(requests=1, instances=1, retries=1, failures=1)

    run(scenario())


def test_a_refused_connection_is_a_retryable_connection_failure() -> None:
    port = free_port()

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "2", "max.attempts": "2"})
        async with stage_for(config, f"http://127.0.0.1:{port}") as (stage, _):
            results = await outcomes(stage, trips(2))
            reason = (
                "attempts exhausted, last: connection error: ConnectionError: Cannot connect to host "
                f"127.0.0.1:{port} ssl:default [Connect call failed ('127.0.0.1', {port})]"
            )
            for result in results:
                assert isinstance(result, InferenceError)
                assert (result.failure, result.attempts) == (Failure(reason, True, None), 2)
            assert counts(stage.metrics) == metrics_of(retries=1, failures=2, dead_lettered=2)

    run(scenario())


def test_an_unexpected_transport_error_fails_the_batch_once_without_retry_or_split() -> None:
    calls: list[HttpRequest] = []

    async def broken(request: HttpRequest, timeout_s: float) -> Response:
        calls.append(request)
        raise ValueError("boom")

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "3", "max.attempts": "4"})
        requests = endpoint_requests(config, "http://127.0.0.1:1", local_credentials)
        stage = InferenceStage(config, requests, broken, rng=random.Random(0))
        results = await outcomes(stage, trips(3))
        for result in results:
            assert isinstance(result, InferenceError)
            assert (result.failure, result.attempts) == (Failure("internal error: ValueError: boom", False), 1)
            assert str(result) == "internal error: ValueError: boom (1 attempt)"
        assert len(calls) == 1
        assert counts(stage.metrics) == metrics_of(failures=1, dead_lettered=3)

    run(scenario())


# -- metrics -------------------------------------------------------------------------------------------------------


def test_request_done_counts_a_request_and_reports_its_latency_but_no_instances() -> None:
    latencies: list[float] = []
    metrics = StageMetrics(latencies.append)
    metrics.request_done(12.5)
    metrics.request_done(0.25)
    assert counts(metrics) == metrics_of(requests=2)
    assert latencies == [12.5, 0.25]
    silent = StageMetrics()
    silent.request_done(3.0)
    assert counts(silent) == metrics_of(requests=1)


def test_a_rejected_answer_reports_its_latency_like_a_served_one() -> None:
    rows = trips(2)
    latencies: list[float] = []

    def answer(instances: list[list[float]]) -> Response:
        return (400, {}, b"no") if len(instances) == 2 else first_features(instances)

    async def scenario() -> None:
        config = sagemaker_config(**{"batch.size": "2"})
        stage, transport = scripted_stage(config, answer, StageMetrics(latencies.append))
        assert await outcomes(stage, rows) == [rows[0][0], rows[1][0]]
        assert [sent.outcome for sent in transport.sent] == [400, 200, 200]
        assert counts(stage.metrics) == metrics_of(requests=3, instances=2, failures=1)

    run(scenario())
    assert len(latencies) == 3
    assert all(latency >= 0 for latency in latencies)


# -- API Gateway ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "server_options"),
    [("none", {}), ("api_key", {"auth": "api_key", "api_key": "k-123"}), ("iam", {"auth": "iam"})],
    ids=["none", "api_key", "iam"],
)
def test_get_scores_one_instance_per_query(auth: str, server_options: dict[str, Any]) -> None:
    rows = trips(3)

    async def scenario(server: ModelServerHandle) -> None:
        properties = {
            "type": "apigateway",
            "url": f"{server.url}/liveinference",
            "method": "GET",
            "batch.size": "1",
            "auth": auth,
            "json.response.field": "prediction",
        }
        if auth == "api_key":
            properties["api.key"] = "k-123"
        async with stage_for(inference_config(properties), None) as (stage, transport):
            assert await outcomes(stage, rows) == MODEL.predict(rows)
            assert [(sent.request.method, sent.request.url, sent.request.body) for sent in transport.sent] == [
                ("GET", f"{server.url}/liveinference?features={csv_line(row).replace(',', '%2C')}", None)
                for row in rows
            ]
            assert counts(stage.metrics) == metrics_of(requests=3, instances=3)

    with model_server(**server_options) as server:
        run(scenario(server))
        stats = server.stats()
    assert (stats.requests, stats.instances, stats.by_status) == (3, 3, {200: 3})


def test_json_instances_through_predict() -> None:
    rows = trips(5)

    async def scenario(server: ModelServerHandle) -> None:
        properties = {
            "type": "apigateway",
            "url": f"{server.url}/predict",
            "content.type": "application/json",
            "auth": "api_key",
            "api.key": "k-123",
            "batch.size": "5",
        }
        async with stage_for(inference_config(properties), None) as (stage, transport):
            assert await outcomes(stage, rows) == MODEL.predict(rows)
            (sent,) = transport.sent
            assert sent.request.url == f"{server.url}/predict"
            assert sent.request.body == json.dumps({"instances": rows}, separators=(",", ":")).encode()
            assert sent.request.headers == {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "x-api-key": "k-123",
            }
            assert counts(stage.metrics) == metrics_of(requests=1, instances=5)

    with model_server(auth="api_key", api_key="k-123") as server:
        run(scenario(server))
        stats = server.stats()
    assert (stats.requests, stats.instances, stats.by_status) == (1, 5, {200: 1})
