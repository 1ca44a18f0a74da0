"""The local model server: its fitted model, both contracts, SigV4 checks, injected faults and counters."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from deploy.local.model_server import (
    CUSTOM_ATTRIBUTES_HEADER,
    ERROR_TYPE_HEADER,
    GATEWAY_VARIANT_HEADER,
    INVOKED_VARIANT_HEADER,
    TARGET_VARIANT_HEADER,
    Endpoint,
    Faults,
    LinearFareModel,
    ModelServer,
    ModelServerHandle,
    ScoredInstance,
    ServerStats,
    Variant,
    local_credentials,
    main,
    rollout_endpoints,
    running_model_server,
)
from deploy.local.stack import free_port
from deploy.local.taxi import FARE_BASE, FARE_PER_MILE, FARE_PER_MINUTE
from deploy.local.testing import wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL = LinearFareModel.fit()
REGION = "us-east-1"
TRIPS = [[3.2, 840.0], [1.05, 300.0], [11.0, 2700.5]]
CSV_BODY = b"3.2,840.0\n1.05,300.0\n11.0,2700.5\n"
SCORES = [{"score": score} for score in MODEL.predict(TRIPS)]
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
UNAVAILABLE = "The service is unavailable. Try your call again."
CONTRACTS = ("sagemaker", "liveinference", "predict")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 10
) -> Reply:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read())


def sign(
    method: str,
    url: str,
    service: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    credentials: Credentials | None = None,
) -> tuple[str, dict[str, str]]:
    """The URL and headers of a request signed the way boto3 signs one."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {}, params=params or {})
    SigV4Auth(credentials or local_credentials(), service, REGION).add_auth(request)
    prepared = request.prepare()
    return prepared.url, dict(prepared.headers.items())


def invoke(
    server: ModelServerHandle,
    body: bytes,
    content_type: str = "text/csv",
    *,
    name: str = "fare-model",
    headers: dict[str, str] | None = None,
    credentials: Credentials | None = None,
    service: str = "sagemaker",
    timeout: float = 10,
) -> Reply:
    return invoke_at(
        server.url,
        body,
        content_type,
        name=name,
        headers=headers,
        credentials=credentials,
        service=service,
        timeout=timeout,
    )


def invoke_at(
    base_url: str,
    body: bytes,
    content_type: str = "text/csv",
    *,
    name: str = "fare-model",
    headers: dict[str, str] | None = None,
    credentials: Credentials | None = None,
    service: str = "sagemaker",
    timeout: float = 10,
) -> Reply:
    """An InvokeEndpoint request to the server at ``base_url``, signed as boto3 signs it."""
    url = f"{base_url}/endpoints/{name}/invocations"
    all_headers = {"Content-Type": content_type, **(headers or {})}
    url, signed = sign("POST", url, service, body=body, headers=all_headers, credentials=credentials)
    return send(url, "POST", body, signed, timeout)


def call(server: ModelServerHandle, contract: str, trip: str = "3.2,840.0", timeout: float = 10) -> Reply:
    """One instance through one of the contracts of a server without gateway auth."""
    if contract == "sagemaker":
        return invoke(server, trip.encode(), timeout=timeout)
    if contract == "liveinference":
        return send(f"{server.url}/liveinference?features={trip}", timeout=timeout)
    body = json.dumps({"instances": [json.loads(f"[{trip}]")]}).encode()
    return send(f"{server.url}/predict", "POST", body, {"Content-Type": "application/json"}, timeout)


def success(contract: str, trips: list[list[float]]) -> Any:
    scores = MODEL.predict(trips)
    if contract == "sagemaker":
        return {"predictions": [{"score": score} for score in scores]}
    if contract == "liveinference":
        return {"prediction": scores[0]}
    return {"predictions": scores}


def assert_error(reply: Reply, status: int, error_type: str, message: str) -> None:
    assert (reply.status, reply.headers[ERROR_TYPE_HEADER], reply.json()) == (status, error_type, {"message": message})


def sagemaker_runtime(server: ModelServerHandle, secret: str = "testing") -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key=secret,
        aws_session_token="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ModelServerHandle]:
    with running_model_server(model=MODEL) as handle:
        yield handle


@pytest.fixture
def server(shared_server: ModelServerHandle) -> ModelServerHandle:
    shared_server.set_faults()
    shared_server.reset_stats()
    return shared_server


@pytest.fixture(scope="module")
def api_key_server() -> Iterator[ModelServerHandle]:
    with running_model_server(model=MODEL, auth="api_key", api_key="local-key") as handle:
        yield handle


@pytest.fixture(scope="module")
def iam_server() -> Iterator[ModelServerHandle]:
    with running_model_server(model=MODEL, auth="iam") as handle:
        yield handle


# -- the model -------------------------------------------------------------------------------------------------------


def test_the_fit_recovers_the_generators_fare() -> None:
    assert MODEL.features == ("trip_distance", "duration_seconds")
    per_mile, per_second = MODEL.coefficients
    assert per_mile == pytest.approx(FARE_PER_MILE, abs=0.02)
    assert per_second == pytest.approx(FARE_PER_MINUTE / 60, abs=0.0002)
    assert MODEL.intercept == pytest.approx(FARE_BASE, abs=0.05)


def test_the_fit_is_reproducible_and_predicts_the_linear_formula() -> None:
    assert LinearFareModel.fit() == MODEL
    (per_mile, per_second), intercept = MODEL.coefficients, MODEL.intercept
    assert MODEL.predict([[3.2, 840.0], [0.0, 0.0]]) == [intercept + (per_mile * 3.2 + per_second * 840.0), intercept]
    assert MODEL.predict([]) == []


def test_a_window_of_mean_features_scores_as_the_mean_of_its_trips() -> None:
    means = [statistics.fmean(column) for column in zip(*TRIPS, strict=True)]
    assert MODEL.predict([means])[0] == pytest.approx(statistics.fmean(MODEL.predict(TRIPS)), rel=1e-12)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (("trip_distance", "tip"), "not a trip feature: tip (the target fare_amount is not one either)"),
        (("fare_amount",), "not a trip feature: fare_amount (the target fare_amount is not one either)"),
        ((), "the model needs at least one feature"),
        (("trip_distance", "trip_distance"), "features repeat: trip_distance, trip_distance"),
    ],
)
def test_the_fit_takes_only_trip_features(features: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        LinearFareModel.fit(features)


def test_predict_rejects_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match=r"^row 1 has 1 values; the model takes 2$"):
        MODEL.predict([[3.2, 840.0], [3.2]])


# -- the SageMaker runtime contract ----------------------------------------------------------------------------------


def test_a_csv_invocation_scores_every_line(server: ModelServerHandle) -> None:
    reply = invoke(server, CSV_BODY)
    assert (reply.status, reply.headers["Content-Type"], reply.json()) == (
        200,
        "application/json",
        {"predictions": SCORES},
    )
    assert reply.headers[INVOKED_VARIANT_HEADER] == "AllTraffic"
    assert reply.headers[CUSTOM_ATTRIBUTES_HEADER] is None


@pytest.mark.parametrize(
    "instances", [TRIPS, [{"features": trip} for trip in TRIPS]], ids=["feature-lists", "feature-objects"]
)
def test_a_json_invocation_scores_every_instance(server: ModelServerHandle, instances: list[Any]) -> None:
    reply = invoke(server, json.dumps({"instances": instances}).encode(), "application/json")
    assert (reply.status, reply.json()) == (200, {"predictions": SCORES})


def test_boto3_invoke_endpoint_gets_its_custom_attributes_and_variant_back(server: ModelServerHandle) -> None:
    response = sagemaker_runtime(server).invoke_endpoint(
        EndpointName="fare-model",
        Body=CSV_BODY,
        ContentType="text/csv",
        CustomAttributes="trace-id=abc,mode=window",
        TargetVariant="blue",
    )
    assert json.loads(response["Body"].read()) == {"predictions": SCORES}
    assert response["ContentType"] == "application/json"
    assert response["CustomAttributes"] == "trace-id=abc,mode=window"
    assert response["InvokedProductionVariant"] == "blue"


def test_boto3_reads_a_throttled_answer_as_a_throttling_exception(server: ModelServerHandle) -> None:
    server.set_faults(throttle_rate=1.0)
    with pytest.raises(ClientError) as caught:
        sagemaker_runtime(server).invoke_endpoint(EndpointName="fare-model", Body=CSV_BODY, ContentType="text/csv")
    assert caught.value.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert server.stats() == ServerStats(requests=1, instances=0, by_status={429: 1})


def test_boto3_with_a_wrong_secret_gets_an_invalid_signature(server: ModelServerHandle) -> None:
    with pytest.raises(ClientError) as caught:
        sagemaker_runtime(server, secret="wrong").invoke_endpoint(
            EndpointName="fare-model", Body=CSV_BODY, ContentType="text/csv"
        )
    assert caught.value.response["Error"] == {"Code": "InvalidSignatureException", "Message": SIGNATURE_MISMATCH}


def test_a_tampered_body_is_rejected(server: ModelServerHandle) -> None:
    url, headers = sign("POST", f"{server.url}/endpoints/fare-model/invocations", "sagemaker", body=CSV_BODY)
    tampered = CSV_BODY.replace(b"3.2,", b"9.9,")
    assert_error(send(url, "POST", tampered, headers), 403, "InvalidSignatureException", SIGNATURE_MISMATCH)


def test_a_tampered_signed_header_is_rejected(server: ModelServerHandle) -> None:
    url = f"{server.url}/endpoints/fare-model/invocations"
    _, headers = sign("POST", url, "sagemaker", body=CSV_BODY, headers={"Content-Type": "text/csv"})
    headers["Content-Type"] = "application/json"
    assert_error(send(url, "POST", CSV_BODY, headers), 403, "InvalidSignatureException", SIGNATURE_MISMATCH)


@pytest.mark.parametrize(
    ("credentials", "error_type", "message"),
    [
        (Credentials("testing", "wrong", "testing"), "InvalidSignatureException", SIGNATURE_MISMATCH),
        (Credentials("AKIAOTHER", "testing", "testing"), "UnrecognizedClientException", INVALID_TOKEN),
        (Credentials("testing", "testing", "other-token"), "UnrecognizedClientException", INVALID_TOKEN),
        (Credentials("testing", "testing"), "UnrecognizedClientException", INVALID_TOKEN),
    ],
    ids=["wrong-secret", "unknown-key", "wrong-token", "no-token"],
)
def test_other_credentials_are_rejected(
    server: ModelServerHandle, credentials: Credentials, error_type: str, message: str
) -> None:
    assert_error(invoke(server, CSV_BODY, credentials=credentials), 403, error_type, message)


def test_an_unsigned_request_is_rejected(server: ModelServerHandle) -> None:
    reply = send(f"{server.url}/endpoints/fare-model/invocations", "POST", CSV_BODY, {"Content-Type": "text/csv"})
    assert_error(reply, 403, "MissingAuthenticationTokenException", "Missing Authentication Token")


def test_a_request_signed_for_another_service_is_rejected(server: ModelServerHandle) -> None:
    reply = invoke(server, CSV_BODY, service="execute-api")
    assert_error(
        reply, 403, "InvalidSignatureException", "Credential should be scoped to correct service: 'sagemaker'."
    )


def test_an_old_signature_is_rejected(server: ModelServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    signed_at = datetime.now() - timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at)
    reply = invoke(server, CSV_BODY)
    stamp = signed_at.strftime("%Y%m%dT%H%M%SZ")
    assert (reply.status, reply.headers[ERROR_TYPE_HEADER]) == (403, "InvalidSignatureException")
    assert re.fullmatch(
        rf"Signature expired: {stamp} is now earlier than \d{{8}}T\d{{6}}Z \(\d{{8}}T\d{{6}}Z - 5 min\.\)",
        reply.json()["message"],
    )


def test_an_unknown_endpoint_is_a_validation_error(server: ModelServerHandle) -> None:
    reply = invoke(server, CSV_BODY, name="other-model")
    assert_error(reply, 400, "ValidationError", "Endpoint other-model of account 123456789012 not found.")


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("text/csv", b"3.2\n", "instance 0 has 1 features; the model takes 2: trip_distance, duration_seconds"),
        ("text/csv", b"3.2,840.0\n3.2,abc\n", 'instance 1: duration_seconds is not a number: "abc"'),
        ("text/csv", b"nan,840.0\n", 'instance 0: trip_distance is not a number: "nan"'),
        ("text/csv", b"\n", "the request has no instances"),
        ("application/json", b'{"instances": [[3.2, "x"]]}', 'instance 0: duration_seconds is not a number: "x"'),
        ("application/json", b'{"instances": [[3.2, true]]}', "instance 0: duration_seconds is not a number: true"),
        (
            "application/json",
            b'{"instances": [3.2]}',
            'instance 0 must be a list of features or an object with a "features" list',
        ),
        ("application/json", b'{"rows": []}', 'the body must be a JSON object with an "instances" list'),
        (
            "application/json",
            b"{",
            "the body is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (
            "application/x-recordio-protobuf",
            b"\x00",
            "content type 'application/x-recordio-protobuf' is not supported; send text/csv or application/json",
        ),
    ],
    ids=[
        "csv-too-few",
        "csv-text",
        "csv-nan",
        "csv-empty",
        "json-text",
        "json-bool",
        "json-bare-number",
        "json-no-instances",
        "json-invalid",
        "unsupported-type",
    ],
)
def test_instances_the_model_cannot_take_are_model_errors(
    server: ModelServerHandle, content_type: str, body: bytes, message: str
) -> None:
    reply = invoke(server, body, content_type)
    assert_error(reply, 400, "ModelError", message)
    assert server.stats() == ServerStats(requests=1, instances=0, by_status={400: 1})


def test_a_model_with_other_features_and_endpoint_name() -> None:
    model = LinearFareModel.fit(("trip_distance",), trips=500, seed=3)
    with running_model_server(model=model, endpoint_name="fares-v2") as other:
        reply = invoke(other, b"3.2\n", name="fares-v2")
        assert (reply.status, reply.json()) == (200, {"predictions": [{"score": model.predict([[3.2]])[0]}]})
        wrong_width = invoke(other, b"3.2,840.0\n", name="fares-v2")
        assert_error(wrong_width, 400, "ModelError", "instance 0 has 2 features; the model takes 1: trip_distance")


# -- a model rollout: variants and a shadow endpoint -----------------------------------------------------------------

CANDIDATE = LinearFareModel.fit(("trip_distance",))


@pytest.fixture(scope="module")
def rollout() -> Iterator[ModelServerHandle]:
    with running_model_server(endpoints=rollout_endpoints(0.3), seed=5, keep_scored=True) as handle:
        yield handle


def test_the_rollout_serves_the_current_model_and_a_candidate_without_the_duration() -> None:
    main_endpoint, shadow = rollout_endpoints(0.3)
    assert (main_endpoint.name, main_endpoint.features) == ("fare-model", ("trip_distance", "duration_seconds"))
    assert [(v.name, v.model, v.weight) for v in main_endpoint.variants] == [
        ("current", MODEL, pytest.approx(0.7)),
        ("candidate", CANDIDATE, pytest.approx(0.3)),
    ]
    assert (shadow.name, [(v.name, v.model) for v in shadow.variants]) == (
        "fare-model-shadow",
        [("candidate", CANDIDATE)],
    )


def test_weights_share_the_requests_and_each_variant_answers_with_its_own_model(rollout: ModelServerHandle) -> None:
    rollout.reset_stats()
    answers = [invoke(rollout, b"3.2,840.0\n1.05,300.0\n") for _ in range(400)]
    expected = {"current": MODEL.predict(TRIPS[:2]), "candidate": CANDIDATE.predict([[3.2], [1.05]])}
    served: dict[str, int] = {}
    for reply in answers:
        variant = reply.headers[INVOKED_VARIANT_HEADER]
        assert reply.json() == {"predictions": [{"score": score} for score in expected[variant]]}
        served[variant] = served.get(variant, 0) + 1
    assert served["current"] + served["candidate"] == 400
    assert 0.25 < served["candidate"] / 400 < 0.35
    by_variant = {"fare-model/current": 2 * served["current"], "fare-model/candidate": 2 * served["candidate"]}
    assert rollout.stats().by_variant == by_variant
    scored = rollout.scored()
    assert len(scored) == 800
    assert scored[0] == ScoredInstance("fare-model", answers[0].headers[INVOKED_VARIANT_HEADER], (3.2, 840.0))


def test_target_variant_pins_a_variant_and_must_name_one(rollout: ModelServerHandle) -> None:
    for _ in range(20):
        reply = invoke(rollout, b"3.2,840.0", headers={TARGET_VARIANT_HEADER: "candidate"})
        assert (reply.headers[INVOKED_VARIANT_HEADER], reply.json()) == (
            "candidate",
            {"predictions": [{"score": CANDIDATE.predict([[3.2]])[0]}]},
        )
    reply = invoke(rollout, b"3.2,840.0", headers={TARGET_VARIANT_HEADER: "blue"})
    assert_error(reply, 400, "ValidationError", "The variant blue is not a production variant of endpoint fare-model.")


def test_the_shadow_endpoint_serves_the_candidate_with_faults_of_its_own(rollout: ModelServerHandle) -> None:
    reply = invoke(rollout, b"3.2,840.0", name="fare-model-shadow")
    assert (reply.status, reply.headers[INVOKED_VARIANT_HEADER], reply.json()) == (
        200,
        "candidate",
        {"predictions": [{"score": CANDIDATE.predict([[3.2]])[0]}]},
    )
    rollout.set_faults(endpoint="fare-model-shadow", outage_until=time.time() + 60)
    try:
        assert_error(invoke(rollout, b"3.2,840.0", name="fare-model-shadow"), 503, "ServiceUnavailable", UNAVAILABLE)
        assert invoke(rollout, b"3.2,840.0").status == 200
    finally:
        rollout.set_faults(endpoint="fare-model-shadow")


def test_the_gateway_routes_name_their_variant(rollout: ModelServerHandle) -> None:
    for _ in range(10):
        reply = call(rollout, "predict")
        variant = reply.headers[GATEWAY_VARIANT_HEADER]
        model = MODEL if variant == "current" else CANDIDATE
        assert reply.json() == {"predictions": model.predict([[3.2, 840.0]] if model is MODEL else [[3.2]])}


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        (lambda: (Endpoint("e", ("trip_distance",), ()),), "endpoint e needs at least one variant"),
        (
            lambda: (Endpoint("e", ("trip_distance",), (Variant("a", CANDIDATE, 0.0),)),),
            "endpoint e: the variants' weights add up to zero",
        ),
        (
            lambda: (Endpoint("e", ("trip_distance",), (Variant("a", MODEL),)),),
            "variant a takes duration_seconds, which requests do not carry",
        ),
        (lambda: (Endpoint.single("e", MODEL), Endpoint.single("e", MODEL)), "distinct names"),
    ],
)
def test_endpoints_are_checked(endpoints: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ModelServer(endpoints=endpoints())


# -- the API Gateway contract ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("features", ["3.2,840.0", "3.2%2C840.0"], ids=["comma", "encoded-comma"])
def test_live_inference_scores_one_instance(server: ModelServerHandle, features: str) -> None:
    reply = send(f"{server.url}/liveinference?features={features}")
    assert (reply.status, reply.headers["Content-Type"], reply.json()) == (
        200,
        "application/json",
        {"prediction": MODEL.predict([[3.2, 840.0]])[0]},
    )


def test_live_inference_needs_features(server: ModelServerHandle) -> None:
    reply = send(f"{server.url}/liveinference")
    assert_error(reply, 400, "BadRequestException", "Missing required request parameters: [features]")


@pytest.mark.parametrize(
    "instances", [TRIPS, [{"features": trip} for trip in TRIPS]], ids=["feature-lists", "feature-objects"]
)
def test_predict_scores_every_instance(server: ModelServerHandle, instances: list[Any]) -> None:
    body = json.dumps({"instances": instances}).encode()
    reply = send(f"{server.url}/predict", "POST", body, {"Content-Type": "application/json"})
    assert (reply.status, reply.json()) == (200, {"predictions": MODEL.predict(TRIPS)})


def test_an_api_key_is_required_when_configured(api_key_server: ModelServerHandle) -> None:
    url = f"{api_key_server.url}/liveinference?features=3.2,840.0"
    accepted = send(url, headers={"x-api-key": "local-key"})
    assert (accepted.status, accepted.json()) == (200, {"prediction": MODEL.predict([[3.2, 840.0]])[0]})
    assert_error(send(url, headers={"x-api-key": "other-key"}), 403, "ForbiddenException", "Forbidden")
    assert_error(send(url), 403, "ForbiddenException", "Forbidden")


def test_iam_accepts_requests_signed_for_execute_api(iam_server: ModelServerHandle) -> None:
    url, headers = sign("GET", f"{iam_server.url}/liveinference", "execute-api", params={"features": "3.2,840.0"})
    live = send(url, headers=headers)
    assert (live.status, live.json()) == (200, {"prediction": MODEL.predict([[3.2, 840.0]])[0]})

    body = json.dumps({"instances": TRIPS}).encode()
    url, headers = sign(
        "POST", f"{iam_server.url}/predict", "execute-api", body=body, headers={"Content-Type": "application/json"}
    )
    predicted = send(url, "POST", body, headers)
    assert (predicted.status, predicted.json()) == (200, {"predictions": MODEL.predict(TRIPS)})


def test_iam_accepts_a_signed_request_sent_with_aiohttp(iam_server: ModelServerHandle) -> None:
    # aiohttp sends the signed "%2C" as ","; the query is checked by its decoded values, as AWS does.
    url, headers = sign("GET", f"{iam_server.url}/liveinference", "execute-api", params={"features": "3.2,840.0"})

    async def get() -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
            return response.status, await response.json()

    assert asyncio.run(get()) == (200, {"prediction": MODEL.predict([[3.2, 840.0]])[0]})


def test_iam_rejects_unsigned_and_wrongly_scoped_requests(iam_server: ModelServerHandle) -> None:
    url = f"{iam_server.url}/liveinference?features=3.2,840.0"
    assert_error(send(url), 403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    signed_url, headers = sign("GET", url, "sagemaker")
    assert_error(
        send(signed_url, headers=headers),
        403,
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'execute-api'.",
    )


# -- faults ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("contract", CONTRACTS)
def test_throttling_answers_429(server: ModelServerHandle, contract: str) -> None:
    server.set_faults(throttle_rate=1.0)
    assert_error(call(server, contract), 429, "ThrottlingException", "Rate exceeded")


@pytest.mark.parametrize("contract", CONTRACTS)
def test_errors_answer_503_or_the_configured_500(server: ModelServerHandle, contract: str) -> None:
    server.set_faults(error_rate=1.0)
    assert_error(call(server, contract), 503, "ServiceUnavailable", UNAVAILABLE)
    server.set_faults(error_rate=1.0, error_status=500)
    assert_error(call(server, contract), 500, "InternalFailure", "An internal failure occurred. Try your call again.")


@pytest.mark.parametrize("contract", CONTRACTS)
def test_an_outage_answers_503_until_it_ends(server: ModelServerHandle, contract: str) -> None:
    server.set_faults(outage_until=time.time() + 60)
    assert_error(call(server, contract), 503, "ServiceUnavailable", UNAVAILABLE)
    server.set_faults(outage_until=time.time() - 1)
    reply = call(server, contract)
    assert (reply.status, reply.json()) == (200, success(contract, [[3.2, 840.0]]))


def test_an_outage_ends_by_itself(server: ModelServerHandle) -> None:
    server.set_faults(outage_until=time.time() + 0.5)
    assert call(server, "predict").status == 503
    wait_until(lambda: call(server, "predict").status == 200, 10, "the outage to end")
    assert server.stats().by_status[200] == 1


@pytest.mark.parametrize("contract", CONTRACTS)
def test_a_poison_value_fails_the_whole_request(server: ModelServerHandle, contract: str) -> None:
    server.set_faults(poison_value="-999.0")
    message = "instance 0 holds the value -999.0, which the model cannot score"
    assert_error(call(server, contract, "3.2,-999.0"), 400, "ModelError", message)
    assert_error(call(server, contract, "3.2,-999"), 400, "ModelError", message)
    reply = call(server, contract, "3.2,-999.5")
    assert (reply.status, reply.json()) == (200, success(contract, [[3.2, -999.5]]))


def test_one_poisoned_line_fails_a_batch(server: ModelServerHandle) -> None:
    server.set_faults(poison_value="-999.0")
    reply = invoke(server, b"3.2,840.0\n1.0,-999.0\n")
    assert_error(reply, 400, "ModelError", "instance 1 holds the value -999.0, which the model cannot score")
    assert server.stats() == ServerStats(requests=1, instances=0, by_status={400: 1})


@pytest.mark.parametrize("contract", CONTRACTS)
def test_latency_is_added_to_every_request(server: ModelServerHandle, contract: str) -> None:
    server.set_faults(latency_ms=150, latency_jitter_ms=50)
    started = time.monotonic()
    reply = call(server, contract)
    elapsed = time.monotonic() - started
    assert (reply.status, reply.json()) == (200, success(contract, [[3.2, 840.0]]))
    assert elapsed >= 0.150


def test_latency_delays_rejected_requests_too(server: ModelServerHandle) -> None:
    server.set_faults(latency_ms=150, throttle_rate=1.0)
    started = time.monotonic()
    assert call(server, "sagemaker").status == 429
    assert time.monotonic() - started >= 0.150


def test_a_spike_outlasts_the_clients_timeout(server: ModelServerHandle) -> None:
    server.set_faults(spike_rate=1.0, spike_ms=600)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        call(server, "predict", timeout=0.2)
    assert time.monotonic() - started >= 0.2
    # The server still answers the request once the spike is over.
    wait_until(lambda: server.stats().requests == 1, 10, "the spiked request to be answered")
    assert server.stats() == ServerStats(requests=1, instances=1, by_status={200: 1})


def test_the_same_seed_draws_the_same_faults() -> None:
    def statuses(seed: int) -> list[int]:
        faults = Faults(throttle_rate=0.3, error_rate=0.3)
        with running_model_server(model=MODEL, faults=faults, seed=seed) as handle:
            return [call(handle, "predict").status for _ in range(30)]

    first = statuses(seed=7)
    assert first == statuses(seed=7)
    assert set(first) == {200, 429, 503}


def test_faults_are_read_and_replaced_over_http(server: ModelServerHandle) -> None:
    assert send(f"{server.url}/_faults").json() == Faults().to_json()
    body = json.dumps({"throttle_rate": 0.5, "spike_ms": 2500, "poison_value": "-999.0"}).encode()
    reply = send(f"{server.url}/_faults", "POST", body, {"Content-Type": "application/json"})
    expected = Faults(throttle_rate=0.5, spike_ms=2500, poison_value="-999.0")
    assert (reply.status, reply.json()) == (200, expected.to_json())
    assert server.faults() == expected
    assert send(f"{server.url}/_faults", "POST", b"{}").json() == Faults().to_json()
    assert server.faults() == Faults()
    # Control routes are not counted.
    assert server.stats() == ServerStats()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"throttle_rate": 2}', "throttle_rate must be a number in [0, 1], got 2"),
        (b'{"latency_ms": -1}', "latency_ms must be a number in [0, inf], got -1"),
        (b'{"error_rate": "0.5"}', "error_rate must be a number in [0, 1], got '0.5'"),
        (b'{"error_status": 404}', "error_status must be 500 or 503, got 404"),
        (b'{"poison_value": -999}', "poison_value must be a non-empty string or null, got -999"),
        (b'{"latency": 5}', "unknown fault fields: latency"),
        (b"[]", "faults must be a JSON object"),
        (b"", "Expecting value: line 1 column 1 (char 0)"),
    ],
)
def test_invalid_faults_are_refused(server: ModelServerHandle, body: bytes, message: str) -> None:
    reply = send(f"{server.url}/_faults", "POST", body, {"Content-Type": "application/json"})
    assert_error(reply, 400, "ValidationError", message)
    assert server.faults() == Faults()


def test_faults_check_their_values() -> None:
    with pytest.raises(ValueError, match=re.escape("spike_rate must be a number in [0, 1], got 1.5")):
        Faults(spike_rate=1.5)


# -- counters --------------------------------------------------------------------------------------------------------


def test_stats_count_requests_instances_and_statuses(server: ModelServerHandle) -> None:
    assert invoke(server, CSV_BODY).status == 200
    assert invoke(server, b"3.2,840.0").status == 200
    assert call(server, "predict").status == 200
    assert invoke(server, CSV_BODY, credentials=Credentials("testing", "wrong", "testing")).status == 403
    server.set_faults(throttle_rate=1.0)
    assert call(server, "liveinference").status == 429
    by_variant = {"fare-model/AllTraffic": 4}  # the SageMaker route's instances
    expected = {"requests": 5, "instances": 5, "by_status": {"200": 3, "403": 1, "429": 1}, "by_variant": by_variant}
    assert send(f"{server.url}/_stats").json() == expected
    assert server.stats() == ServerStats(
        requests=5, instances=5, by_status={200: 3, 403: 1, 429: 1}, by_variant=by_variant
    )

    reset = send(f"{server.url}/_stats/reset", "POST", b"")
    assert (reset.status, reset.json()) == (200, {"requests": 0, "instances": 0, "by_status": {}, "by_variant": {}})
    assert server.stats() == ServerStats()


def test_an_unknown_route_is_counted(server: ModelServerHandle) -> None:
    assert send(f"{server.url}/nowhere").status == 404
    assert server.stats() == ServerStats(requests=1, instances=0, by_status={404: 1})


# -- configuration and the command line ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"auth": "basic"}, "auth must be one of none, api_key, iam, got 'basic'"),
        ({"auth": "api_key"}, "an API key is needed with auth='api_key' and only then"),
        ({"auth": "iam", "api_key": "k"}, "an API key is needed with auth='api_key' and only then"),
    ],
)
def test_the_server_refuses_inconsistent_auth(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ModelServer(MODEL, **options)


def test_the_command_line_refuses_invalid_faults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--throttle-rate", "2", "--training-trips", "100"])
    assert caught.value.code == 2
    assert capsys.readouterr().err.endswith("error: throttle_rate must be a number in [0, 1], got 2.0\n")


def test_the_command_line_serves_until_terminated() -> None:
    port = free_port()
    command = [sys.executable, "-m", "deploy.local.model_server", "--port", str(port), "--auth", "api_key"]
    command += ["--api-key", "k", "--endpoint-name", "fares", "--latency-ms", "20"]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: send(f"{url}/_stats").status == 200, 30, "the model server to listen")
        reply = send(f"{url}/liveinference?features=3.2,840.0", headers={"x-api-key": "k"})
        assert (reply.status, reply.json()) == (200, {"prediction": MODEL.predict([[3.2, 840.0]])[0]})
        assert send(f"{url}/_faults").json() == Faults(latency_ms=20).to_json()
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    assert (process.returncode, stdout, stderr) == (0, f"{url}\n", "")


def test_the_command_line_serves_a_rollout_with_a_shadow() -> None:
    port = free_port()
    command = [sys.executable, "-m", "deploy.local.model_server", "--port", str(port)]
    command += ["--candidate-weight", "1", "--shadow-endpoint-name", "fares-shadow"]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: send(f"{url}/_stats").status == 200, 30, "the model server to listen")
        candidate = CANDIDATE.predict([[3.2]])[0]
        for name in ("fare-model", "fares-shadow"):
            reply = invoke_at(url, b"3.2,840.0", name=name)
            assert (reply.headers[INVOKED_VARIANT_HEADER], reply.json()) == (
                "candidate",
                {"predictions": [{"score": candidate}]},
            )
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    assert (process.returncode, stdout, stderr) == (0, f"{url}\n", "")
