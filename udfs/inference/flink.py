"""Thin Flink adapters around the stage: the async functions and their wiring.

Record mode scores batches built in Java (:class:`BatchScoringFunction`, one request per
element); window mode scores window by window (:class:`WindowScoringFunction`).  The async
function's event loop runs on its own thread and starts after ``open()``, so the HTTP session
and the stage are created on first use inside ``async_invoke``.  Nothing an endpoint does may
fail the job: every outcome, including a timeout, becomes data (a failure reason per record,
which becomes a dead-letter line).

The stage's own bound on a record's stay (``operator_timeout_ms``) is kept on the event loop:
the operator's timeout would start a timer thread for every record, which costs more CPU than
scoring a record in a batch.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import aiohttp
from pyflink.common import Row, Time, Types
from pyflink.common.typeinfo import TypeInformation
from pyflink.datastream import AsyncDataStream, DataStream
from pyflink.datastream.functions import AsyncFunction, RuntimeContext

from config import InferenceConfig
from udfs import dead_letters
from udfs.dead_letters import Stage
from udfs.inference.codecs import Codec
from udfs.inference.requests import EndpointRequests, default_credentials
from udfs.inference.rollout import ShadowCall, ShadowMetrics, ShadowScorer
from udfs.inference.stage import (
    BatchRequests,
    BatchScorer,
    InferenceError,
    InferenceStage,
    Scored,
    StageMetrics,
    aiohttp_transport,
)

OK = "ok"
LINE = "line"
# The model variant that answered, and the shadow model's prediction (see udfs.inference.rollout).
PREDICTION_VARIANT = "prediction_variant"
SHADOW_PREDICTION = "shadow_prediction"
DISAGREEMENT = "disagreement"


def _dead_letter(payload: str, reason: str, arrival_time: str | None = None) -> str:
    """A dead-letter line of the inference stage."""
    return dead_letters.line(payload, Stage.INFERENCE, reason, arrival_time)


# Metric group Managed Flink sends to CloudWatch, and the stage's metrics in it.
METRIC_GROUP = "KinesisAnalytics"
_COUNTS = (
    ("inferenceRequests", "requests"),
    ("instancesScored", "instances"),
    ("inferenceRetries", "retries"),
    ("inferenceFailures", "failures"),
    ("inferenceInFlight", "in_flight"),
)
_LATENCIES = (("inferenceLatencyP50Ms", 0.5), ("inferenceLatencyP95Ms", 0.95), ("inferenceLatencyP99Ms", 0.99))


def register_metrics(runtime_context: RuntimeContext, metrics: StageMetrics) -> None:
    """The stage's metrics as gauges read from ``metrics`` when reported (nothing per record)."""
    group = runtime_context.get_metrics_group().add_group(METRIC_GROUP)
    for name, attribute in _COUNTS:
        group.gauge(name, lambda attribute=attribute: int(getattr(metrics, attribute)))
    # A latency histogram as percentile gauges over the recent requests.
    for name, fraction in _LATENCIES:
        group.gauge(name, lambda f=fraction: round(metrics.latency_percentile_ms(f)))
    group.gauge("inferenceBatchSize", lambda: round(metrics.mean_batch_size()))


class _ScoringFunction(AsyncFunction):
    """Shared plumbing: metrics in ``open``, the stage on first use, outcomes as rows."""

    def __init__(self, config: InferenceConfig) -> None:
        self._config = config
        self._stage: InferenceStage | None = None
        self._metrics: StageMetrics | None = None
        self._shadow_metrics: ShadowMetrics | None = None
        self._shadow: ShadowScorer | None = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self._metrics = StageMetrics()
        register_metrics(runtime_context, self._metrics)
        if self._config.shadow is not None:
            self._shadow_metrics = ShadowMetrics()
            self._shadow_metrics.register(runtime_context.get_metrics_group().add_group(METRIC_GROUP))

    def _shadow_on_this_loop(self) -> ShadowScorer | None:
        shadow = self._config.shadow
        if shadow is not None and self._shadow is None:
            requests = EndpointRequests(shadow.endpoint, shadow.codec.content_type, default_credentials())
            # A session of its own: shadow requests never take a connection the primary's are waiting for.
            transport = aiohttp_transport(self._session())
            self._shadow = ShadowScorer(shadow, requests, transport, self._shadow_metrics)
        return self._shadow

    def _session(self) -> aiohttp.ClientSession:
        # capacity = requests in flight, each of up to batch.size records.
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._config.batching.capacity))

    def _endpoint_requests(self) -> EndpointRequests:
        return EndpointRequests(self._config.endpoint, self._config.codec.content_type, default_credentials())

    def _stage_on_this_loop(self) -> InferenceStage:
        if self._stage is None:
            transport = aiohttp_transport(self._session())
            shadow = self._shadow_on_this_loop()
            requests = self._endpoint_requests()
            self._stage = InferenceStage(self._config, requests, transport, self._metrics, shadow=shadow)
        return self._stage

    async def _predict(self, features: list[float]) -> Scored:
        """The prediction; raises TimeoutError past the stage's bound on a record's stay."""
        stage = self._stage_on_this_loop()
        return await asyncio.wait_for(stage.predict_scored(features), self._config.operator_timeout_ms / 1000.0)


class WindowScoringFunction(_ScoringFunction):
    """Scores a window record by its aggregates; emits ``Row(ok, line)``."""

    async def async_invoke(self, value: Row) -> list[Row]:
        window = value.as_dict()
        try:
            features = [float(window[name]) for name in self._config.features]
            scored = await self._predict(features)
            window[self._config.prediction_field] = scored.prediction
            window.update(rollout_fields(self._config, scored))
        except TimeoutError:
            return self.timeout(value)
        except InferenceError as error:
            return [Row(False, _dead_letter(json.dumps(window, separators=(",", ":")), str(error)))]
        except Exception as error:  # noqa: BLE001 - a bad record must not fail the job
            reason = f"cannot score: {type(error).__name__}: {error}"
            return [Row(False, _dead_letter(json.dumps(window, default=str), reason))]
        return [Row(True, json.dumps(window, separators=(",", ":")))]

    def timeout(self, value: Row) -> list[Row]:
        payload = json.dumps(value.as_dict(), separators=(",", ":"), default=str)
        return [Row(False, _dead_letter(payload, "inference stage timed out"))]


WINDOW_OUTPUT_COLUMNS = ((OK, "BOOLEAN"), (LINE, "STRING"))


class BatchScoringFunction(_ScoringFunction):
    """Scores a batch built in Java (``InferenceStreams.BATCH``): one request per element.

    In: ``Row(body: bytes, count: int, records: bytes)``.  Out (``BATCH_OUTCOME``):
    ``Row(records, predictions, failures, reasons, variants, shadow)``: the records as they came,
    one prediction per record (NaN where it failed), each record's index into ``reasons`` (-1
    when scored; an empty list when every record was scored), the distinct failure reasons, the
    variant of each record's prediction ("" for none; an empty list when the answers name
    none) and the shadow's prediction of each record (NaN for none; an empty list when the
    shadow scored none of them in time).
    """

    def __init__(self, config: InferenceConfig) -> None:
        super().__init__(config)
        self._scorer: BatchScorer | None = None
        body_type = "text/csv" if config.endpoint.method == "GET" else config.codec.content_type
        self._body_codec = Codec(body_type, config.codec.json_instances_key)

    def _scorer_on_this_loop(self) -> BatchScorer:
        if self._scorer is None:
            assert self._metrics is not None
            transport = aiohttp_transport(self._session())
            requests = BatchRequests(self._config, self._endpoint_requests(), transport, self._metrics)
            self._scorer = BatchScorer(self._config, requests)
        return self._scorer

    async def async_invoke(self, value: Row) -> list[Row]:
        body, count, records = value[0], value[1], value[2]
        metrics = self._metrics
        assert metrics is not None
        metrics.in_flight += count
        # The shadow gets the batch at the same time as the primary, and the primary never waits for it.  Its task is
        # made first, so that its request leaves first: with endpoints as fast as each other, its answer is then in
        # by the time the primary's is.
        shadow = self._start_shadow(body, count)
        try:
            scoring = self._scorer_on_this_loop().score(body, count)
            timeout_s = self._config.operator_timeout_ms / 1000.0
            outcome = await asyncio.wait_for(asyncio.ensure_future(scoring), timeout_s)
        except TimeoutError:
            return self.timeout(value)
        except Exception as error:  # noqa: BLE001 - a bad batch must not fail the job
            return [self._all_failed(records, count, f"cannot score: {type(error).__name__}: {error}")]
        finally:
            metrics.in_flight -= count
        variants = [variant or "" for variant in outcome.variants] if outcome.variants is not None else []
        shadow_predictions = _shadow_predictions(shadow)
        if outcome.errors is None:
            return [Row(records, outcome.predictions, [], [], variants, shadow_predictions)]
        metrics.dead_lettered += sum(error is not None for error in outcome.errors)
        reasons: dict[str, int] = {}
        failures = [-1 if error is None else reasons.setdefault(str(error), len(reasons)) for error in outcome.errors]
        return [Row(records, outcome.predictions, failures, list(reasons), variants, shadow_predictions)]

    def _start_shadow(self, body: bytes, count: int) -> ShadowCall | None:
        try:
            shadow = self._shadow_on_this_loop()
            return shadow.start_body(body, count, self._body_codec) if shadow is not None else None
        except Exception:  # noqa: BLE001 - the shadow must never cost the primary its batch
            if self._shadow_metrics is not None:
                self._shadow_metrics.failures += 1
            return None

    def timeout(self, value: Row) -> list[Row]:
        return [self._all_failed(value[2], value[1], "inference stage timed out")]

    def _all_failed(self, records: bytes, count: int, reason: str) -> Row:
        if self._metrics is not None:
            self._metrics.dead_lettered += count
        return Row(records, [math.nan] * count, [0] * count, [reason], [], [])


def _shadow_predictions(shadow: ShadowCall | None) -> list[float]:
    predictions = shadow.predictions_now() if shadow is not None else None
    return predictions if predictions is not None else []


BATCH_OUTCOME = Types.ROW_NAMED(
    ["records", "predictions", "failures", "reasons", "variants", "shadow"],
    [
        Types.PRIMITIVE_ARRAY(Types.BYTE()),
        Types.PRIMITIVE_ARRAY(Types.DOUBLE()),
        Types.PRIMITIVE_ARRAY(Types.INT()),
        Types.BASIC_ARRAY(Types.STRING()),
        Types.BASIC_ARRAY(Types.STRING()),
        Types.PRIMITIVE_ARRAY(Types.DOUBLE()),
    ],
)


def record_output_columns(
    config: InferenceConfig, key_fields: tuple[str, ...], value_fields: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """(name, SQL type) of the scored records (``InferenceStreams.records``), in order: ``ok``, ``line`` (the
    dead-letter line when not ok), the key fields, the carried numeric fields (aggregated ones and the label) and
    the prediction."""
    columns = [(OK, "BOOLEAN"), (LINE, "STRING")]
    columns += [(name, "STRING") for name in key_fields]
    columns += [(name, "DOUBLE") for name in (*value_fields, config.prediction_field)]
    if config.endpoint.variant_header is not None:
        columns.append((PREDICTION_VARIANT, "STRING"))
    if config.shadow is not None:
        columns.append((SHADOW_PREDICTION, "DOUBLE"))
    return tuple(columns)


def rollout_field_names(config: InferenceConfig) -> tuple[str, ...]:
    """The fields :func:`rollout_fields` adds to a scored window, in order."""
    names: tuple[str, ...] = ()
    if config.endpoint.variant_header is not None:
        names += (PREDICTION_VARIANT,)
    if config.shadow is not None:
        names += (SHADOW_PREDICTION, DISAGREEMENT)
    return names


def rollout_fields(config: InferenceConfig, scored: Scored) -> dict[str, Any]:
    """A scored window's variant and, with a shadow, the shadow's prediction and its distance from the primary's."""
    fields: dict[str, Any] = {}
    if config.endpoint.variant_header is not None:
        fields[PREDICTION_VARIANT] = scored.variant
    if config.shadow is not None:
        fields[SHADOW_PREDICTION] = scored.shadow
        fields[DISAGREEMENT] = abs(scored.prediction - scored.shadow) if scored.shadow is not None else None
    return fields


_TYPE_INFO = {"BOOLEAN": Types.BOOLEAN, "STRING": Types.STRING, "DOUBLE": Types.DOUBLE}


def row_type(columns: tuple[tuple[str, str], ...]) -> TypeInformation:
    return Types.ROW_NAMED([name for name, _ in columns], [_TYPE_INFO[kind]() for _, kind in columns])


def score(
    stream: DataStream, function: _ScoringFunction, config: InferenceConfig, output: TypeInformation
) -> DataStream:
    """The unordered async stage, one element per instance.

    ``capacity`` counts requests in flight, so the operator holds up to capacity x batch.size
    records.  No operator timeout (0): the function bounds each record's stay itself.
    """
    scored = AsyncDataStream.unordered_wait(stream, function, Time.milliseconds(0), config.records_in_flight, output)
    return scored.name(scoring_name(config)).uid("inference-score")


def score_batches(batches: DataStream, config: InferenceConfig) -> DataStream:
    """The unordered async stage, one element per batch: ``capacity`` batches (requests) in flight."""
    function = BatchScoringFunction(config)
    scored = AsyncDataStream.unordered_wait(
        batches, function, Time.milliseconds(0), config.batching.capacity, BATCH_OUTCOME
    )
    return scored.name(scoring_name(config)).uid("inference-score-batches")


def scoring_name(config: InferenceConfig) -> str:
    """The scoring operator's name: which endpoint it calls."""
    endpoint = config.endpoint
    if endpoint.type == "sagemaker":
        return f"Score: SageMaker {endpoint.endpoint_name}"
    return f"Score: API Gateway {endpoint.url}"
