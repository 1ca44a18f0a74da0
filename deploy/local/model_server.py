"""A local inference endpoint for the job: a fare model behind both contracts the job can call.

On 127.0.0.1 it serves

- the SageMaker runtime contract, ``POST /endpoints/{name}/invocations`` (the path InvokeEndpoint calls), SigV4-signed
  for service ``sagemaker`` with the local credentials; ``text/csv`` or ``application/json`` in,
  ``{"predictions": [{"score": ...}, ...]}`` out, as Linear Learner answers;
- an API Gateway style contract (a Lambda proxy in front of the model): ``GET /liveinference?features=<csv line>`` ->
  ``{"prediction": ...}`` and ``POST /predict`` ``{"instances": [...]}`` -> ``{"predictions": [...]}``, with no auth, an
  ``x-api-key`` or SigV4 for service ``execute-api``.

The model is a linear regression of ``fare_amount`` fitted at start on generated trips, so a test knows the exact
answer for any input.  A SageMaker endpoint may hold several production variants, each a model with a traffic weight,
as a model rollout does: ``TargetVariant`` pins one, and every answer names its variant in
``x-Amzn-Invoked-Production-Variant`` (the API Gateway routes name it in ``X-Model-Variant``).  Several endpoint names
may be served at once, one of them a shadow endpoint, each with its own faults.  Being linear, a model
scores window-mode requests (per-window feature means) as the mean of the trips' fares.  Faults (latency, spikes,
throttling, errors, outages, poison instances) are injected before the model runs and can be changed while it runs
(``POST /_faults``); counters are at ``GET /_stats``.  The ``/_`` control routes take no auth and are not counted.

Errors use the AWS JSON form: a status, the ``x-amzn-ErrorType`` header and a body ``{"message": ...}``.

Standalone: ``python -m deploy.local.model_server --auth iam --latency-ms 20`` prints its URL and serves until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hmac
import json
import math
import random
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar, get_args

import numpy as np
from aiohttp import web
from aiohttp.typedefs import Handler
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from deploy.local.stack import LOCAL_ACCOUNT, LOCAL_CREDENTIALS, event_loop_thread, free_port, serve_until_signalled
from deploy.local.taxi import COLUMNS, random_trip

T = TypeVar("T")
AuthMode = Literal["none", "api_key", "iam"]
AUTH_MODES: tuple[AuthMode, ...] = get_args(AuthMode)

LOOPBACK = "127.0.0.1"
DEFAULT_ENDPOINT_NAME = "fare-model"
DEFAULT_FEATURES = ("trip_distance", "duration_seconds")
DEFAULT_TRAINING_TRIPS = 5000
DEFAULT_TRAINING_SEED = 0
DEFAULT_FAULT_SEED = 0
TARGET = "fare_amount"

CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
TARGET_VARIANT_HEADER = "X-Amzn-SageMaker-Target-Variant"
INVOKED_VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"
# The header the API Gateway routes name their variant in, as a Lambda proxy in front of a rollout may.
GATEWAY_VARIANT_HEADER = "X-Model-Variant"
ERROR_TYPE_HEADER = "x-amzn-ErrorType"
API_KEY_HEADER = "x-api-key"
# The name SageMaker gives the only variant of an endpoint created without naming one.
DEFAULT_VARIANT = "AllTraffic"
# The two models of a local rollout: the current fare model and a candidate that leaves the trip's duration out.
CURRENT_VARIANT = "current"
CANDIDATE_VARIANT = "candidate"
CANDIDATE_FEATURES = ("trip_distance",)
DEFAULT_SHADOW_ENDPOINT_NAME = "fare-model-shadow"

# The status a request the model cannot score gets (bad features, poison value).
MODEL_ERROR_STATUS = 400
# InvokeEndpoint accepts payloads up to 6 MB; aiohttp's default limit is 1 MB.
MAX_BODY_BYTES = 6 * 1024 * 1024
# AWS rejects a signature whose X-Amz-Date is further than this from its clock.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# In-flight requests (a long latency spike, say) get this long to finish when the server stops.
SHUTDOWN_TIMEOUT_S = 2.0
# How long a synchronous caller waits for the server's event loop to run a call.
LOOP_CALL_TIMEOUT_S = 30.0

_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_INVALID_TOKEN = "The security token included in the request is invalid."
_UNAVAILABLE = "The service is unavailable. Try your call again."


# -- the model -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearFareModel:
    """``fare_amount = intercept + sum(coefficient * feature)``, the features in the order of ``features``."""

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float

    @classmethod
    def fit(
        cls,
        features: Sequence[str] = DEFAULT_FEATURES,
        trips: int = DEFAULT_TRAINING_TRIPS,
        seed: int = DEFAULT_TRAINING_SEED,
    ) -> LinearFareModel:
        """Least squares with an intercept on ``trips`` generated trips (the same trips for the same seed)."""
        columns = _feature_columns(features)
        if trips <= len(columns):
            raise ValueError(f"fitting {len(columns)} features needs more than {len(columns)} trips, got {trips}")
        rng = random.Random(seed)
        data = np.array([random_trip(rng) for _ in range(trips)], dtype=np.float64)
        design = np.column_stack([np.ones(trips), data[:, columns]])
        solution, *_ = np.linalg.lstsq(design, data[:, COLUMNS.index(TARGET)], rcond=None)
        return cls(tuple(features), tuple(float(c) for c in solution[1:]), float(solution[0]))

    def predict(self, rows: Sequence[Sequence[float]]) -> list[float]:
        # Row by row in plain Python, so a row's prediction does not depend on the batch it came in.
        predictions = []
        for index, row in enumerate(rows):
            if len(row) != len(self.features):
                raise ValueError(f"row {index} has {len(row)} values; the model takes {len(self.features)}")
            predictions.append(self.intercept + sum(c * x for c, x in zip(self.coefficients, row, strict=True)))
        return predictions


def _feature_columns(features: Sequence[str]) -> list[int]:
    if not features:
        raise ValueError("the model needs at least one feature")
    if len(set(features)) != len(features):
        raise ValueError(f"features repeat: {', '.join(features)}")
    unknown = [name for name in features if name not in COLUMNS or name == TARGET]
    if unknown:
        raise ValueError(f"not a trip feature: {', '.join(unknown)} (the target {TARGET} is not one either)")
    return [COLUMNS.index(name) for name in features]


@dataclass(frozen=True)
class Variant:
    """A production variant: a model and its share of the endpoint's traffic (weights are relative)."""

    name: str
    model: LinearFareModel
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a variant needs a name")
        _require_number(f"the weight of variant {self.name}", self.weight, 0.0, math.inf)


@dataclass(frozen=True)
class Endpoint:
    """A SageMaker endpoint: its name, the features a request carries (in order), and its variants.

    A variant's model may take only some of the request's features (a candidate without one of them); it reads those
    by name.  An endpoint of one variant answers any ``TargetVariant`` under the name asked for, as the single-model
    server always did; with several, a target must name one of them.
    """

    name: str
    features: tuple[str, ...]
    variants: tuple[Variant, ...]

    def __post_init__(self) -> None:
        if not self.variants:
            raise ValueError(f"endpoint {self.name} needs at least one variant")
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint {self.name}: variant names repeat: {', '.join(names)}")
        if sum(variant.weight for variant in self.variants) <= 0:
            raise ValueError(f"endpoint {self.name}: the variants' weights add up to zero")
        for variant in self.variants:
            missing = [name for name in variant.model.features if name not in self.features]
            if missing:
                raise ValueError(f"variant {variant.name} takes {', '.join(missing)}, which requests do not carry")

    @classmethod
    def single(cls, name: str, model: LinearFareModel) -> Endpoint:
        return cls(name, model.features, (Variant(DEFAULT_VARIANT, model),))

    def predict(self, variant: Variant, rows: Sequence[Sequence[float]]) -> list[float]:
        columns = [self.features.index(name) for name in variant.model.features]
        return variant.model.predict([[row[column] for column in columns] for row in rows])


def rollout_endpoints(
    candidate_weight: float = 0.3,
    *,
    shadow: bool = True,
    name: str = DEFAULT_ENDPOINT_NAME,
    shadow_name: str = DEFAULT_SHADOW_ENDPOINT_NAME,
) -> tuple[Endpoint, ...]:
    """A model rollout: ``name`` serves the current model and the candidate (``candidate_weight`` of its traffic,
    0 to 1), and with ``shadow`` ``shadow_name`` serves the candidate alone."""
    _require_number("candidate_weight", candidate_weight, 0.0, 1.0)
    current = LinearFareModel.fit()
    candidate = LinearFareModel.fit(CANDIDATE_FEATURES)
    variants = (
        Variant(CURRENT_VARIANT, current, 1.0 - candidate_weight),
        Variant(CANDIDATE_VARIANT, candidate, candidate_weight),
    )
    endpoints = [Endpoint(name, current.features, variants)]
    if shadow:
        endpoints.append(Endpoint(shadow_name, current.features, (Variant(CANDIDATE_VARIANT, candidate),)))
    return tuple(endpoints)


@dataclass(frozen=True)
class ScoredInstance:
    """One instance a SageMaker endpoint scored: which endpoint and variant, and its features."""

    endpoint: str
    variant: str
    features: tuple[float, ...]


# -- faults and counters ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Faults:
    """What the server does wrong, before the model runs; the defaults do nothing wrong.

    Rates are fractions of requests, drawn from the server's seeded generator.
    """

    latency_ms: float = field(default=0.0, metadata={"help": "added to every request"})
    latency_jitter_ms: float = field(default=0.0, metadata={"help": "plus uniform [0, this): latency_ms is a floor"})
    error_rate: float = field(default=0.0, metadata={"help": "fraction answered error_status"})
    error_status: int = field(default=503, metadata={"help": "503 ServiceUnavailable or 500 InternalFailure"})
    throttle_rate: float = field(default=0.0, metadata={"help": "fraction answered 429 ThrottlingException"})
    outage_until: float = field(default=0.0, metadata={"help": "epoch seconds; every request until then gets 503"})
    spike_rate: float = field(default=0.0, metadata={"help": "fraction delayed a further spike_ms"})
    spike_ms: float = field(default=0.0, metadata={"help": "extra delay of a spiked request"})
    poison_value: str | None = field(
        default=None, metadata={"help": "a request with an instance holding this feature value gets a model error"}
    )

    def __post_init__(self) -> None:
        for name in ("latency_ms", "latency_jitter_ms", "spike_ms", "outage_until"):
            _require_number(name, getattr(self, name), 0.0, math.inf)
        for name in ("error_rate", "throttle_rate", "spike_rate"):
            _require_number(name, getattr(self, name), 0.0, 1.0)
        if isinstance(self.error_status, bool) or self.error_status not in _ERROR_ANSWERS:
            raise ValueError(f"error_status must be 500 or 503, got {self.error_status!r}")
        if self.poison_value is not None and (not isinstance(self.poison_value, str) or not self.poison_value):
            raise ValueError(f"poison_value must be a non-empty string or null, got {self.poison_value!r}")

    @classmethod
    def from_json(cls, document: object) -> Faults:
        """The faults a JSON object names; fields it leaves out take their defaults."""
        if not isinstance(document, dict):
            raise ValueError("faults must be a JSON object")
        unknown = sorted(set(document) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        return cls(**document)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _require_number(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")


@dataclass
class ServerStats:
    """Counts of the contract routes' requests: all, by status, and the instances scored in successful ones."""

    requests: int = 0
    instances: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    # Instances scored per "<endpoint>/<variant>" by the SageMaker route.
    by_variant: dict[str, int] = field(default_factory=dict)

    def record(self, status: int) -> None:
        self.requests += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1

    def scored(self, endpoint: str, variant: str, instances: int) -> None:
        key = f"{endpoint}/{variant}"
        self.by_variant[key] = self.by_variant.get(key, 0) + instances

    def copy(self) -> ServerStats:
        return ServerStats(self.requests, self.instances, dict(self.by_status), dict(self.by_variant))

    def to_json(self) -> dict[str, Any]:
        by_status = {str(status): count for status, count in sorted(self.by_status.items())}
        by_variant = dict(sorted(self.by_variant.items()))
        return {
            "requests": self.requests,
            "instances": self.instances,
            "by_status": by_status,
            "by_variant": by_variant,
        }


# -- errors ----------------------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer: ``status``, the ``x-amzn-ErrorType`` header and a body ``{"message": ...}``."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def response(self) -> web.Response:
        return _json_response(
            {"message": self.message}, status=self.status, headers={ERROR_TYPE_HEADER: self.error_type}
        )


def _json_response(document: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # A body in bytes keeps the content type plain application/json, as AWS sends it (aiohttp adds a charset to text).
    return web.Response(
        body=json.dumps(document).encode("utf-8"), status=status, headers=headers, content_type="application/json"
    )


_ERROR_ANSWERS = {
    500: ("InternalFailure", "An internal failure occurred. Try your call again."),
    503: ("ServiceUnavailable", _UNAVAILABLE),
}


def _model_error(message: str) -> ApiError:
    return ApiError(MODEL_ERROR_STATUS, "ModelError", message)


def _forbidden(error_type: str, message: str) -> ApiError:
    return ApiError(403, error_type, message)


def _invalid_signature(message: str = _SIGNATURE_MISMATCH) -> ApiError:
    return _forbidden("InvalidSignatureException", message)


def _incomplete_signature(message: str) -> ApiError:
    return _forbidden("IncompleteSignatureException", message)


# -- SigV4 -----------------------------------------------------------------------------------------------------------


def local_credentials() -> Credentials:
    """The local stack's credentials, the only ones the server accepts."""
    return Credentials(
        LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


@dataclass(frozen=True)
class _Authorization:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


class SigV4Verifier:
    """Checks a request's SigV4 ``Authorization`` header by recomputing the signature with botocore's signer.

    Any region in the credential scope is accepted; the service, the credentials and the clock (within
    ``MAX_CLOCK_SKEW``) must match.  Failures raise :class:`ApiError` with status 403.
    """

    def __init__(self, service: str, credentials: Credentials, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self._credentials = credentials
        self._clock = clock

    async def verify(self, request: web.Request) -> None:
        header = request.headers.get("Authorization")
        if header is None:
            raise _forbidden("MissingAuthenticationTokenException", "Missing Authentication Token")
        authorization = _parse_authorization(header)
        self._check_credential(authorization, request.headers.get("X-Amz-Security-Token"))
        amz_date = self._check_date(authorization, request.headers.get("X-Amz-Date"))
        for required in ("host", "x-amz-date"):
            if required not in authorization.signed_headers:
                raise _invalid_signature(f"'{required}' must be a 'SignedHeader' in the AWS Authorization.")
        rebuilt = _rebuild(request, await request.read(), authorization.signed_headers, amz_date)
        self._check_signature(rebuilt, authorization)

    def _check_credential(self, authorization: _Authorization, token: str | None) -> None:
        if not _same(authorization.access_key, self._credentials.access_key):
            raise _forbidden("UnrecognizedClientException", _INVALID_TOKEN)
        if self._credentials.token and (token is None or not _same(token, self._credentials.token)):
            raise _forbidden("UnrecognizedClientException", _INVALID_TOKEN)
        if authorization.service != self.service:
            raise _invalid_signature(f"Credential should be scoped to correct service: '{self.service}'.")

    def _check_date(self, authorization: _Authorization, amz_date: str | None) -> str:
        if amz_date is None:
            raise _incomplete_signature("Authorization header requires existence of a 'X-Amz-Date' header.")
        try:
            signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            raise _incomplete_signature(
                f"X-Amz-Date must have the form YYYYMMDD'T'HHMMSS'Z', got '{amz_date}'."
            ) from None
        if authorization.date != amz_date[:8]:
            raise _invalid_signature(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{authorization.date}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        now = datetime.fromtimestamp(self._clock(), UTC)
        if signed_at < now - MAX_CLOCK_SKEW:
            raise _invalid_signature(
                f"Signature expired: {amz_date} is now earlier than {_stamp(now - MAX_CLOCK_SKEW)} "
                f"({_stamp(now)} - 5 min.)"
            )
        if signed_at > now + MAX_CLOCK_SKEW:
            raise _invalid_signature(
                f"Signature not yet current: {amz_date} is still later than {_stamp(now + MAX_CLOCK_SKEW)} "
                f"({_stamp(now)} + 5 min.)"
            )
        return amz_date

    def _check_signature(self, rebuilt: AWSRequest, authorization: _Authorization) -> None:
        signer = SigV4Auth(self._credentials, self.service, authorization.region)
        # botocore signs a declared body hash as given; the service checks it against the body.
        declared = rebuilt.headers.get("X-Amz-Content-SHA256")
        if declared is not None and not _same(declared, signer.payload(rebuilt)):
            raise _invalid_signature("The provided 'x-amz-content-sha256' header does not match what was computed.")
        canonical_request = signer.canonical_request(rebuilt)
        expected = signer.signature(signer.string_to_sign(rebuilt, canonical_request), rebuilt)
        if not _same(expected, authorization.signature):
            raise _invalid_signature()


def _parse_authorization(header: str) -> _Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise _incomplete_signature(f"Unsupported Authorization type '{algorithm}'; use AWS4-HMAC-SHA256.")
    parameters = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        parameters[name] = value
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not parameters.get(name):
            raise _incomplete_signature(f"Authorization header requires '{name}' parameter.")
    scope = parameters["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _incomplete_signature("Credential must have the form <key>/<YYYYMMDD>/<region>/<service>/aws4_request.")
    access_key, date, region, service, _ = scope
    signed_headers = tuple(parameters["SignedHeaders"].split(";"))
    return _Authorization(access_key, date, region, service, signed_headers, parameters["Signature"])


def _rebuild(request: web.Request, body: bytes, signed_headers: Sequence[str], amz_date: str) -> AWSRequest:
    """The request as the client signed it: its signed headers, raw path, query parameters and body."""
    rebuilt = AWSRequest(
        method=request.method,
        url=f"{request.scheme}://{request.host}{request.rel_url.raw_path}",
        # As parameters, the query is canonicalised from its decoded values, as AWS does, so it does not matter
        # whether the client's HTTP library sent a comma as "," or "%2C".
        params=list(request.query.items()),
        data=body,
    )
    for name, value in request.headers.items():
        if name.lower() in signed_headers:
            # Assignment appends, so a repeated header keeps all its values, as the client signed them.
            rebuilt.headers[name] = value
    rebuilt.context["timestamp"] = amz_date
    return rebuilt


def _same(a: str, b: str) -> bool:
    # Header text may hold any character; compare_digest takes str only when it is ASCII.
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


def _stamp(moment: datetime) -> str:
    return moment.strftime(SIGV4_TIMESTAMP)


# -- request bodies --------------------------------------------------------------------------------------------------


def _sagemaker_instances(content_type: str, body: bytes) -> list[list[object]]:
    if content_type == "text/csv":
        return _csv_instances(body)
    if content_type == "application/json":
        return _json_instances(body)
    raise _model_error(f"content type '{content_type}' is not supported; send text/csv or application/json")


def _csv_instances(body: bytes) -> list[list[object]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _model_error(f"the body is not UTF-8: {error}") from None
    return [_csv_fields(line) for line in text.splitlines() if line.strip()]


def _csv_fields(line: str) -> list[object]:
    return [value.strip() for value in line.split(",")]


def _json_instances(body: bytes) -> list[list[object]]:
    try:
        document = json.loads(body)
    except ValueError as error:
        raise _model_error(f"the body is not valid JSON: {error}") from None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list):
        raise _model_error('the body must be a JSON object with an "instances" list')
    return [_json_features(index, instance) for index, instance in enumerate(instances)]


def _json_features(index: int, instance: object) -> list[object]:
    features = instance.get("features") if isinstance(instance, dict) else instance
    if not isinstance(features, list):
        raise _model_error(f'instance {index} must be a list of features or an object with a "features" list')
    return features


def _numeric_rows(instances: Sequence[Sequence[object]], features: Sequence[str]) -> list[list[float]]:
    if not instances:
        raise _model_error("the request has no instances")
    return [_numeric_row(index, instance, features) for index, instance in enumerate(instances)]


def _numeric_row(index: int, instance: Sequence[object], features: Sequence[str]) -> list[float]:
    if len(instance) != len(features):
        raise _model_error(
            f"instance {index} has {len(instance)} features; the model takes {len(features)}: {', '.join(features)}"
        )
    row = []
    for name, value in zip(features, instance, strict=True):
        number = _as_number(value)
        if number is None:
            raise _model_error(f"instance {index}: {name} is not a number: {json.dumps(value)}")
        row.append(number)
    return row


def _as_number(value: object) -> float | None:
    """A finite float from a JSON number or numeric text, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _is_poison(value: object, poison: str) -> bool:
    """``value`` is the poison as written, or the same number (``-999`` poisons like ``-999.0``)."""
    if (value if isinstance(value, str) else json.dumps(value)) == poison:
        return True
    number = _as_number(value)
    return number is not None and number == _as_number(poison)


# -- the server ------------------------------------------------------------------------------------------------------


class ModelServer:
    """The aiohttp application and its site on a loopback port; ``start``/``stop`` run on the serving event loop.

    ``faults`` may be replaced at any time on that loop, and ``endpoint_faults`` (by endpoint name) replace them for
    one SageMaker endpoint; ``auth`` guards the API Gateway routes only, the SageMaker route always requires SigV4 for
    ``sagemaker``.  ``endpoints`` (several names, several variants) replaces the one endpoint ``model`` and
    ``endpoint_name`` make; the API Gateway routes serve the first endpoint.  ``keep_scored`` keeps every scored
    instance (see :meth:`scored`), for tests that must know which variant scored which record.
    """

    def __init__(
        self,
        model: LinearFareModel | None = None,
        *,
        port: int | None = None,
        endpoint_name: str = DEFAULT_ENDPOINT_NAME,
        endpoints: Sequence[Endpoint] | None = None,
        auth: AuthMode = "none",
        api_key: str | None = None,
        faults: Faults | None = None,
        seed: int = DEFAULT_FAULT_SEED,
        credentials: Credentials | None = None,
        keep_scored: bool = False,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, got {auth!r}")
        if (auth == "api_key") != bool(api_key):
            raise ValueError("an API key is needed with auth='api_key' and only then")
        if endpoints is not None and (model is not None or endpoint_name != DEFAULT_ENDPOINT_NAME):
            raise ValueError("give either endpoints or a model and endpoint name, not both")
        if endpoints is None:
            endpoints = (Endpoint.single(endpoint_name, model if model is not None else LinearFareModel.fit()),)
        if not endpoints or len({e.name for e in endpoints}) != len(endpoints):
            raise ValueError("endpoints must be at least one, with distinct names")
        self.endpoints = {endpoint.name: endpoint for endpoint in endpoints}
        self._gateway_endpoint = endpoints[0]
        self.model = self._gateway_endpoint.variants[0].model
        self.endpoint_name = self._gateway_endpoint.name
        self.auth = auth
        self.faults = faults if faults is not None else Faults()
        self.endpoint_faults: dict[str, Faults] = {}
        self._api_key = api_key
        self._port = port
        self._rng = random.Random(seed)
        # Its own generator, so that routing among variants leaves the fault draws as they were.
        self._routing_rng = random.Random(seed)
        self._keep_scored = keep_scored
        self._scored: list[ScoredInstance] = []
        self._stats = ServerStats()
        # Spiked requests, which the status counts cannot show (a spiked request may still succeed).
        self._spikes = 0
        credentials = credentials if credentials is not None else local_credentials()
        self._sagemaker_verifier = SigV4Verifier("sagemaker", credentials)
        self._gateway_verifier = SigV4Verifier("execute-api", credentials)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self.app = self._build_app()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the model server is not running")
        return self._url

    async def start(self) -> str:
        """Serve on the configured port, else a free one; return the base URL."""
        if self._runner is not None:
            raise RuntimeError("the model server is already running")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        port = self._port or free_port()
        try:
            await web.TCPSite(runner, LOOPBACK, port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner, self._url = runner, f"http://{LOOPBACK}:{port}"
        return self._url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner, self._url = None, None

    def stats(self) -> ServerStats:
        return self._stats.copy()

    def reset_stats(self) -> None:
        self._stats = ServerStats()
        self._spikes = 0
        self._scored = []

    def scored(self) -> list[ScoredInstance]:
        """Every instance the SageMaker route scored since the start or the last reset (with ``keep_scored``)."""
        return list(self._scored)

    def spikes(self) -> int:
        """How many requests got a latency spike since the start or the last reset."""
        return self._spikes

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._answer_and_count], client_max_size=MAX_BODY_BYTES)
        app.add_routes(
            [
                web.post("/endpoints/{name}/invocations", self._invoke_endpoint),
                web.get("/liveinference", self._live_inference),
                web.post("/predict", self._predict),
                web.get("/_faults", self._get_faults),
                web.post("/_faults", self._set_faults),
                web.get("/_stats", self._get_stats),
                web.post("/_stats/reset", self._reset_stats),
            ]
        )
        return app

    @web.middleware
    async def _answer_and_count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        counted = not request.path.startswith("/_")
        try:
            response = await handler(request)
        except ApiError as error:
            response = error.response()
        except web.HTTPException as error:
            if counted:
                self._stats.record(error.status)
            raise
        except Exception:
            # aiohttp answers 500; count what the client sees.
            if counted:
                self._stats.record(500)
            raise
        if counted:
            self._stats.record(response.status)
        return response

    # The contracts.

    async def _invoke_endpoint(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        endpoint = self.endpoints.get(name)
        faults = await self._admit(request, self._sagemaker_verifier.verify, self.endpoint_faults.get(name))
        if endpoint is None:
            raise ApiError(400, "ValidationError", f"Endpoint {name} of account {LOCAL_ACCOUNT} not found.")
        target = request.headers.get(TARGET_VARIANT_HEADER)
        variant = self._variant(endpoint, target)
        instances = _sagemaker_instances(request.content_type, await request.read())
        scores = self._score(instances, faults, endpoint, variant)
        answered_as = target if target is not None and len(endpoint.variants) == 1 else variant.name
        self._stats.scored(endpoint.name, answered_as, len(scores))
        if self._keep_scored:
            rows = _numeric_rows(instances, endpoint.features)
            self._scored += [ScoredInstance(endpoint.name, answered_as, tuple(row)) for row in rows]
        headers = {INVOKED_VARIANT_HEADER: answered_as}
        custom_attributes = request.headers.get(CUSTOM_ATTRIBUTES_HEADER)
        if custom_attributes is not None:
            headers[CUSTOM_ATTRIBUTES_HEADER] = custom_attributes
        return _json_response({"predictions": [{"score": score} for score in scores]}, headers=headers)

    async def _live_inference(self, request: web.Request) -> web.Response:
        faults = await self._admit(request, self._authenticate_gateway)
        line = request.query.get("features")
        if line is None:
            raise ApiError(400, "BadRequestException", "Missing required request parameters: [features]")
        endpoint = self._gateway_endpoint
        variant = self._variant(endpoint, None)
        (prediction,) = self._score([_csv_fields(line)], faults, endpoint, variant)
        return _json_response({"prediction": prediction}, headers={GATEWAY_VARIANT_HEADER: variant.name})

    async def _predict(self, request: web.Request) -> web.Response:
        faults = await self._admit(request, self._authenticate_gateway)
        endpoint = self._gateway_endpoint
        variant = self._variant(endpoint, None)
        predictions = self._score(_json_instances(await request.read()), faults, endpoint, variant)
        return _json_response({"predictions": predictions}, headers={GATEWAY_VARIANT_HEADER: variant.name})

    async def _admit(
        self,
        request: web.Request,
        authenticate: Callable[[web.Request], Awaitable[None]],
        faults: Faults | None = None,
    ) -> Faults:
        """Delay, authenticate, then fail as the faults (default: the server's) say; return the faults, which serve
        the whole request."""
        faults = faults if faults is not None else self.faults
        # Read the body before the delay: a client that gives up during it has sent its request and is still counted.
        await request.read()
        delay_ms = self._delay_ms(faults)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        await authenticate(request)
        self._fail(faults)
        return faults

    async def _authenticate_gateway(self, request: web.Request) -> None:
        if self.auth == "iam":
            await self._gateway_verifier.verify(request)
        elif self.auth == "api_key":
            key = request.headers.get(API_KEY_HEADER)
            if key is None or self._api_key is None or not _same(key, self._api_key):
                raise _forbidden("ForbiddenException", "Forbidden")

    def _variant(self, endpoint: Endpoint, target: str | None) -> Variant:
        """The variant a request goes to: the one ``target`` names, else one drawn by the weights."""
        if len(endpoint.variants) == 1:
            return endpoint.variants[0]
        if target is not None:
            for variant in endpoint.variants:
                if variant.name == target:
                    return variant
            raise ApiError(
                400, "ValidationError", f"The variant {target} is not a production variant of endpoint {endpoint.name}."
            )
        weights = [variant.weight for variant in endpoint.variants]
        return self._routing_rng.choices(endpoint.variants, weights)[0]

    def _score(
        self, instances: Sequence[Sequence[object]], faults: Faults, endpoint: Endpoint, variant: Variant
    ) -> list[float]:
        poison = faults.poison_value
        for index, instance in enumerate(instances):
            if poison is not None and any(_is_poison(value, poison) for value in instance):
                raise _model_error(f"instance {index} holds the value {poison}, which the model cannot score")
        predictions = endpoint.predict(variant, _numeric_rows(instances, endpoint.features))
        self._stats.instances += len(predictions)
        return predictions

    # Faults.

    def _delay_ms(self, faults: Faults) -> float:
        delay = faults.latency_ms
        if faults.latency_jitter_ms > 0:
            delay += self._rng.uniform(0.0, faults.latency_jitter_ms)
        if self._happens(faults.spike_rate):
            delay += faults.spike_ms
            self._spikes += 1
        return delay

    def _fail(self, faults: Faults) -> None:
        if time.time() < faults.outage_until:
            raise ApiError(503, "ServiceUnavailable", _UNAVAILABLE)
        if self._happens(faults.throttle_rate):
            raise ApiError(429, "ThrottlingException", "Rate exceeded")
        if self._happens(faults.error_rate):
            raise ApiError(faults.error_status, *_ERROR_ANSWERS[faults.error_status])

    def _happens(self, rate: float) -> bool:
        # No draw for a fault that is off, so a run's draws depend only on the faults that are on.
        return rate > 0 and self._rng.random() < rate

    # Control routes.

    async def _get_faults(self, request: web.Request) -> web.Response:
        return _json_response(self.faults.to_json())

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            self.faults = Faults.from_json(json.loads(await request.read()))
        except ValueError as error:
            raise ApiError(400, "ValidationError", str(error)) from None
        return _json_response(self.faults.to_json())

    async def _get_stats(self, request: web.Request) -> web.Response:
        return _json_response(self._stats.to_json())

    async def _reset_stats(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return _json_response(self._stats.to_json())


# -- running it from synchronous code --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelServerHandle:
    """A running :class:`ModelServer` driven from another thread; every call runs on the server's event loop."""

    server: ModelServer
    loop: asyncio.AbstractEventLoop

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def model(self) -> LinearFareModel:
        return self.server.model

    def set_faults(self, faults: Faults | None = None, *, endpoint: str | None = None, **changes: Any) -> Faults:
        """Replace the faults with ``faults`` (default: none) with ``changes`` applied, of the whole server or of one
        SageMaker ``endpoint``; return them."""
        new_faults = dataclasses.replace(faults if faults is not None else Faults(), **changes)

        def apply() -> Faults:
            if endpoint is None:
                self.server.faults = new_faults
            else:
                self.server.endpoint_faults[endpoint] = new_faults
            return new_faults

        return self._on_loop(apply)

    def scored(self) -> list[ScoredInstance]:
        return self._on_loop(self.server.scored)

    def faults(self) -> Faults:
        return self._on_loop(lambda: self.server.faults)

    def stats(self) -> ServerStats:
        return self._on_loop(self.server.stats)

    def reset_stats(self) -> None:
        self._on_loop(self.server.reset_stats)

    def spikes(self) -> int:
        return self._on_loop(self.server.spikes)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=LOOP_CALL_TIMEOUT_S)

    def _on_loop(self, function: Callable[[], T]) -> T:
        async def call() -> T:
            return function()

        return self.run(call())


@contextmanager
def running_model_server(**options: Any) -> Iterator[ModelServerHandle]:
    """A :class:`ModelServer` (built with ``options``) on its own thread and event loop; stopped on exit."""
    server = ModelServer(**options)
    with event_loop_thread("model-server") as loop:
        handle = ModelServerHandle(server, loop)
        handle.run(server.start())
        try:
            yield handle
        finally:
            handle.run(server.stop())


# -- standalone ------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = _argument_parser()
    args = parser.parse_args(argv)
    try:
        faults = Faults(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Faults)})
        if args.candidate_weight is not None or args.shadow_endpoint_name is not None:
            shadow_name = args.shadow_endpoint_name
            endpoints = rollout_endpoints(
                args.candidate_weight or 0.0,
                shadow=shadow_name is not None,
                name=args.endpoint_name,
                shadow_name=shadow_name or DEFAULT_SHADOW_ENDPOINT_NAME,
            )
            model, endpoint_name = None, DEFAULT_ENDPOINT_NAME
        else:
            endpoints = None
            model = LinearFareModel.fit(tuple(args.features.split(",")), args.training_trips)
            endpoint_name = args.endpoint_name
        server = ModelServer(
            model,
            port=args.port,
            endpoint_name=endpoint_name,
            endpoints=endpoints,
            auth=args.auth,
            api_key=args.api_key,
            faults=faults,
            seed=args.seed,
        )
    except ValueError as error:
        parser.error(str(error))
    asyncio.run(serve_until_signalled(server.start, server.stop))
    return 0


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--auth", choices=AUTH_MODES, default="none", help="auth of the API Gateway routes")
    parser.add_argument("--api-key", default=None, help="the x-api-key value, with --auth api_key")
    parser.add_argument("--endpoint-name", default=DEFAULT_ENDPOINT_NAME, help="the SageMaker endpoint served")
    parser.add_argument("--features", default=",".join(DEFAULT_FEATURES), help="trip columns the model takes, in order")
    parser.add_argument("--training-trips", type=int, default=DEFAULT_TRAINING_TRIPS, help="trips the model is fit on")
    parser.add_argument(
        "--candidate-weight",
        type=float,
        default=None,
        help="serve a rollout: variants current and candidate (no duration), this share (0-1) to the candidate",
    )
    parser.add_argument(
        "--shadow-endpoint-name", default=None, help="also serve the candidate alone as this endpoint (a shadow)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_FAULT_SEED, help="seed of the fault draws")
    for fault in dataclasses.fields(Faults):
        kind = int if fault.name == "error_status" else str if fault.name == "poison_value" else float
        parser.add_argument(
            "--" + fault.name.replace("_", "-"), type=kind, default=fault.default, help=fault.metadata["help"]
        )
    return parser


if __name__ == "__main__":
    sys.exit(main())
