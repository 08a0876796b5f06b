"""Webhook, email and SMS delivery attempts are integration-health telemetry."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from paystead.telemetry import rollups
from paystead.telemetry.recorder import Telemetry


def test_each_attempt_is_counted_by_channel_and_outcome_and_timed() -> None:
    telemetry = Telemetry(clock=lambda: datetime(2026, 11, 1, tzinfo=UTC))
    telemetry.delivery("webhook", True, 0.12)
    telemetry.delivery("webhook", False, 5.0)
    telemetry.delivery("email", True, 0.3)

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(telemetry.exposition().decode())
        for s in family.samples
    }
    assert (
        samples[("paystead_deliveries_total", (("channel", "webhook"), ("outcome", "succeeded")))]
        == 1
    )
    assert (
        samples[("paystead_deliveries_total", (("channel", "webhook"), ("outcome", "failed")))] == 1
    )
    assert samples[("paystead_delivery_duration_seconds_count", (("channel", "webhook"),))] == 2
    assert samples[("paystead_delivery_duration_seconds_sum", (("channel", "email"),))] == 0.3
    key = (rollups.DELIVERY_DURATION, rollups.labels(channel="webhook", outcome="failed"))
    current = telemetry.rollups._current[key]
    assert (current.count, current.sum) == (1, 5.0)
