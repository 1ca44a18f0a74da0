"""Which endpoint answers are retried and why, and the full-jitter backoff between attempts."""

from __future__ import annotations

import dataclasses
import random

import pytest

from udfs.inference.retry import (
    INSTANCE_REJECTIONS,
    Backoff,
    Failure,
    classify_response,
    connection_failure,
    timeout_failure,
)

UNAVAILABLE = b'{"message": "The service is unavailable. Try your call again."}'
INTERNAL = b'{"message": "An internal failure occurred. Try your call again."}'
MODEL_ERROR = b'{"message": "instance 0 holds the value -999, which the model cannot score"}'
SIGNATURE = b'{"message": "The request signature we calculated does not match the signature you provided."}'


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_a_2xx_answer_is_no_failure(status: int) -> None:
    assert classify_response(status, None, b'{"predictions": [1.0]}') is None
    assert classify_response(status, "ModelError", b"") is None


@pytest.mark.parametrize(
    ("status", "error_type", "body", "failure"),
    [
        (429, None, b"", Failure("throttled (429 Too Many Requests)", True, 429)),
        (
            429,
            "ThrottlingException",
            b'{"message": "Rate exceeded"}',
            Failure("throttled (429 ThrottlingException)", True, 429),
        ),
        (
            400,
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
            b'{"message": "Rate exceeded"}',
            Failure("throttled (400 ThrottlingException)", True, 400),
        ),
        (400, "Throttling", b"", Failure("throttled (400 Throttling)", True, 400)),
        (
            500,
            "InternalFailure",
            INTERNAL,
            Failure(f"endpoint error 500 InternalFailure: {INTERNAL.decode()}", True, 500),
        ),
        (
            503,
            "ServiceUnavailable",
            UNAVAILABLE,
            Failure(f"endpoint error 503 ServiceUnavailable: {UNAVAILABLE.decode()}", True, 503),
        ),
        (503, "ServiceUnavailable", b"", Failure("endpoint error 503 ServiceUnavailable", True, 503)),
        (502, None, b"", Failure("endpoint error 502", True, 502)),
        (
            400,
            "ModelError",
            MODEL_ERROR,
            Failure(f"rejected 400 ModelError: {MODEL_ERROR.decode()}", False, 400, per_instance=True),
        ),
        (
            403,
            "InvalidSignatureException",
            SIGNATURE,
            Failure(f"rejected 403 InvalidSignatureException: {SIGNATURE.decode()}", False, 403),
        ),
        (403, "ForbiddenException:extra", b"  \n", Failure("rejected 403 ForbiddenException", False, 403)),
        (404, None, b"", Failure("rejected 404", False, 404)),
        (301, None, b"", Failure("rejected 301", False, 301)),
    ],
)
def test_failed_answers_are_classified_with_their_reason(
    status: int, error_type: str | None, body: bytes, failure: Failure
) -> None:
    assert classify_response(status, error_type, body) == failure


def test_the_body_in_a_reason_is_stripped_and_cut_to_300_characters() -> None:
    failure = classify_response(500, "InternalFailure", b"\n  " + b"x" * 400 + b"  \n")
    assert failure == Failure("endpoint error 500 InternalFailure: " + "x" * 300, True, 500)


def test_a_body_that_is_not_utf8_is_shown_with_replacement_characters() -> None:
    assert classify_response(400, "ModelError", b"bad \xff") == Failure(
        "rejected 400 ModelError: bad \ufffd", False, 400, per_instance=True
    )


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (502, Failure("endpoint error 502: Bad Gateway", True, 502)),
        (400, Failure("rejected 400: Bad Gateway", False, 400, per_instance=True)),
        (404, Failure("rejected 404: Bad Gateway", False, 404)),
    ],
)
def test_an_answer_without_an_error_type_reads_cleanly(status: int, failure: Failure) -> None:
    assert classify_response(status, None, b"Bad Gateway") == failure
    assert classify_response(status, "", b"Bad Gateway") == failure


@pytest.mark.parametrize(
    ("status", "error_type", "body", "failure"),
    [
        (400, None, b"invalid input:", Failure("rejected 400: invalid input:", False, 400, per_instance=True)),
        (
            422,
            "ValidationException",
            b"  field missing: \n",
            Failure("rejected 422 ValidationException: field missing:", False, 422, per_instance=True),
        ),
        (503, None, b"upstream:", Failure("endpoint error 503: upstream:", True, 503)),
        (500, "InternalFailure", b":", Failure("endpoint error 500 InternalFailure: :", True, 500)),
        (403, None, b"denied: ", Failure("rejected 403: denied:", False, 403)),
    ],
)
def test_a_body_ending_in_a_colon_keeps_it(status: int, error_type: str | None, body: bytes, failure: Failure) -> None:
    assert classify_response(status, error_type, body) == failure


def test_the_instance_rejections_are_exactly_400_413_422_and_424() -> None:
    assert frozenset({400, 413, 422, 424}) == INSTANCE_REJECTIONS


@pytest.mark.parametrize("status", [400, 413, 422, 424])
@pytest.mark.parametrize("error_type", [None, "ModelError", "ValidationException:extra"])
def test_a_rejection_of_the_instances_sent_is_per_instance(status: int, error_type: str | None) -> None:
    kind = f" {error_type.split(':')[0]}" if error_type else ""
    assert classify_response(status, error_type, b"no") == Failure(
        f"rejected {status}{kind}: no", False, status, per_instance=True
    )


@pytest.mark.parametrize(
    "status", [300, 301, 304, 401, 402, 403, 404, 405, 408, 409, 410, 411, 412, 414, 415, 421, 423, 451, 499]
)
def test_a_rejection_of_the_request_itself_is_not_per_instance(status: int) -> None:
    assert classify_response(status, None, b"") == Failure(f"rejected {status}", False, status, per_instance=False)


@pytest.mark.parametrize(
    ("status", "error_type", "failure"),
    [
        (429, None, Failure("throttled (429 Too Many Requests)", True, 429)),
        (400, "ThrottlingException", Failure("throttled (400 ThrottlingException)", True, 400)),
        (413, "Throttling", Failure("throttled (413 Throttling)", True, 413)),
        (500, None, Failure("endpoint error 500", True, 500)),
        (503, "ServiceUnavailable", Failure("endpoint error 503 ServiceUnavailable", True, 503)),
        (504, None, Failure("endpoint error 504", True, 504)),
    ],
)
def test_a_retryable_answer_is_not_per_instance(status: int, error_type: str | None, failure: Failure) -> None:
    classified = classify_response(status, error_type, b"")
    assert classified == failure
    assert classified is not None
    assert classified.per_instance is False


def test_a_failure_is_not_per_instance_unless_told() -> None:
    assert Failure("x", False) == Failure("x", False, None, False)
    assert Failure("x", False).per_instance is False
    assert Failure("x", False, 400) != Failure("x", False, 400, per_instance=True)


def test_connection_and_timeout_failures_are_retryable_and_have_no_status() -> None:
    assert connection_failure(ConnectionRefusedError(111, "Connection refused")) == Failure(
        "connection error: ConnectionRefusedError: [Errno 111] Connection refused", True, None
    )
    assert connection_failure(ConnectionError("Server disconnected")) == Failure(
        "connection error: ConnectionError: Server disconnected", True, None
    )
    assert timeout_failure(2000) == Failure("no response within 2000 ms", True, None)
    assert not connection_failure(ConnectionError("x")).per_instance
    assert not timeout_failure(1).per_instance


def test_a_failure_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        timeout_failure(1).retryable = False  # type: ignore[misc]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(("initial_ms", "max_ms"), [(100, 2000), (1, 5), (250, 250), (10, 10_000)])
def test_every_delay_is_within_zero_and_the_capped_exponential(seed: int, initial_ms: int, max_ms: int) -> None:
    backoff = Backoff(initial_ms, max_ms, random.Random(seed))
    for attempt in range(16):
        ceiling_s = min(max_ms, initial_ms * 2**attempt) / 1000.0
        delay = backoff.delay_s(attempt)
        assert 0.0 <= delay <= ceiling_s, (attempt, delay, ceiling_s)


def test_delays_of_a_seeded_generator_are_exact() -> None:
    backoff = Backoff(100, 2000, random.Random(42))
    assert [backoff.delay_s(attempt) for attempt in range(8)] == [
        0.06394267984578837,
        0.005002151044533387,
        0.1100117273476477,
        0.1785685905190582,
        1.1783539426624197,
        1.3533989748458226,
        1.7843591354096908,
        0.1738776652588323,
    ]


def test_each_delay_is_the_generator_draw_times_the_ceiling() -> None:
    draws = random.Random(7)
    backoff = Backoff(50, 1000, random.Random(7))
    for attempt, ceiling_ms in enumerate([50, 100, 200, 400, 800, 1000, 1000, 1000]):
        assert backoff.delay_s(attempt) == draws.uniform(0, ceiling_ms) / 1000.0


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    ("draw", "delays"),
    [
        (0.0, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        (0.5, [0.05, 0.1, 0.2, 0.4, 0.8, 1.0]),
        (1.0, [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]),
    ],
)
def test_the_ceiling_doubles_per_attempt_up_to_the_maximum(draw: float, delays: list[float]) -> None:
    backoff = Backoff(100, 2000, _Fixed(draw))
    assert [backoff.delay_s(attempt) for attempt in (0, 1, 2, 3, 4, 5)] == delays
    assert backoff.delay_s(500) == delays[-1]
