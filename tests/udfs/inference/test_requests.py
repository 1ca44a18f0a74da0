"""Endpoint requests: SageMaker InvokeEndpoint and API Gateway routes, their headers, query and SigV4 signature,
checked exactly and against the local model server's own verification."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime

import botocore.auth
import pytest
from botocore.credentials import ReadOnlyCredentials

from deploy.local.model_server import ModelServerHandle
from tests.udfs.inference.support import (
    ENDPOINT_NAME,
    MODEL,
    REGION,
    app_config,
    endpoint_requests,
    inference_config,
    local_credentials,
    model_server,
)
from udfs.inference.requests import EndpointRequests, HttpRequest

SIGNED_AT = datetime(2024, 1, 2, 3, 4, 5)
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
TRIP = [3.2, 840.0]


def send(request: HttpRequest) -> tuple[int, dict[str, str], bytes]:
    """One exchange with a plain HTTP client: (status, headers with lower-case names, body)."""
    prepared = urllib.request.Request(request.url, data=request.body, headers=request.headers, method=request.method)
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def error_of(reply: tuple[int, dict[str, str], bytes]) -> tuple[int, str, str]:
    status, headers, body = reply
    return status, headers["x-amzn-errortype"], json.loads(body)["message"]


def sigv4(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    service: str,
    secret_key: str = "testing",
) -> str:
    """The SigV4 signature of a request, computed here from the specification (not by botocore)."""
    names = sorted(name.lower() for name in headers)
    lowered = {name.lower(): value for name, value in headers.items()}
    canonical = "\n".join(
        [
            method,
            path,
            query,
            *(f"{name}:{lowered[name].strip()}" for name in names),
            "",
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{SIGNED_AT:%Y%m%d}/{REGION}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", f"{SIGNED_AT:%Y%m%dT%H%M%SZ}", scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (f"{SIGNED_AT:%Y%m%d}", REGION, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: SIGNED_AT)


@pytest.fixture
def server() -> Iterator[ModelServerHandle]:
    with model_server(auth="iam") as handle:
        yield handle


def sagemaker_requests(base: str | None, **properties: str) -> EndpointRequests:
    config = inference_config({"endpoint.name": ENDPOINT_NAME, **properties})
    return endpoint_requests(config, base, local_credentials)


def gateway_requests(url: str, **properties: str) -> EndpointRequests:
    batch = {"batch.size": "1"} if properties.get("method") == "GET" else {}
    config = inference_config({"type": "apigateway", "url": url, **batch, **properties})
    return endpoint_requests(config, None, local_credentials)


# -- SageMaker InvokeEndpoint --------------------------------------------------------------------------------------


def test_sagemaker_url_is_the_regional_runtime_by_default() -> None:
    request = sagemaker_requests(None).post(b"3.2,840.0")
    assert (request.method, request.url, request.body) == (
        "POST",
        f"https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/fare-model/invocations",
        b"3.2,840.0",
    )


def test_sagemaker_url_uses_the_endpoint_override_without_doubling_the_slash() -> None:
    assert sagemaker_requests("http://127.0.0.1:4566/").post(b"").url == (
        "http://127.0.0.1:4566/endpoints/fare-model/invocations"
    )


def test_sagemaker_endpoint_override_comes_from_the_standard_variable() -> None:
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://h:1/"}
    app = app_config({"endpoint.name": "fare-model-2"}, environ)
    assert app.inference is not None
    requests = endpoint_requests(app.inference, None, local_credentials)
    assert requests.post(b"").url == "http://h:1/endpoints/fare-model-2/invocations"


@pytest.mark.usefixtures("frozen_clock")
def test_signed_sagemaker_request_has_exact_headers_and_signature() -> None:
    request = sagemaker_requests(None, **{"target.variant": "variant-b", "custom.attributes": "trace=abc"}).post(
        b"3.2,840.0"
    )
    signed = {
        "Accept": "application/json",
        "Content-Type": "text/csv",
        "Host": f"runtime.sagemaker.{REGION}.amazonaws.com",
        "X-Amz-Date": "20240102T030405Z",
        "X-Amz-Security-Token": "testing",
        "X-Amzn-SageMaker-Custom-Attributes": "trace=abc",
        "X-Amzn-SageMaker-Target-Variant": "variant-b",
    }
    signature = sigv4("POST", "/endpoints/fare-model/invocations", "", signed, b"3.2,840.0", "sagemaker")
    assert request.headers == {
        "Content-Type": "text/csv",
        "Accept": "application/json",
        "X-Amzn-SageMaker-Target-Variant": "variant-b",
        "X-Amzn-SageMaker-Custom-Attributes": "trace=abc",
        "X-Amz-Date": "20240102T030405Z",
        "X-Amz-Security-Token": "testing",
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential=testing/20240102/{REGION}/sagemaker/aws4_request, "
            "SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token;"
            "x-amzn-sagemaker-custom-attributes;x-amzn-sagemaker-target-variant, "
            f"Signature={signature}"
        ),
    }


@pytest.mark.usefixtures("frozen_clock")
def test_without_variant_or_attributes_only_the_content_headers_are_signed() -> None:
    request = sagemaker_requests(None, **{"content.type": "application/json"}).post(b'{"instances":[[3.2,840.0]]}')
    assert sorted(request.headers) == ["Accept", "Authorization", "Content-Type", "X-Amz-Date", "X-Amz-Security-Token"]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"].split(", ")[1] == (
        "SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token"
    )


def test_credentials_are_read_for_every_request() -> None:
    issued = iter([ReadOnlyCredentials("first", "s1", None), ReadOnlyCredentials("second", "s2", "t2")])
    config = inference_config({"endpoint.name": ENDPOINT_NAME})
    requests = endpoint_requests(config, None, lambda: next(issued))
    first, second = requests.post(b"1.0,2.0"), requests.post(b"1.0,2.0")
    assert first.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=first/")
    assert "X-Amz-Security-Token" not in first.headers
    assert second.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=second/")
    assert second.headers["X-Amz-Security-Token"] == "t2"


def test_a_signed_sagemaker_request_is_accepted(server: ModelServerHandle) -> None:
    requests = sagemaker_requests(server.url, **{"target.variant": "variant-b", "custom.attributes": "trace=abc"})
    status, headers, body = send(requests.post(b"3.2,840.0\n1.05,300.0"))
    assert status == 200
    assert json.loads(body) == {"predictions": [{"score": s} for s in MODEL.predict([TRIP, [1.05, 300.0]])]}
    assert headers["x-amzn-invoked-production-variant"] == "variant-b"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "trace=abc"
    assert server.stats().by_status == {200: 1}


def test_a_signed_json_sagemaker_request_is_accepted(server: ModelServerHandle) -> None:
    requests = sagemaker_requests(server.url, **{"content.type": "application/json"})
    status, headers, body = send(requests.post(b'{"instances":[[3.2,840.0]]}'))
    assert (status, json.loads(body)) == (200, {"predictions": [{"score": MODEL.predict([TRIP])[0]}]})
    assert headers["x-amzn-invoked-production-variant"] == "AllTraffic"


def test_a_request_with_a_tampered_body_is_rejected(server: ModelServerHandle) -> None:
    request = sagemaker_requests(server.url).post(b"3.2,840.0")
    reply = send(dataclasses.replace(request, body=b"9.9,840.0"))
    assert error_of(reply) == (403, "InvalidSignatureException", SIGNATURE_MISMATCH)


def test_a_request_with_a_tampered_signed_header_is_rejected(server: ModelServerHandle) -> None:
    request = sagemaker_requests(server.url, **{"target.variant": "variant-a"}).post(b"3.2,840.0")
    tampered = {**request.headers, "X-Amzn-SageMaker-Target-Variant": "variant-b"}
    reply = send(dataclasses.replace(request, headers=tampered))
    assert error_of(reply) == (403, "InvalidSignatureException", SIGNATURE_MISMATCH)


def test_a_request_sent_to_another_endpoint_name_is_rejected(server: ModelServerHandle) -> None:
    request = sagemaker_requests(server.url).post(b"3.2,840.0")
    reply = send(dataclasses.replace(request, url=request.url.replace("fare-model", "other-model")))
    assert error_of(reply) == (403, "InvalidSignatureException", SIGNATURE_MISMATCH)


def test_a_request_signed_with_another_secret_is_rejected(server: ModelServerHandle) -> None:
    config = inference_config({"endpoint.name": ENDPOINT_NAME})
    requests = endpoint_requests(config, server.url, lambda: ReadOnlyCredentials("testing", "wrong", "testing"))
    assert error_of(send(requests.post(b"3.2,840.0"))) == (403, "InvalidSignatureException", SIGNATURE_MISMATCH)


def test_a_request_with_unknown_credentials_is_rejected(server: ModelServerHandle) -> None:
    config = inference_config({"endpoint.name": ENDPOINT_NAME})
    requests = endpoint_requests(config, server.url, lambda: ReadOnlyCredentials("other", "testing", "testing"))
    assert error_of(send(requests.post(b"3.2,840.0"))) == (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


# -- API Gateway ---------------------------------------------------------------------------------------------------


def test_gateway_get_puts_the_csv_line_in_the_query() -> None:
    requests = gateway_requests("https://abc.execute-api.eu-west-1.amazonaws.com/prod/liveinference", method="GET")
    assert requests.get("3.2,840.0") == HttpRequest(
        "GET",
        "https://abc.execute-api.eu-west-1.amazonaws.com/prod/liveinference?features=3.2%2C840.0",
        {"Accept": "application/json"},
        None,
    )


def test_gateway_get_uses_the_configured_parameter_and_keeps_an_existing_query() -> None:
    requests = gateway_requests("http://h:8080/score?model=fare&v=2", method="GET", **{"query.parameter": "q"})
    assert requests.get("-1.5,1e-07").url == "http://h:8080/score?model=fare&v=2&q=-1.5%2C1e-07"


def test_gateway_post_without_auth_has_only_the_content_headers() -> None:
    request = gateway_requests("http://h/predict", **{"content.type": "application/json"}).post(b'{"instances":[]}')
    assert request == HttpRequest(
        "POST",
        "http://h/predict",
        {"Content-Type": "application/json", "Accept": "application/json"},
        b'{"instances":[]}',
    )


def test_api_key_is_sent_in_the_x_api_key_header() -> None:
    requests = gateway_requests("http://h/liveinference", auth="api_key", method="GET", **{"api.key": "k-123"})
    assert requests.get("3.2,840.0").headers == {"Accept": "application/json", "x-api-key": "k-123"}
    assert requests.post(b"3.2,840.0").headers == {
        "Content-Type": "text/csv",
        "Accept": "application/json",
        "x-api-key": "k-123",
    }


def test_a_get_with_the_api_key_is_accepted_and_a_wrong_key_is_forbidden() -> None:
    with model_server(auth="api_key", api_key="k-123") as server:
        url = f"{server.url}/liveinference"
        status, _, body = send(gateway_requests(url, auth="api_key", **{"api.key": "k-123"}).get("3.2,840.0"))
        assert (status, json.loads(body)) == (200, {"prediction": MODEL.predict([TRIP])[0]})
        wrong = gateway_requests(url, auth="api_key", **{"api.key": "k-999"}).get("3.2,840.0")
        assert error_of(send(wrong)) == (403, "ForbiddenException", "Forbidden")
        assert server.stats().by_status == {200: 1, 403: 1}


@pytest.mark.usefixtures("frozen_clock")
def test_iam_for_a_gateway_signs_for_execute_api_with_the_query() -> None:
    requests = gateway_requests("https://abc.execute-api.eu-west-1.amazonaws.com/prod/liveinference", auth="iam")
    request = requests.get("3.2,840.0")
    signed = {
        "Accept": "application/json",
        "Host": "abc.execute-api.eu-west-1.amazonaws.com",
        "X-Amz-Date": "20240102T030405Z",
        "X-Amz-Security-Token": "testing",
    }
    signature = sigv4("GET", "/prod/liveinference", "features=3.2%2C840.0", signed, b"", "execute-api")
    assert request.headers == {
        "Accept": "application/json",
        "X-Amz-Date": "20240102T030405Z",
        "X-Amz-Security-Token": "testing",
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential=testing/20240102/{REGION}/execute-api/aws4_request, "
            f"SignedHeaders=accept;host;x-amz-date;x-amz-security-token, Signature={signature}"
        ),
    }


def test_iam_get_and_post_for_execute_api_are_accepted(server: ModelServerHandle) -> None:
    get = gateway_requests(f"{server.url}/liveinference", auth="iam").get("3.2,840.0")
    status, _, body = send(get)
    assert (status, json.loads(body)) == (200, {"prediction": MODEL.predict([TRIP])[0]})
    post = gateway_requests(f"{server.url}/predict", auth="iam", **{"content.type": "application/json"}).post(
        b'{"instances":[[3.2,840.0],[1.05,300.0]]}'
    )
    status, _, body = send(post)
    assert (status, json.loads(body)) == (200, {"predictions": MODEL.predict([TRIP, [1.05, 300.0]])})
    assert server.stats().by_status == {200: 2}


def test_a_gateway_get_with_a_tampered_query_is_rejected(server: ModelServerHandle) -> None:
    request = gateway_requests(f"{server.url}/liveinference", auth="iam").get("3.2,840.0")
    reply = send(dataclasses.replace(request, url=request.url.replace("3.2", "9.9")))
    assert error_of(reply) == (403, "InvalidSignatureException", SIGNATURE_MISMATCH)


def test_a_gateway_request_signed_for_sagemaker_is_rejected(server: ModelServerHandle) -> None:
    # The SageMaker route of the same server takes the same credentials; the service in the scope must match.
    sagemaker = sagemaker_requests(server.url).post(b"3.2,840.0")
    reply = send(dataclasses.replace(sagemaker, url=f"{server.url}/predict"))
    assert error_of(reply) == (
        403,
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'execute-api'.",
    )
