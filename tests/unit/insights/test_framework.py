"""The framework file: the seed's phases and targets as data, validated on load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from paystead.insights.catalog import BY_KEY, CATALOG, Direction
from paystead.insights.framework import (
    FrameworkError,
    Status,
    Target,
    assess,
    load_framework,
    parse_duration,
)

LAUNCH = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[3] / "docs" / "kpis.md"

# Every metric the seed document names, by the catalog key that carries it.
SEED_METRICS = [
    "payment_success_rate", "api_response_time_avg", "api_response_time_p95",
    "api_response_time_p99", "error_rate", "throughput_tps", "availability",
    "payment_processing_time", "db_query_time", "cache_hit_rate", "cold_start_share",
    "cdn_latency", "mobile_payment_success_rate", "payment_conversion_rate",
    "fraud_detection_accuracy", "fraud_false_positive_rate", "churn_prediction_accuracy",
    "mrr", "mrr_growth", "average_order_value", "revenue_growth", "customer_retention",
    "processing_cost_per_transaction", "nps", "csat", "support_ticket_volume",
    "time_to_resolution", "customer_acquisition_cost", "manual_interventions",
    "compliance_audit_time", "staff_productivity", "feature_releases",
]  # fmt: skip


def test_the_catalog_names_every_seed_metric_once() -> None:
    assert set(SEED_METRICS) <= set(BY_KEY)
    assert len(BY_KEY) == len(CATALOG)


def test_docs_list_every_kpi_with_its_formula() -> None:
    text = DOCS.read_text()
    for kpi in CATALOG:
        assert f"`{kpi.key}`" in text, kpi.key


def test_the_default_framework_holds_the_seed_phases_and_targets() -> None:
    framework = load_framework()
    keys = [p.key for p in framework.phases]
    assert keys[:3] == ["hour_1_6", "hour_6_24", "hour_24_72"]
    assert {"week_1", "week_2", "week_3", "week_4", "day_30", "day_90", "annual"} <= set(keys)
    hour_6_24 = framework.phase("hour_6_24")
    targets = {t.kpi: t for t in hour_6_24.targets}
    assert (targets["payment_success_rate"].op, targets["payment_success_rate"].value) == (
        ">",
        Decimal("99.2"),
    )
    assert targets["api_response_time_avg"].value == Decimal("1500")
    assert targets["error_rate"].value == Decimal("0.05")
    day_90 = {t.kpi: t for t in framework.phase("day_90").targets}
    assert day_90["nps"].value == Decimal("75")
    assert day_90["payment_success_rate"].value == Decimal("99.5")


@pytest.mark.parametrize(
    ("since_launch", "phase"),
    [
        (timedelta(minutes=1), "hour_1_6"),
        (timedelta(hours=6), "hour_6_24"),
        (timedelta(hours=71), "hour_24_72"),
        (timedelta(days=3), "week_1"),
        (timedelta(days=20), "week_3"),
        (timedelta(days=45), "day_30"),
        (timedelta(days=100), "day_90"),
        (timedelta(days=400), "annual"),
    ],
)
def test_the_current_phase_follows_the_time_since_launch(
    since_launch: timedelta, phase: str
) -> None:
    framework = load_framework()
    current = framework.current_phase(LAUNCH, LAUNCH + since_launch)
    assert current is not None and current.key == phase


def test_before_launch_there_is_no_phase() -> None:
    assert load_framework().current_phase(LAUNCH, LAUNCH - timedelta(seconds=1)) is None


def test_baseline_is_the_thirty_days_before_launch() -> None:
    start, end = load_framework().baseline_window(LAUNCH)
    assert (start, end) == (LAUNCH - timedelta(days=30), LAUNCH)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("name: x\nphases:\n  - {key: a, name: A, starts: 0h, targets: [{kpi: nope, op: '>', value: 1}]}", "unknown KPI 'nope'"),
        ("name: x\nphases:\n  - {key: a, name: A, starts: soon}", "phases.0.starts"),
        ("name: x\nphases:\n  - {key: a, name: A, starts: 6h, ends: 1h}", "ends before it starts"),
        ("name: x\nphases:\n  - {key: a, name: A, starts: 0h, targets: [{kpi: nps, op: '>', value: 1, relative: true}]}", "need a `baseline`"),
        ("name: x\nphases:\n  - {key: a, name: A, starts: 0h}\n  - {key: a, name: B, starts: 1h}", "unique"),
        ("name: x\nphases:\n  - {key: a, name: A, starts: 0h, targets: [{kpi: nps, op: '=', value: 1}]}", "phases.0.targets.0.op"),
        ("name: [unclosed", "not valid YAML"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_with_the_path_of_the_problem(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = tmp_path / "framework.yaml"
    path.write_text(text)
    with pytest.raises(FrameworkError) as excinfo:
        load_framework(path)
    assert complaint in excinfo.value.detail
    assert str(path) in excinfo.value.detail


def test_durations() -> None:
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("4w") == timedelta(weeks=4)
    with pytest.raises(ValueError):
        parse_duration("4 years")


def target(op: str, value: str, margin: str = "0", relative: bool = False) -> Target:
    return Target(
        kpi="payment_success_rate",
        op=op,
        value=Decimal(value),
        at_risk_margin=Decimal(margin),
        relative=relative,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("t", "value", "status"),
    [
        (target(">", "99", "0.2"), "99.5", Status.MET),
        (target(">", "99", "0.2"), "99.1", Status.AT_RISK),
        (target(">", "99", "0.2"), "99", Status.BREACHED),
        (target("<", "1500", "150"), "1400", Status.AT_RISK),
        (target("<", "1500", "150"), "1000", Status.MET),
        (target("<=", "0"), "0", Status.MET),
        (target("<=", "0"), "1", Status.BREACHED),
    ],
)
def test_assess(t: Target, value: str, status: Status) -> None:
    assert assess(t, Decimal(value)).status is status


def test_relative_targets_compare_the_change_against_the_baseline() -> None:
    fewer_tickets = target("<=", "-30", relative=True)
    assessment = assess(fewer_tickets, Decimal(65), baseline=Decimal(100))
    assert (assessment.status, assessment.compared) == (Status.MET, Decimal(-35))
    assert assess(fewer_tickets, Decimal(80), baseline=Decimal(100)).status is Status.BREACHED
    assert assess(fewer_tickets, Decimal(80), baseline=None).status is Status.NO_DATA
    assert assess(fewer_tickets, Decimal(80), baseline=Decimal(0)).status is Status.NO_DATA


def test_no_value_is_no_data_never_a_guess() -> None:
    assessment = assess(target(">", "99"), None)
    assert (assessment.status, assessment.compared) == (Status.NO_DATA, None)


def test_directions_agree_with_the_default_targets() -> None:
    # A "higher is better" KPI is never targeted with an upper bound, and vice versa,
    # unless the target is relative (then a negative change may be the goal).
    for phase in load_framework().phases:
        for t in phase.targets:
            if t.relative:
                continue
            kpi = BY_KEY[t.kpi]
            upper = t.op in ("<", "<=")
            assert upper == (kpi.direction is Direction.LOWER_IS_BETTER), (phase.key, t.kpi)
