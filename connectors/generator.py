"""A taxi-trip source inside the job, in place of Kinesis, for measuring the job's own ceiling.

Local Kinesis emulators take far fewer records per second than the job; this source emits the
same records the local producer writes (the workshop's JSON string of a CSV line), stamped
with their emission time as Kinesis stamps arrival time, so the rest of the job is unchanged.
The records come from a Java generator: no Python worker sits on the source's path.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyflink.datastream.connectors import Source

from connectors.jvm import project_class

__all__ = ["TripGenerator", "trip_generator_source"]

ENDLESS = 2**63 - 1


@dataclass(frozen=True)
class TripGenerator:
    """How the in-job source generates: rate 0 means as fast as the job takes records."""

    records_per_second: float = 0.0
    count: int = ENDLESS
    seed: int = 7
    # Every n-th record is malformed (0: none); 100 matches the local producer's 1 %.
    malformed_every: int = 100

    def __post_init__(self) -> None:
        if self.records_per_second < 0 or self.count < 1 or self.malformed_every < 0:
            raise ValueError(f"invalid generator settings: {self}")


class TripGeneratorSource(Source):
    """The Java ``TripGeneratorSource``: a bounded or endless, optionally rate-limited source."""


def trip_generator_source(generator: TripGenerator) -> TripGeneratorSource:
    """The source: payload rows as the Kinesis source emits them, generated with their emission time as arrival."""
    j_class = project_class("generator.TripGeneratorSource")
    j_source = j_class.create(
        float(generator.records_per_second), generator.count, generator.seed, generator.malformed_every
    )
    return TripGeneratorSource(j_source)
