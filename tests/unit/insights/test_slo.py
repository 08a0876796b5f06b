"""Burn-rate alerts driven by synthetic error streams: exactly when they fire and resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
import yaml

from paystead.insights.slo import (
    BURN_RATE_RULES,
    DEFAULT_SLOS,
    AlertState,
    BurnRateAlerts,
    MinuteCounts,
    Slo,
    prometheus_rules,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PER_MINUTE = 10_000
SLO = Slo("availability", "API availability", Decimal("0.999"))


def stream(baseline_minutes: int, burst_minutes: int, after_minutes: int) -> list[int]:
    """Bad events per minute: 0.05 % errors, then a 2 % burst, then 0.05 % again."""
    return [5] * baseline_minutes + [200] * burst_minutes + [5] * after_minutes


def run(bad_per_minute: list[int]) -> list[tuple[int, str, AlertState]]:
    counts = MinuteCounts()
    alerts = BurnRateAlerts(SLO)
    seen = []
    for i, bad in enumerate(bad_per_minute):
        now = T0 + timedelta(minutes=i)
        counts.add(now, PER_MINUTE - bad, PER_MINUTE)
        seen += [(i, e.rule, e.state) for e in alerts.evaluate(counts, now)]
    return seen


def test_the_fast_page_fires_and_resolves_on_the_minutes_worked_out_by_hand() -> None:
    # 1 h / 5 min at 14.4x of a 0.1 % budget: the 1 h error ratio must reach 1.44 %.
    # After k burst minutes: (200k + 5(60 - k)) / 600000 >= 0.0144  <=>  k >= 42.77,
    # so it fires on the 43rd burst minute. After the burst, the 5 min window holds j calm
    # minutes: (200(5 - j) + 5j) / 50000 < 0.0144  <=>  j >= 2.
    events = run(stream(120, 90, 30))
    page = [(i, state) for i, rule, state in events if rule == "page_1h_5m"]
    burst_start = 120
    assert page == [
        (burst_start + 42, AlertState.FIRING),
        (burst_start + 89 + 2, AlertState.RESOLVED),
    ]


def test_the_slow_page_needs_more_than_a_ninety_minute_burst() -> None:
    # 6 h / 30 min at 6x: the 6 h ratio must reach 0.6 %; 90 minutes at 2 % in 6 h give at
    # most (90 * 200 + 270 * 5) / 3_600_000 = 0.5375 %.
    events = run(stream(360, 90, 60))
    assert not [e for e in events if e[1] == "page_6h_30m"]


def test_a_steady_burn_below_budget_never_alerts() -> None:
    assert run([5] * (2 * 1440)) == []  # 0.05 % errors = burn rate 0.5


def test_no_events_means_no_alert() -> None:
    counts = MinuteCounts()
    alerts = BurnRateAlerts(SLO)
    assert alerts.evaluate(counts, T0) == []
    counts.add(T0, 0, 0)
    assert alerts.evaluate(counts, T0) == []


def reference_events(bad_per_minute: list[int]) -> list[tuple[int, str, AlertState]]:
    """An independent, brute-force reading of the SRE workbook rules."""
    budget = Fraction(1, 1000)
    firing: set[str] = set()
    out = []
    for i in range(len(bad_per_minute)):
        for rule in BURN_RATE_RULES:

            def ratio(window: timedelta, i: int = i) -> Fraction:
                n = int(window.total_seconds() // 60)
                window_bad = bad_per_minute[max(0, i - n + 1) : i + 1]
                return Fraction(sum(window_bad), PER_MINUTE * len(window_bad))

            over_long = ratio(rule.long) >= Fraction(rule.burn_rate) * budget
            over_short = ratio(rule.short) >= Fraction(rule.burn_rate) * budget
            if rule.name not in firing and over_long and over_short:
                firing.add(rule.name)
                out.append((i, rule.name, AlertState.FIRING))
            elif rule.name in firing and not over_short:
                firing.remove(rule.name)
                out.append((i, rule.name, AlertState.RESOLVED))
    return out


@pytest.mark.parametrize(
    "bad",
    [
        stream(1440, 90, 600),
        stream(60, 400, 400),
        [5] * 300 + [30] * 900 + [5] * 900,  # a slow 0.3 % burn: only the ticket rules
        [0, 500, 0, 0, 800, 0] * 100,  # spiky
    ],
)
def test_every_rule_matches_an_independent_reading(bad: list[int]) -> None:
    assert run(bad) == reference_events(bad)


def test_minute_counts_refuse_nonsense_and_merge_one_minute() -> None:
    counts = MinuteCounts()
    with pytest.raises(ValueError):
        counts.add(T0, 5, 4)
    counts.add(T0, 9, 10)
    counts.add(T0 + timedelta(seconds=30), 0, 10)  # same minute: merged
    assert counts.error_ratio(T0, timedelta(minutes=1)) == Fraction(11, 20)
    with pytest.raises(ValueError):
        counts.add(T0 - timedelta(minutes=1), 1, 1)


def test_objective_must_be_a_fraction() -> None:
    with pytest.raises(ValueError):
        Slo("x", "x", Decimal("1"))


def test_prometheus_rules_mirror_the_burn_rate_table() -> None:
    rules = prometheus_rules(list(DEFAULT_SLOS))
    text = yaml.safe_dump(rules)
    assert yaml.safe_load(text) == rules
    [availability] = [g for g in rules["groups"] if g["name"] == "paystead-slo-availability"]
    alerts = [r for r in availability["rules"] if "alert" in r]
    records = {r["record"] for r in availability["rules"] if "record" in r}
    assert len(alerts) == 4
    fast = next(a for a in alerts if a["alert"].endswith("page_1h_5m"))
    assert "(14.4 * 0.001)" in fast["expr"]
    assert "paystead:slo_error_ratio:availability:rate1h" in fast["expr"]
    assert "paystead:slo_error_ratio:availability:rate5m" in fast["expr"]
    assert fast["labels"] == {"severity": "page", "slo": "availability"}
    assert {
        f"paystead:slo_error_ratio:availability:rate{w}"
        for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    } == records


def test_running_totals_survive_pruning() -> None:
    import random

    rng = random.Random(4)
    counts = MinuteCounts(keep=timedelta(hours=1))
    history = []
    for i in range(400):  # well past twice the kept hour: pruned at least once
        total = rng.randrange(0, 50)
        good = rng.randrange(0, total + 1)
        counts.add(T0 + timedelta(minutes=i), good, total)
        history.append((good, total))
    last = T0 + timedelta(minutes=399)
    for minutes in (1, 5, 30, 60):
        window = history[-minutes:]
        bad = sum(t - g for g, t in window)
        total = sum(t for _, t in window)
        assert counts.error_ratio(last, timedelta(minutes=minutes)) == Fraction(bad, total)
