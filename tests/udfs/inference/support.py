"""Shared pieces of the inference stage tests: configs built as the job builds them, the local model
server with one fitted model, credentials, and a transport that records what the stage sends."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.credentials import ReadOnlyCredentials

from config import AppConfig, InferenceConfig, build_config
from config.app import sagemaker_invocations_url
from deploy.local.model_server import LinearFareModel, ModelServerHandle, running_model_server
from deploy.local.stack import LOCAL_CREDENTIALS
from udfs.inference.requests import CredentialsSource, EndpointRequests, HttpRequest
from udfs.inference.stage import Response, Transport

REGION = "eu-west-1"
ENDPOINT_NAME = "fare-model"
# The model server's model takes (trip_distance, duration_seconds); fitted once for every server of the tests.
MODEL = LinearFareModel.fit()

_GROUPS: dict[str, dict[str, str]] = {
    "kinesis.source": {"stream.arn": f"arn:aws:kinesis:{REGION}:123456789012:stream/trips"},
    "records": {
        "format": "csv",
        "csv.columns": "vendor,t,trip_distance,duration_seconds",
        "key.fields": "vendor",
        "event.time.field": "t",
    },
    "window": {"size.seconds": "30", "aggregate.fields": "trip_distance"},
    "sink.s3": {"path": "s3://out-bucket/windows"},
    "sink.dlq": {"path": "s3://out-bucket/dlq"},
}


def app_config(properties: dict[str, str], environ: dict[str, str] | None = None) -> AppConfig:
    """The job's config with an ``inference`` group scoring records on (trip_distance, duration_seconds)."""
    group = {"input": "record", "features": "trip_distance,duration_seconds", **properties}
    return build_config({**_GROUPS, "inference": group}, environ or {})


def inference_config(properties: dict[str, str], environ: dict[str, str] | None = None) -> InferenceConfig:
    config = app_config(properties, environ).inference
    assert config is not None
    return config


def endpoint_requests(
    config: InferenceConfig, sagemaker_base: str | None, credentials: CredentialsSource
) -> EndpointRequests:
    """The stage's requests for ``config``, a SageMaker endpoint served at ``sagemaker_base`` where given."""
    endpoint = config.endpoint
    if sagemaker_base is not None and endpoint.type == "sagemaker":
        url = sagemaker_invocations_url(endpoint.endpoint_name or "", endpoint.region, sagemaker_base)
        endpoint = dataclasses.replace(endpoint, url=url)
    return EndpointRequests(endpoint, config.codec.content_type, credentials)


def local_credentials() -> ReadOnlyCredentials:
    return ReadOnlyCredentials(
        LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


@contextmanager
def model_server(**options: Any) -> Iterator[ModelServerHandle]:
    """A model server of its own (so a test's faults and counters are its own) serving :data:`MODEL`."""
    with running_model_server(model=MODEL, **options) as handle:
        yield handle


@dataclass
class Sent:
    request: HttpRequest
    at: float  # the loop's time when the stage handed the request over
    # The response status, or the name of the exception the exchange raised; None while it is under way.
    outcome: int | str | None = None


class RecordingTransport:
    """Wraps a transport, recording every exchange in the order the stage sends them; ``after(sent)`` runs once
    each exchange is over."""

    def __init__(self, inner: Transport, after: Callable[[list[Sent]], None] | None = None) -> None:
        self._inner = inner
        self._after = after
        self.sent: list[Sent] = []

    async def __call__(self, request: HttpRequest, timeout_s: float) -> Response:
        sent = Sent(request, asyncio.get_running_loop().time())
        self.sent.append(sent)
        try:
            response = await self._inner(request, timeout_s)
        except BaseException as error:
            sent.outcome = type(error).__name__
            raise
        else:
            sent.outcome = response[0]
            return response
        finally:
            if self._after is not None:
                self._after(self.sent)
