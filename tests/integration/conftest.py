"""The integration tests run once per Kinesis emulator: moto, and kinesis-mock and kinesalite
with S3 and Firehose still on moto.  A test takes the ``aws`` fixture to run against all three."""

from __future__ import annotations

import pytest

from deploy.local.stack import LocalAws

KINESIS_EMULATORS = ("moto", "kinesis-mock", "kinesalite")
# The session fixture (tests/conftest.py) that runs each emulator other than moto.
_EMULATOR_FIXTURES = {"kinesis-mock": "kinesis_mock", "kinesalite": "kinesalite"}


@pytest.fixture(params=KINESIS_EMULATORS)
def aws(request: pytest.FixtureRequest, local_aws: LocalAws) -> LocalAws:
    """The local stack with Kinesis served by the emulator of the test's parameter."""
    if request.param == "moto":
        return local_aws
    emulator = request.getfixturevalue(_EMULATOR_FIXTURES[request.param])
    return local_aws.with_service_endpoint("kinesis", emulator.endpoint)
