from __future__ import annotations

from udfs.inference.stage import StageMetrics


def test_latency_percentiles_over_the_recent_requests() -> None:
    metrics = StageMetrics()
    assert metrics.latency_percentile_ms(0.5) == 0.0
    for latency in range(1, 101):
        metrics.request_done(float(latency))
    assert metrics.requests == 100
    assert metrics.latency_percentile_ms(0.5) == 51.0
    assert metrics.latency_percentile_ms(0.99) == 100.0
    assert metrics.latency_percentile_ms(1.0) == 100.0


def test_latency_window_keeps_only_the_most_recent_requests() -> None:
    metrics = StageMetrics()
    for _ in range(StageMetrics.LATENCY_WINDOW):
        metrics.request_done(500.0)
    for _ in range(StageMetrics.LATENCY_WINDOW):
        metrics.request_done(5.0)
    assert metrics.latency_percentile_ms(1.0) == 5.0
    assert metrics.requests == 2 * StageMetrics.LATENCY_WINDOW
