"""Thin Flink adapters around :class:`InferenceStage`: the async functions and their wiring.

The async function's event loop runs on its own thread and starts after ``open()``, so the
HTTP session and the stage are created on first use inside ``async_invoke``.  Nothing an
endpoint does may fail the job: every outcome, including a timeout, becomes a row with
``ok`` false and a dead-letter line.

The stage's own bound on a record's stay (``operator_timeout_ms``) is kept on the event loop:
the operator's timeout would start a timer thread for every record, which costs more CPU than
scoring a record in a batch.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from pyflink.common import Row, Time, Types
from pyflink.common.typeinfo import TypeInformation
from pyflink.datastream import AsyncDataStream, DataStream
from pyflink.datastream.functions import AsyncFunction, RuntimeContext

from config import InferenceConfig
from udfs import dead_letters
from udfs.dead_letters import Stage
from udfs.inference.requests import EndpointRequests, default_credentials
from udfs.inference.rollout import ShadowMetrics, ShadowScorer
from udfs.inference.stage import InferenceError, InferenceStage, Scored, StageMetrics, aiohttp_transport

OK = "ok"
LINE = "line"
# The model variant that answered, and the shadow model's prediction (see udfs.inference.rollout).
PREDICTION_VARIANT = "prediction_variant"
SHADOW_PREDICTION = "shadow_prediction"
DISAGREEMENT = "disagreement"


def _dead_letter(payload: str, reason: str, arrival_time: str | None = None) -> str:
    """A dead-letter line of the inference stage."""
    return dead_letters.line(payload, Stage.INFERENCE, reason, arrival_time)


class _ScoringFunction(AsyncFunction):
    """Shared plumbing: metrics in ``open``, the stage on first use, outcomes as rows."""

    def __init__(self, config: InferenceConfig) -> None:
        self._config = config
        self._stage: InferenceStage | None = None
        self._metrics: StageMetrics | None = None
        self._shadow_metrics: ShadowMetrics | None = None

    def open(self, runtime_context: RuntimeContext) -> None:
        group = runtime_context.get_metrics_group().add_group("inference")
        metrics = StageMetrics()
        for name in ("requests", "instances", "retries", "failures", "dead_lettered", "in_flight"):
            group.gauge(name, lambda name=name: int(getattr(metrics, name)))
        # A latency histogram as percentile gauges over the recent requests.
        for label, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
            group.gauge(f"request_latency_ms_{label}", lambda f=fraction: round(metrics.latency_percentile_ms(f)))
        self._metrics = metrics
        if self._config.shadow is not None:
            self._shadow_metrics = ShadowMetrics()
            self._shadow_metrics.register(runtime_context.get_metrics_group().add_group("KinesisAnalytics"))

    def _stage_on_this_loop(self) -> InferenceStage:
        if self._stage is None:
            # capacity = requests in flight, each of up to batch.size records.
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._config.batching.capacity))
            config = self._config
            credentials = default_credentials()
            requests = EndpointRequests(config.endpoint, config.codec.content_type, credentials)
            shadow = None
            if config.shadow is not None:
                shadow_requests = EndpointRequests(
                    config.shadow.endpoint, config.shadow.codec.content_type, credentials
                )
                # A session of its own: shadow requests never take a connection the primary's are waiting for.
                limit = config.batching.capacity
                shadow_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit))
                shadow_transport = aiohttp_transport(shadow_session)
                shadow = ShadowScorer(config.shadow, shadow_requests, shadow_transport, self._shadow_metrics)
            transport = aiohttp_transport(session)
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


class RecordScoringFunction(_ScoringFunction):
    """Scores one parsed record; emits the record's window fields, its prediction and label.

    Output: ``ok``, ``line`` (the dead-letter line when not ok), the key fields, the carried
    numeric fields (aggregated ones and the label) and the prediction.
    """

    def __init__(
        self,
        config: InferenceConfig,
        key_fields: tuple[str, ...],
        value_fields: tuple[str, ...],
    ) -> None:
        super().__init__(config)
        self._key_fields = key_fields
        self._value_fields = value_fields

    async def async_invoke(self, value: Row) -> list[Row]:
        try:
            features = [float(value[name]) for name in self._config.features]
            scored = await self._predict(features)
        except TimeoutError:
            return self.timeout(value)
        except InferenceError as error:
            return [self._failed(value, str(error))]
        except Exception as error:  # noqa: BLE001 - a bad record must not fail the job
            return [self._failed(value, f"cannot score: {type(error).__name__}: {error}")]
        return [self._row(value, True, None, scored)]

    def timeout(self, value: Row) -> list[Row]:
        return [self._failed(value, "inference stage timed out")]

    def _failed(self, value: Row, reason: str) -> Row:
        return self._row(value, False, _dead_letter(value["payload"], reason, value["arrival"]), None)

    def _row(self, value: Row, ok: bool, line: str | None, scored: Scored | None) -> Row:
        fields: list[Any] = [ok, line]
        fields += [value[name] for name in self._key_fields]
        fields += [value[name] for name in self._value_fields]
        fields.append(scored.prediction if scored is not None else None)
        if self._config.endpoint.variant_header is not None:
            fields.append(scored.variant if scored is not None else None)
        if self._config.shadow is not None:
            fields.append(scored.shadow if scored is not None else None)
        return Row(*fields)


def record_output_columns(
    config: InferenceConfig, key_fields: tuple[str, ...], value_fields: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """(name, SQL type) of :class:`RecordScoringFunction`'s output, in order."""
    columns = [(OK, "BOOLEAN"), (LINE, "STRING")]
    columns += [(name, "STRING") for name in key_fields]
    columns += [(name, "DOUBLE") for name in (*value_fields, config.prediction_field)]
    if config.endpoint.variant_header is not None:
        columns.append((PREDICTION_VARIANT, "STRING"))
    if config.shadow is not None:
        columns.append((SHADOW_PREDICTION, "DOUBLE"))
    return tuple(columns)


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
    """The unordered async stage.

    ``capacity`` counts requests in flight, so the operator holds up to capacity x batch.size
    records.  No operator timeout (0): the function bounds each record's stay itself.
    """
    return AsyncDataStream.unordered_wait(stream, function, Time.milliseconds(0), config.records_in_flight, output)
