"""Request bodies and prediction responses of the model endpoint contracts.

``text/csv``: one instance per line, features only; ``application/json``: instances under a
configurable key.  Responses are read in SageMaker's built-in form
(``{"predictions": [{"score": 7.28}]}``), as a list of numbers under the configured field, a
single number under it (one instance), or, for CSV, one number per line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from config import CodecConfig


class DecodeError(ValueError):
    """The response holds no usable predictions for the instances sent."""


def csv_line(features: Sequence[float]) -> str:
    return ",".join(repr(float(value)) for value in features)


@dataclass(frozen=True)
class Codec:
    content_type: str
    instances_key: str = "instances"
    response_field: str = "predictions"
    score_field: str = "score"

    @classmethod
    def of(cls, config: CodecConfig) -> Codec:
        """The codec the ``inference`` group configures."""
        return cls(config.content_type, config.json_instances_key, config.json_response_field, config.json_score_field)

    def encode(self, instances: Sequence[Sequence[float]]) -> bytes:
        if self.content_type == "text/csv":
            return "\n".join(csv_line(features) for features in instances).encode()
        body = {self.instances_key: [[float(value) for value in features] for features in instances]}
        return json.dumps(body, separators=(",", ":")).encode()

    def halves(self, body: bytes, count: int) -> tuple[bytes, bytes]:
        """The bodies of the first ``count // 2`` instances of ``body`` and of the others."""
        middle = count // 2
        if self.content_type == "text/csv":
            lines = body.split(b"\n")
            return b"\n".join(lines[:middle]), b"\n".join(lines[middle:])
        instances = json.loads(body)[self.instances_key]
        return self.encode(instances[:middle]), self.encode(instances[middle:])

    def decode(self, body: bytes, expected: int) -> list[float]:
        text = body.decode("utf-8", errors="replace").strip()
        if self.content_type == "text/csv" and not text.startswith(("{", "[")):
            predictions = [_number(line, "line") for line in text.splitlines() if line.strip()]
        else:
            predictions = self._from_json(text)
        if len(predictions) != expected:
            raise DecodeError(f"expected {expected} predictions, got {len(predictions)}")
        return predictions

    def _from_json(self, text: str) -> list[float]:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):  # JSONDecodeError, too many digits, too deep
            raise DecodeError(f"response is not JSON: {text[:200]!r}") from None
        value = document.get(self.response_field) if isinstance(document, dict) else document
        if value is None:
            raise DecodeError(f"response has no field {self.response_field!r}: {text[:200]!r}")
        items = value if isinstance(value, list) else [value]
        return [self._score(item) for item in items]

    def _score(self, item: Any) -> float:
        if isinstance(item, dict):
            if self.score_field not in item:
                raise DecodeError(f"prediction has no field {self.score_field!r}: {item!r}")
            item = item[self.score_field]
        return _number(item, "prediction")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise DecodeError(f"{what} is not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DecodeError(f"{what} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise DecodeError(f"{what} is not finite: {value!r}")
    return number
