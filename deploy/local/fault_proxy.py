"""A fault-injecting reverse proxy in front of a local AWS emulator (moto server or kinesis-mock).

Neither emulator throttles, expires iterators or fails single records, so a job pointed at one never meets the
errors Kinesis and Firehose send in production.  This proxy sits between the job and the emulator on 127.0.0.1 and
forwards every request unchanged (method, path, query, body and headers but for hop-by-hop ones and ``Host``) and
every answer unchanged, except that it answers some calls itself, by operation, with the errors the real services
send.  The operation is read from the ``X-Amz-Target`` header of the JSON protocol (``Kinesis_20131202.GetRecords``,
``Firehose_20150804.PutRecordBatch``); requests without one (S3) are only forwarded.

Faults, each a share of an operation's calls drawn from a seeded generator, so that a run repeats:

- ``throttle``: the operation's throttling error, not forwarded;
- ``error500``: a server error, not forwarded;
- ``partial`` (``PutRecords``, ``PutRecordBatch``): a random non-empty subset of the records is failed in the answer
  and never written; the others are forwarded and answered with the emulator's results, in their original positions;
- ``expire`` (``GetRecords``): ``ExpiredIteratorException``, not forwarded.

The answers (status and ``__type``):

- throttle: 400 ``ProvisionedThroughputExceededException`` for Kinesis GetRecords, GetShardIterator, PutRecords and
  PutRecord; 400 ``LimitExceededException`` for the other Kinesis operations (ListShards, DescribeStreamSummary, ...);
  500 ``ServiceUnavailableException`` for Firehose;
- error500: 500 ``InternalFailure`` for Kinesis, 503 ``ServiceUnavailableException`` for Firehose;
- expire: 400 ``ExpiredIteratorException``.

Kinesis names ``LimitExceededException`` for the control operations and ``ProvisionedThroughputExceededException``
for the data operations (GetShardIterator included); Firehose has no throttling error of its own and documents
``ServiceUnavailableException`` with status 500 for exceeded throughput.  A record failed by ``partial`` carries
``ProvisionedThroughputExceededException`` (Kinesis) or ``ServiceUnavailableException`` (Firehose), the codes the
services use for a record refused for throughput.

Faults are set at start and replaced while it runs with ``POST /_faults`` (``GET /_faults`` reads them), for example
``{"GetRecords": {"throttle": 0.2, "expire": 0.05}, "PutRecords": {"throttle": 0.1, "partial": 0.1}}``; an
operation's shares add up to at most 1 and one draw per call picks at most one fault.  Counters per operation are at
``GET /_stats`` (``POST /_stats/reset`` zeroes them).  AWS calls are ``POST /`` and S3 bucket names cannot start with
``_``, so these routes meet no AWS call.

The proxy speaks the JSON protocol only: clients must not use CBOR (the AWS Java SDK needs ``aws.cborEnabled=false``,
as it does for the emulators anyway).  A partial answer's forwarded request has a new body and so an invalid SigV4
signature, which the emulators do not check.

Standalone: ``python -m deploy.local.fault_proxy --upstream http://127.0.0.1:5000 --faults '{"GetRecords":
{"throttle": 0.2}}'`` prints its URL and serves until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from deploy.local.stack import event_loop_thread, free_port, serve_until_signalled

T = TypeVar("T")

LOOPBACK = "127.0.0.1"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_HEADER = "X-Amz-Target"
FIREHOSE_PREFIX = "Firehose_"
# PutRecords takes up to 5 MB of data, which base64 makes 6.7 MB; aiohttp's default limit is 1 MB.
MAX_BODY_BYTES = 16 * 1024 * 1024
UPSTREAM_TIMEOUT_S = 60.0
SHUTDOWN_TIMEOUT_S = 2.0
LOOP_CALL_TIMEOUT_S = 30.0

# RFC 9110 section 7.6.1, plus the headers the proxy rewrites for its own connection.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# aiohttp adds these to a request that lacks them; a proxy must not.
_CLIENT_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")

# Kinesis data operations throttle per shard; its other operations answer LimitExceededException.
_KINESIS_SHARD_OPERATIONS = frozenset({"GetRecords", "GetShardIterator", "PutRecords", "PutRecord"})
_PARTIAL_OPERATIONS = frozenset({"PutRecords", "PutRecordBatch"})
_EXPIRE_OPERATIONS = frozenset({"GetRecords"})

_SHARD_RATE_EXCEEDED = "Rate exceeded for shard."
_RATE_EXCEEDED = "Rate exceeded."
_INTERNAL_FAILURE = "Internal service failure."
_ITERATOR_EXPIRED = "Iterator expired."
_SLOW_DOWN = "Slow down."
_UNAVAILABLE = "The service is unavailable. Try your call again."


# -- faults and counters ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperationFaults:
    """The shares (0..1) of one operation's calls that get each fault; together at most 1."""

    throttle: float = 0.0
    error500: float = 0.0
    partial: float = 0.0
    expire: float = 0.0

    def __post_init__(self) -> None:
        for name in FAULT_NAMES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        if self.total() > 1.0:
            raise ValueError(f"the shares add up to {self.total():g}, more than 1")

    def total(self) -> float:
        return self.throttle + self.error500 + self.partial + self.expire

    def to_json(self) -> dict[str, float]:
        return asdict(self)


FAULT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(OperationFaults))
FaultSpec = Mapping[str, OperationFaults | Mapping[str, float]]


def parse_faults(spec: object) -> dict[str, OperationFaults]:
    """Faults by operation name (``GetRecords``, not the ``X-Amz-Target``) from a mapping like ``POST /_faults``'s."""
    if not isinstance(spec, Mapping):
        raise ValueError("faults must be a JSON object of operations")
    faults: dict[str, OperationFaults] = {}
    for operation, shares in spec.items():
        if not isinstance(operation, str) or not operation or "." in operation:
            raise ValueError(f"an operation is a name such as GetRecords, got {operation!r}")
        faults[operation] = _operation_faults(operation, shares)
    return faults


def _operation_faults(operation: str, shares: object) -> OperationFaults:
    if isinstance(shares, OperationFaults):
        parsed = shares
    elif isinstance(shares, Mapping):
        unknown = sorted(str(name) for name in shares if name not in FAULT_NAMES)
        if unknown:
            raise ValueError(f"{operation}: unknown faults: {', '.join(unknown)} (known: {', '.join(FAULT_NAMES)})")
        try:
            parsed = OperationFaults(**shares)
        except ValueError as error:
            raise ValueError(f"{operation}: {error}") from None
    else:
        raise ValueError(f"{operation}: faults must be an object of shares, got {shares!r}")
    if parsed.partial > 0 and operation not in _PARTIAL_OPERATIONS:
        raise ValueError(f"{operation}: partial applies to {', '.join(sorted(_PARTIAL_OPERATIONS))} only")
    if parsed.expire > 0 and operation not in _EXPIRE_OPERATIONS:
        raise ValueError(f"{operation}: expire applies to {', '.join(sorted(_EXPIRE_OPERATIONS))} only")
    return parsed


@dataclass
class OperationStats:
    """One operation's calls: those sent to the emulator, each fault injected, and the records partial answers failed.

    A partial call counts under ``partial`` and, when some of its records went on, under ``forwarded`` too.
    """

    forwarded: int = 0
    throttle: int = 0
    error500: int = 0
    partial: int = 0
    expire: int = 0
    records_failed: int = 0

    def to_json(self) -> dict[str, int]:
        return asdict(self)


# -- answers ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorAnswer:
    """An error in the AWS JSON protocol form: a status and a body ``{"__type": ..., "message": ...}``."""

    status: int
    error_type: str
    message: str

    def response(self) -> web.Response:
        return _aws_json_response(
            {"__type": self.error_type, "message": self.message}, self.status, {"x-amzn-ErrorType": self.error_type}
        )


def throttling_error(target: str) -> ErrorAnswer:
    """The throttling error a call to ``target`` (``Kinesis_20131202.ListShards``) gets."""
    operation = _operation(target)
    if target.startswith(FIREHOSE_PREFIX):
        return ErrorAnswer(500, "ServiceUnavailableException", _SLOW_DOWN)
    if operation in _KINESIS_SHARD_OPERATIONS:
        return ErrorAnswer(400, "ProvisionedThroughputExceededException", _SHARD_RATE_EXCEEDED)
    return ErrorAnswer(400, "LimitExceededException", _RATE_EXCEEDED)


def server_error(target: str) -> ErrorAnswer:
    """The server error a call to ``target`` gets."""
    if target.startswith(FIREHOSE_PREFIX):
        return ErrorAnswer(503, "ServiceUnavailableException", _UNAVAILABLE)
    return ErrorAnswer(500, "InternalFailure", _INTERNAL_FAILURE)


EXPIRED_ITERATOR = ErrorAnswer(400, "ExpiredIteratorException", _ITERATOR_EXPIRED)


@dataclass(frozen=True)
class _BatchShape:
    """Where a batch put keeps its records and results, and how it marks a failed record."""

    results_key: str
    failed_count_key: str
    error_code: str
    error_message: str


_KINESIS_BATCH = _BatchShape(
    "Records", "FailedRecordCount", "ProvisionedThroughputExceededException", _SHARD_RATE_EXCEEDED
)
_FIREHOSE_BATCH = _BatchShape("RequestResponses", "FailedPutCount", "ServiceUnavailableException", _SLOW_DOWN)


def _batch_shape(target: str) -> _BatchShape:
    return _FIREHOSE_BATCH if target.startswith(FIREHOSE_PREFIX) else _KINESIS_BATCH


def _aws_json_response(document: object, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    all_headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
    return web.Response(body=_dump(document), status=status, headers=all_headers)


def _dump(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _operation(target: str) -> str:
    return target.rpartition(".")[2]


# -- the proxy -------------------------------------------------------------------------------------------------------


@dataclass
class _Upstream:
    """An answer read whole from the emulator."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def response(self, body: bytes | None = None) -> web.Response:
        headers = CIMultiDict((k, v) for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED)
        return web.Response(status=self.status, headers=headers, body=self.body if body is None else body)


class FaultProxyServer:
    """The aiohttp application forwarding to ``upstream_url``; ``start``/``stop`` and every change run on its loop."""

    def __init__(
        self, upstream_url: str, faults: FaultSpec | None = None, *, seed: int = 0, port: int | None = None
    ) -> None:
        upstream = URL(upstream_url)
        if upstream.scheme not in ("http", "https") or not upstream.host:
            raise ValueError(f"the upstream must be an http(s) URL, got {upstream_url!r}")
        self.upstream = upstream
        self.faults = parse_faults(faults or {})
        self._rng = random.Random(seed)
        self._port = port
        self._stats: dict[str, OperationStats] = {}
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self.app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.app.add_routes(
            [
                web.get("/_faults", self._get_faults),
                web.post("/_faults", self._set_faults),
                web.get("/_stats", self._get_stats),
                web.post("/_stats/reset", self._reset_stats),
                web.route("*", "/{tail:.*}", self._proxy),
            ]
        )

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the fault proxy is not running")
        return self._url

    async def start(self) -> str:
        """Serve on the configured port, else a free one; return the base URL."""
        if self._runner is not None:
            raise RuntimeError("the fault proxy is already running")
        # Answers go back as the emulator sent them, compressed or not.
        self._session = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_S)
        )
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        port = self._port or free_port()
        try:
            await web.TCPSite(runner, LOOPBACK, port).start()
        except OSError:
            await runner.cleanup()
            await self._session.close()
            raise
        self._runner, self._url = runner, f"http://{LOOPBACK}:{port}"
        return self._url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner, self._url = None, None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def stats(self) -> dict[str, OperationStats]:
        return {operation: OperationStats(**counts.to_json()) for operation, counts in sorted(self._stats.items())}

    def reset_stats(self) -> None:
        self._stats = {}

    def stats_json(self) -> dict[str, dict[str, int]]:
        return {operation: counts.to_json() for operation, counts in sorted(self._stats.items())}

    def faults_json(self) -> dict[str, dict[str, float]]:
        return {operation: faults.to_json() for operation, faults in sorted(self.faults.items())}

    # Control routes.

    async def _get_faults(self, request: web.Request) -> web.Response:
        return _control_response(self.faults_json())

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            self.faults = parse_faults(json.loads(await request.read()))
        except ValueError as error:
            return _control_response({"message": str(error)}, 400)
        return _control_response(self.faults_json())

    async def _get_stats(self, request: web.Request) -> web.Response:
        return _control_response(self.stats_json())

    async def _reset_stats(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return _control_response(self.stats_json())

    # Forwarding.

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        target = request.headers.get(TARGET_HEADER)
        if target is None:
            return (await self._forward(request, body)).response()
        operation = _operation(target)
        counts = self._stats.setdefault(operation, OperationStats())
        fault = self._draw(self.faults.get(operation))
        if fault == "throttle":
            counts.throttle += 1
            return throttling_error(target).response()
        if fault == "error500":
            counts.error500 += 1
            return server_error(target).response()
        if fault == "expire":
            counts.expire += 1
            return EXPIRED_ITERATOR.response()
        if fault == "partial":
            partial = await self._partial(request, body, target, counts)
            if partial is not None:
                return partial
        counts.forwarded += 1
        return (await self._forward(request, body)).response()

    def _draw(self, faults: OperationFaults | None) -> str | None:
        # One draw per call, and none for an operation without faults, so the draws depend only on faulty calls.
        if faults is None or faults.total() == 0:
            return None
        point = self._rng.random()
        for name in FAULT_NAMES:
            share: float = getattr(faults, name)
            if point < share:
                return name
            point -= share
        return None

    async def _forward(self, request: web.Request, body: bytes, headers: Mapping[str, str] | None = None) -> _Upstream:
        assert self._session is not None
        sent = CIMultiDict((k, v) for k, v in (headers or request.headers).items() if k.lower() not in _NOT_FORWARDED)
        url = URL(str(self.upstream).rstrip("/") + request.rel_url.raw_path_qs, encoded=True)
        skipped = [name for name in _CLIENT_AUTO_HEADERS if name not in sent]
        try:
            async with self._session.request(
                request.method, url, data=body or None, headers=sent, skip_auto_headers=skipped, allow_redirects=False
            ) as answer:
                return _Upstream(answer.status, answer.headers, await answer.read())
        except (aiohttp.ClientError, TimeoutError) as error:
            message = f"the fault proxy could not reach {self.upstream}: {error!r}"
            return _Upstream(502, CIMultiDictProxy(CIMultiDict({"Content-Type": "text/plain"})), message.encode())

    async def _partial(
        self, request: web.Request, body: bytes, target: str, counts: OperationStats
    ) -> web.Response | None:
        """Fail a random non-empty subset of the batch's records and forward the rest; None if it has no records."""
        try:
            document = json.loads(body)
        except ValueError:
            return None
        records = document.get("Records") if isinstance(document, dict) else None
        if not isinstance(records, list) or not records:
            return None
        counts.partial += 1
        shape = _batch_shape(target)
        failed = set(self._rng.sample(range(len(records)), self._rng.randint(1, len(records))))
        kept = [record for index, record in enumerate(records) if index not in failed]
        failure = {"ErrorCode": shape.error_code, "ErrorMessage": shape.error_message}
        if not kept:
            counts.records_failed += len(failed)
            answer = {shape.failed_count_key: len(failed), shape.results_key: [failure] * len(records)}
            answer |= {"Encrypted": False} if shape is _FIREHOSE_BATCH else {"EncryptionType": "NONE"}
            return _aws_json_response(answer)
        counts.forwarded += 1
        # Without Accept-Encoding the emulator answers uncompressed, so the answer can be read and rewritten.
        headers = {k: v for k, v in request.headers.items() if k.lower() != "accept-encoding"}
        upstream = await self._forward(request, _dump({**document, "Records": kept}), headers)
        merged = _merge_results(upstream, shape, sorted(failed), len(records), failure)
        if merged is None:
            return upstream.response()
        counts.records_failed += len(failed)
        return upstream.response(_dump(merged))


def _merge_results(
    upstream: _Upstream, shape: _BatchShape, failed: Sequence[int], total: int, failure: Mapping[str, str]
) -> dict[str, Any] | None:
    """The emulator's answer for the kept records with the failed ones put back in their places; None if unusable."""
    if upstream.status != 200:
        return None
    try:
        answer = json.loads(upstream.body)
    except ValueError:
        return None
    results = answer.get(shape.results_key) if isinstance(answer, dict) else None
    if not isinstance(results, list) or len(results) != total - len(failed):
        return None
    remaining = iter(results)
    failed_set = set(failed)
    merged = [dict(failure) if index in failed_set else next(remaining) for index in range(total)]
    answer[shape.results_key] = merged
    # kinesis-mock writes "ErrorCode": null into a record it accepted.
    answer[shape.failed_count_key] = sum(1 for result in merged if isinstance(result, dict) and result.get("ErrorCode"))
    return answer


def _control_response(document: object, status: int = 200) -> web.Response:
    return web.Response(body=_dump(document), status=status, content_type="application/json")


# -- running it from synchronous code --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultProxy:
    """A running :class:`FaultProxyServer` driven from another thread; every call runs on the proxy's event loop."""

    server: FaultProxyServer
    loop: asyncio.AbstractEventLoop = field(repr=False)

    @property
    def url(self) -> str:
        return self.server.url

    def set_faults(self, faults: FaultSpec | None = None) -> dict[str, OperationFaults]:
        """Replace every operation's faults with ``faults`` (default: none); return them."""
        parsed = parse_faults(faults or {})

        def apply() -> dict[str, OperationFaults]:
            self.server.faults = parsed
            return dict(parsed)

        return self._on_loop(apply)

    def faults(self) -> dict[str, OperationFaults]:
        return self._on_loop(lambda: dict(self.server.faults))

    def stats(self) -> dict[str, OperationStats]:
        return self._on_loop(self.server.stats)

    def reset_stats(self) -> None:
        self._on_loop(self.server.reset_stats)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=LOOP_CALL_TIMEOUT_S)

    def _on_loop(self, function: Callable[[], T]) -> T:
        async def call() -> T:
            return function()

        return self.run(call())


@contextmanager
def fault_proxy(
    upstream_url: str, faults: FaultSpec | None = None, seed: int = 0, port: int | None = None
) -> Iterator[FaultProxy]:
    """A fault proxy in front of ``upstream_url`` on its own thread and event loop; stopped on exit.

    A thread rather than a process: the caller reads counters and changes faults without a round trip, and a job in
    another process reaches the proxy over HTTP all the same.
    """
    server = FaultProxyServer(upstream_url, faults, seed=seed, port=port)
    with event_loop_thread("fault-proxy") as loop:
        proxy = FaultProxy(server, loop)
        proxy.run(server.start())
        try:
            yield proxy
        finally:
            proxy.run(server.stop())


# -- standalone ------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True, help="the emulator's endpoint, such as http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--faults", default="{}", help="faults by operation, as JSON (as POST /_faults takes)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    args = parser.parse_args(argv)
    try:
        server = FaultProxyServer(args.upstream, parse_faults(json.loads(args.faults)), seed=args.seed, port=args.port)
    except ValueError as error:
        parser.error(str(error))
    asyncio.run(serve_until_signalled(server.start, server.stop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
