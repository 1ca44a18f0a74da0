"""A model rollout in the real job: two production variants behind the endpoint, and a shadow endpoint.

Records are scored one by one (record mode) by the local model server: 70% of requests go to the current fare
model, 30% to a candidate without the duration feature; the server keeps which variant scored which trip, so each
window row (per key and variant) can be checked against its own model's error.  The shadow endpoint serves the
candidate alone and answers before the primary (the primary has latency, the shadow none), so every record carries
the shadow's prediction.  A shadow outage must leave the primary's output exactly as it would be without a shadow.
In window mode each window record names its variant and carries the shadow's prediction and their distance.
"""

from __future__ import annotations

import json
import statistics
import uuid
from pathlib import Path
from typing import Any

import pytest

from deploy.local.job_process import running_job
from deploy.local.model_server import (
    DEFAULT_SHADOW_ENDPOINT_NAME,
    Endpoint,
    ModelServerHandle,
    rollout_endpoints,
    running_model_server,
)
from deploy.local.stack import LocalAws, free_port
from deploy.local.testing import json_record_groups, prepare, read_lines, wait_until

from .test_inference import INFERENCE, T0, WINDOW_S, trips

ENDPOINT, SHADOW = rollout_endpoints(0.3)
CURRENT, CANDIDATE = ENDPOINT.variants
FEATURES = ("trip_distance", "duration_seconds")
FLUSH_S = 100 * WINDOW_S
# The shadow answers at once and the primary this much later, so that on a busy machine too every shadow answer is in
# before the primary's and every record carries one.
PRIMARY_LATENCY_MS = 300


def lines(aws: LocalAws, location: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(aws, location.bucket, location.key_prefix)[1]]


def run_job(
    aws: LocalAws, tmp_path: Path, inputs: list[dict[str, Any]], shadow_outage: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[tuple[float, ...], str]]:
    """Run the job on ``inputs``; (window records, dead letters, the variant that scored each trip's features)."""
    name = f"rollout-{uuid.uuid4().hex[:10]}"
    groups = json_record_groups(name, WINDOW_S, "fare_amount")
    groups["inference"] = {**INFERENCE, "max.attempts": "4"}
    groups["inference.shadow"] = {"type": "sagemaker", "endpoint.name": DEFAULT_SHADOW_ENDPOINT_NAME}
    config = prepare(aws, groups, tmp_path / "props.json")
    # Closes every window before it; features of its own, so each trip's features name one scored instance.
    flush = {**inputs[-1], "t": T0 + FLUSH_S * 1000, "trip_distance": 99.5}
    kinesis = aws.client("kinesis")
    for trip in [*inputs, flush]:
        kinesis.put_record(StreamName=config.source.stream_name, Data=json.dumps(trip).encode(), PartitionKey="p")

    expected_windows = len({(t["k"], (t["t"] - T0) // (WINDOW_S * 1000)) for t in inputs})
    with running_model_server(auth="iam", endpoints=(ENDPOINT, SHADOW), seed=7, keep_scored=True) as model:
        model.set_faults(endpoint=ENDPOINT.name, latency_ms=PRIMARY_LATENCY_MS)
        if shadow_outage:
            model.set_faults(endpoint=SHADOW.name, outage_until=4_000_000_000)
        env = {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url}
        with running_job(aws, tmp_path / "props.json", tmp_path / "job.log", free_port(), env=env):
            wait_until(
                lambda: sum(w["count"] for w in input_windows(aws, config.sink_s3.location)) >= len(inputs),
                180,
                "every record in a window",
            )
        variants = scored_variants(model)
        stats = model.stats()
    windows = input_windows(aws, config.sink_s3.location)
    assert len({(w["k"], w["window_start"]) for w in windows}) == expected_windows
    shadow_key = f"{SHADOW.name}/{CANDIDATE.name}"
    if shadow_outage:
        assert shadow_key not in stats.by_variant
    else:
        assert stats.by_variant[shadow_key] >= len(inputs)
    return windows, lines(aws, config.dead_letter.location), variants


def input_windows(aws: LocalAws, location: Any) -> list[dict[str, Any]]:
    """The window records of the inputs (the flush record's window may close too, on idleness)."""
    return [w for w in lines(aws, location) if _offset_s(w["window_start"]) < FLUSH_S]


def scored_variants(model: ModelServerHandle) -> dict[tuple[float, ...], str]:
    variants: dict[tuple[float, ...], str] = {}
    for scored in model.scored():
        if scored.endpoint == ENDPOINT.name:
            assert scored.features not in variants, "a trip was scored twice"
            variants[scored.features] = scored.variant
    return variants


def predict(endpoint: Endpoint, variant_name: str, members: list[dict[str, Any]]) -> list[float]:
    (variant,) = [v for v in endpoint.variants if v.name == variant_name]
    return endpoint.predict(variant, [[t[name] for name in FEATURES] for t in members])


def members_of(window: dict[str, Any], inputs: list[dict[str, Any]], variants: dict[Any, str]) -> list[Any]:
    start_ms = T0 + _offset_s(window["window_start"]) * 1000
    return [
        t
        for t in inputs
        if t["k"] == window["k"]
        and start_ms <= t["t"] < start_ms + WINDOW_S * 1000
        and variants[tuple(t[name] for name in FEATURES)] == window["prediction_variant"]
    ]


def differences(first: list[float], second: list[float]) -> list[float]:
    return [a - b for a, b in zip(first, second, strict=True)]


def mean_abs(values: list[float]) -> float:
    return statistics.fmean(abs(v) for v in values)


def test_windows_per_variant_each_with_its_own_error_and_the_shadows(local_aws: LocalAws, tmp_path: Path) -> None:
    inputs = trips(300, seed=5)
    windows, dead, variants = run_job(local_aws, tmp_path, inputs, shadow_outage=False)

    assert dead == []
    assert sum(w["count"] for w in windows) == len(inputs)
    per_variant = {
        name: sum(w["count"] for w in windows if w["prediction_variant"] == name) for name in variants.values()
    }
    assert set(per_variant) == {CURRENT.name, CANDIDATE.name}
    # Each variant's windows hold exactly the records that variant scored (weights split requests, not records).
    scored_by = [variants[tuple(t[name] for name in FEATURES)] for t in inputs]
    assert per_variant == {name: scored_by.count(name) for name in per_variant}
    for window in windows:
        members = members_of(window, inputs, variants)
        labels = [t["fare_amount"] for t in members]
        predictions = predict(ENDPOINT, window["prediction_variant"], members)
        shadow = predict(SHADOW, CANDIDATE.name, members)
        assert window["count"] == len(members) == window["shadow_count"]
        assert window["prediction_sum"] == pytest.approx(sum(predictions), rel=1e-12)
        assert window["mae"] == pytest.approx(mean_abs(differences(predictions, labels)), rel=1e-9)
        assert window["shadow_prediction_sum"] == pytest.approx(sum(shadow), rel=1e-12)
        assert window["shadow_mae"] == pytest.approx(mean_abs(differences(shadow, labels)), rel=1e-9)
        assert window["shadow_bias"] == pytest.approx(
            statistics.fmean(differences(shadow, labels)), rel=1e-9, abs=1e-12
        )
        assert window["disagreement"] == pytest.approx(mean_abs(differences(predictions, shadow)), rel=1e-9, abs=1e-12)
    # The candidate's windows compare it with itself.
    assert all(w["disagreement"] == 0 for w in windows if w["prediction_variant"] == CANDIDATE.name)


def test_a_shadow_outage_changes_nothing_in_the_primary_output(local_aws: LocalAws, tmp_path: Path) -> None:
    inputs = trips(150, seed=6)
    windows, dead, variants = run_job(local_aws, tmp_path, inputs, shadow_outage=True)

    assert dead == []
    assert sum(w["count"] for w in windows) == len(inputs)
    for window in windows:
        members = members_of(window, inputs, variants)
        labels = [t["fare_amount"] for t in members]
        predictions = predict(ENDPOINT, window["prediction_variant"], members)
        assert window["count"] == len(members)
        assert window["prediction_sum"] == pytest.approx(sum(predictions), rel=1e-12)
        assert window["mae"] == pytest.approx(mean_abs(differences(predictions, labels)), rel=1e-9)
        assert (window["shadow_count"], window["shadow_mae"], window["disagreement"]) == (0, None, None)


def _offset_s(iso: str) -> int:
    minutes, seconds = iso[len("2026-01-01T00:") : -1].split(":")
    return int(minutes) * 60 + int(seconds)


def test_window_scoring_names_the_variant_and_compares_the_shadow(local_aws: LocalAws, tmp_path: Path) -> None:
    inputs = trips(100, seed=8)
    name = f"rollout-w-{uuid.uuid4().hex[:10]}"
    groups = json_record_groups(name, WINDOW_S, "trip_distance,duration_seconds")
    groups["inference"] = {
        "input": "window",
        "type": "sagemaker",
        "endpoint.name": ENDPOINT.name,
        "features": "trip_distance_mean,duration_seconds_mean",
        "batch.size": "1",
    }
    groups["inference.shadow"] = {"type": "sagemaker", "endpoint.name": SHADOW.name}
    config = prepare(local_aws, groups, tmp_path / "props.json")
    flush = {**inputs[-1], "t": T0 + FLUSH_S * 1000}
    kinesis = local_aws.client("kinesis")
    for trip in [*inputs, flush]:
        kinesis.put_record(StreamName=config.source.stream_name, Data=json.dumps(trip).encode(), PartitionKey="p")
    expected_windows = len({(t["k"], (t["t"] - T0) // (WINDOW_S * 1000)) for t in inputs})

    with running_model_server(auth="iam", endpoints=(ENDPOINT, SHADOW), seed=7) as model:
        model.set_faults(endpoint=ENDPOINT.name, latency_ms=PRIMARY_LATENCY_MS)
        env = {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url}
        with running_job(local_aws, tmp_path / "props.json", tmp_path / "job.log", free_port(), env=env):
            wait_until(
                lambda: len(input_windows(local_aws, config.sink_s3.location)) >= expected_windows,
                180,
                "every window scored",
            )
    windows = input_windows(local_aws, config.sink_s3.location)
    assert len(windows) == expected_windows
    assert {w["prediction_variant"] for w in windows} <= {CURRENT.name, CANDIDATE.name}
    for window in windows:
        means = [window["trip_distance_mean"], window["duration_seconds_mean"]]
        variant = CURRENT if window["prediction_variant"] == CURRENT.name else CANDIDATE
        assert window["prediction"] == pytest.approx(ENDPOINT.predict(variant, [means])[0], rel=1e-12)
        assert window["shadow_prediction"] == pytest.approx(SHADOW.predict(CANDIDATE, [means])[0], rel=1e-12)
        assert window["disagreement"] == pytest.approx(abs(window["prediction"] - window["shadow_prediction"]))
