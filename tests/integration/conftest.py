"""The integration tests run once per Kinesis emulator: moto, and kinesis-mock with S3 and
Firehose still on moto.  A test takes the ``aws`` fixture to run against both."""

from __future__ import annotations

import pytest

from deploy.local.stack import LocalAws

KINESIS_EMULATORS = ("moto", "kinesis-mock")


@pytest.fixture(params=KINESIS_EMULATORS)
def aws(request: pytest.FixtureRequest, local_aws: LocalAws) -> LocalAws:
    """The local stack with Kinesis served by the emulator of the test's parameter."""
    if request.param == "moto":
        return local_aws
    return local_aws.with_service_endpoint("kinesis", request.getfixturevalue("kinesis_mock").endpoint)
