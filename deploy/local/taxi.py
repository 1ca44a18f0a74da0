"""Synthetic taxi trips in the workshop's record form, with a known fare model.

A trip is 16 comma-separated features; the producer sends each as a JSON string whose
content is the CSV line (quotes included), one trip per Kinesis record.
"""

from __future__ import annotations

import json
import random

COLUMNS = (
    "vendor_id",
    "trip_distance",
    "pickup_longitude",
    "pickup_latitude",
    "rate_code",
    "dropoff_longitude",
    "dropoff_latitude",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "fare_amount",
    "duration_seconds",
    "payment_card",
    "payment_cash",
    "payment_other",
)

# The fare the generator charges: base + per mile + per minute, plus noise of this spread.
FARE_BASE = 2.5
FARE_PER_MILE = 2.5
FARE_PER_MINUTE = 0.35
FARE_NOISE_STDDEV = 0.5


def random_trip(rng: random.Random) -> tuple[float, ...]:
    distance = round(rng.uniform(0.3, 12.0), 2)
    duration = round(distance * rng.uniform(150.0, 330.0), 1)
    fare = FARE_BASE + FARE_PER_MILE * distance + FARE_PER_MINUTE * duration / 60.0
    fare = round(max(2.5, fare + rng.gauss(0.0, FARE_NOISE_STDDEV)), 2)
    pickup_lon, pickup_lat = -73.98 + rng.uniform(-0.05, 0.05), 40.75 + rng.uniform(-0.05, 0.05)
    payment = rng.choice(((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)))
    return (
        float(rng.choice((1, 2))),
        distance,
        round(pickup_lon, 6),
        round(pickup_lat, 6),
        1.0,
        round(pickup_lon + rng.uniform(-0.03, 0.03), 6),
        round(pickup_lat + rng.uniform(-0.03, 0.03), 6),
        rng.choice((0.0, 0.5, 1.0)),
        0.5,
        round(rng.uniform(0.0, 3.0), 2) if payment[0] else 0.0,
        0.0,
        fare,
        duration,
        *payment,
    )


# Written without a decimal point, as in the workshop's records.
_INTEGER_COLUMNS = frozenset({COLUMNS.index("vendor_id"), COLUMNS.index("rate_code")})


def csv_line(trip: tuple[float, ...]) -> str:
    return ",".join(str(int(v)) if i in _INTEGER_COLUMNS else repr(v) for i, v in enumerate(trip))


def workshop_record(trip: tuple[float, ...]) -> bytes:
    """The producer's form: a JSON-encoded string holding the CSV line."""
    return json.dumps(csv_line(trip)).encode("utf-8")
