"""HTTP requests for the model endpoints: SageMaker InvokeEndpoint and API Gateway routes.

Signing uses botocore's SigV4 signer with the default credential chain, so the same code
works with environment credentials locally and with the application's role on Managed Flink.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.session import Session

from config import EndpointConfig

CredentialsSource = Callable[[], ReadOnlyCredentials]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def default_credentials() -> CredentialsSource:
    """botocore's default chain; frozen per request so rotated role credentials are picked up."""
    credentials = Session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials found by the default credential chain")
    return credentials.get_frozen_credentials


def _signed(request: HttpRequest, service: str, region: str, credentials: CredentialsSource) -> HttpRequest:
    frozen = credentials()
    aws_request = AWSRequest(method=request.method, url=request.url, data=request.body, headers=request.headers)
    SigV4Auth(Credentials(frozen.access_key, frozen.secret_key, frozen.token), service, region).add_auth(aws_request)
    return HttpRequest(request.method, request.url, dict(aws_request.headers.items()), request.body)


class EndpointRequests:
    """Builds the request for one body (POST) or one CSV line (GET) of the configured endpoint."""

    def __init__(self, config: EndpointConfig, content_type: str, credentials: CredentialsSource) -> None:
        self._config = config
        self._content_type = content_type
        self._credentials = credentials
        self._url = config.url

    def post(self, body: bytes) -> HttpRequest:
        headers = {"Content-Type": self._content_type, "Accept": "application/json"}
        if self._config.target_variant:
            headers["X-Amzn-SageMaker-Target-Variant"] = self._config.target_variant
        if self._config.custom_attributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = self._config.custom_attributes
        return self._authorized(HttpRequest("POST", self._url, headers, body))

    def get(self, csv_features: str) -> HttpRequest:
        separator = "&" if "?" in self._url else "?"
        url = f"{self._url}{separator}{urlencode({self._config.query_parameter: csv_features})}"
        return self._authorized(HttpRequest("GET", url, {"Accept": "application/json"}, None))

    def _authorized(self, request: HttpRequest) -> HttpRequest:
        if self._config.auth == "iam":
            return _signed(request, self._config.signing_service, self._config.region, self._credentials)
        if self._config.auth == "api_key":
            return HttpRequest(
                request.method, request.url, {**request.headers, "x-api-key": self._config.api_key or ""}, request.body
            )
        return request
