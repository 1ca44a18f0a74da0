"""The job with the inference stage, against the local model server with injected faults.

Each record is scored (record mode) by a SageMaker-contract endpoint that answers about 20%
of requests with 5xx and 10% with throttling, and rejects one poison record outright.  Every
record must be accounted for: in a window's count, or in the dead-letter path; the windows'
prediction sums must equal the model's own predictions for their records.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from deploy.local.job_process import running_job
from deploy.local.model_server import Faults, running_model_server
from deploy.local.stack import LocalAws, free_port
from deploy.local.testing import json_record_groups, prepare, read_lines, wait_until

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
POISON = -999.0
WINDOW_S = 10


def trips(count: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    result = []
    for i in range(count):
        distance = round(rng.uniform(0.5, 10.0), 2)
        duration = round(distance * rng.uniform(150, 330), 1)
        result.append(
            {
                "k": rng.choice(("a", "b")),
                "t": T0 + i * 200,  # 50 trips per 10 s window
                "trip_distance": distance,
                "duration_seconds": duration,
                "fare_amount": round(2.5 + 2.5 * distance + 0.35 * duration / 60, 2),
            }
        )
    return result


INFERENCE = {
    "input": "record",
    "type": "sagemaker",
    "endpoint.name": "fare-model",
    "features": "trip_distance,duration_seconds",
    "label.field": "fare_amount",
    "batch.size": "10",
    "batch.max.delay.ms": "20",
    "max.attempts": "12",
    "backoff.initial.ms": "10",
    "backoff.max.ms": "200",
}


def lines(aws: LocalAws, location: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(aws, location.bucket, location.key_prefix)[1]]


def test_record_scoring_with_faults_accounts_for_every_record(aws: LocalAws, tmp_path: Path) -> None:
    name = f"inf-{uuid.uuid4().hex[:10]}"
    groups = json_record_groups(name, WINDOW_S, "fare_amount")
    groups["inference"] = INFERENCE
    config = prepare(aws, groups, tmp_path / "props.json")

    inputs = trips(200)
    inputs[57]["trip_distance"] = POISON
    flush = {**inputs[-1], "t": T0 + 100 * WINDOW_S * 1000}  # closes every window before it
    kinesis = aws.client("kinesis")
    for trip in [*inputs, flush]:
        kinesis.put_record(StreamName=config.source.stream_name, Data=json.dumps(trip).encode(), PartitionKey="p")

    faults = Faults(error_rate=0.2, throttle_rate=0.1, poison_value=str(POISON))
    with running_model_server(auth="iam", faults=faults, seed=11) as model:
        env = {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url}
        expected_windows = len({(t["k"], (t["t"] - T0) // (WINDOW_S * 1000)) for t in inputs})
        with running_job(aws, tmp_path / "props.json", tmp_path / "job.log", free_port(), env=env):
            wait_until(
                lambda: (
                    len(lines(aws, config.sink_s3.location)) >= expected_windows
                    and len(lines(aws, config.dead_letter.location)) >= 1
                ),
                180,
                "every window and the poison record's dead letter",
            )
        stats = model.stats()
        predict = model.model.predict

    windows = lines(aws, config.sink_s3.location)
    dead = lines(aws, config.dead_letter.location)
    assert stats.by_status.get(503, 0) > 0 and stats.by_status.get(429, 0) > 0  # the faults did happen

    assert len(dead) == 1
    assert json.loads(dead[0]["payload"]) == inputs[57]
    assert dead[0]["stage"] == "inference"
    assert dead[0]["reason"].startswith("rejected 400 ModelError")

    scored = [t for i, t in enumerate(inputs) if i != 57]
    assert sum(w["count"] for w in windows) + len(dead) == len(inputs)
    assert len(windows) == expected_windows
    for window in windows:
        start_ms = T0 + _offset_s(window["window_start"]) * 1000
        members = [t for t in scored if t["k"] == window["k"] and start_ms <= t["t"] < start_ms + WINDOW_S * 1000]
        predictions = predict([[t["trip_distance"], t["duration_seconds"]] for t in members])
        errors = [p - t["fare_amount"] for p, t in zip(predictions, members, strict=True)]
        assert window["count"] == len(members)
        assert window["prediction_sum"] == pytest.approx(sum(predictions), rel=1e-12)
        assert window["prediction_min"] == pytest.approx(min(predictions), rel=1e-12)
        assert window["mae"] == pytest.approx(sum(abs(e) for e in errors) / len(errors), rel=1e-12)
        assert window["bias"] == pytest.approx(sum(errors) / len(errors), rel=1e-9, abs=1e-12)


def _offset_s(iso: str) -> int:
    minutes, seconds = iso[len("2026-01-01T00:") : -1].split(":")
    return int(minutes) * 60 + int(seconds)
