"""Which endpoint failures are worth another attempt, and how long to wait before it."""

from __future__ import annotations

import random
from dataclasses import dataclass

# Rejections that concern the instances sent: splitting the batch finds the one at fault.
# Others (401, 403, 404, ...) concern the request itself and would fail every half alike.
INSTANCE_REJECTIONS = frozenset({400, 413, 422, 424})


@dataclass(frozen=True)
class Failure:
    """Why a request failed; ``retryable`` failures are tried again, the others dead-lettered.

    ``per_instance`` failures may concern only some instances of a batch.
    """

    reason: str
    retryable: bool
    status: int | None = None
    per_instance: bool = False


def classify_response(status: int, error_type: str | None, body: bytes) -> Failure | None:
    """None for success; else the failure a response stands for."""
    if 200 <= status < 300:
        return None
    detail = body.decode("utf-8", errors="replace").strip()[:300]
    kind = (error_type or "").split(":")[0]
    if status == 429 or "Throttling" in kind:
        return Failure(f"throttled ({status} {kind or 'Too Many Requests'})", True, status)
    if status >= 500:
        return Failure(_describe(f"endpoint error {status}", kind, detail), True, status)
    return Failure(_describe(f"rejected {status}", kind, detail), False, status, status in INSTANCE_REJECTIONS)


def _describe(head: str, kind: str, detail: str) -> str:
    text = f"{head} {kind}" if kind else head
    return f"{text}: {detail}" if detail else text


def connection_failure(error: BaseException) -> Failure:
    return Failure(f"connection error: {type(error).__name__}: {error}", True)


def timeout_failure(timeout_ms: int) -> Failure:
    return Failure(f"no response within {timeout_ms} ms", True)


@dataclass
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(max, initial * 2**n))."""

    initial_ms: int
    max_ms: int
    rng: random.Random

    def delay_s(self, attempt: int) -> float:
        ceiling = min(self.max_ms, self.initial_ms * 2**attempt)
        return self.rng.uniform(0, ceiling) / 1000.0
