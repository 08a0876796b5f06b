"""Backlog scoring: ICE, RICE, the impact/effort matrix and the ranking (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from paystead.errors import InvalidInput
from paystead.optimize.backlog import (
    HIGH,
    Item,
    Quadrant,
    Status,
    _validated,
    ice,
    quadrant,
    ranked,
    rice,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def item(name: str, impact: int, effort: int, confidence: int, reach: int | None = None) -> Item:
    return Item(
        id=f"bli_{name}",
        title=name,
        hypothesis="h",
        target_kpi="payment_success_rate",
        impact=impact,
        effort=effort,
        confidence=confidence,
        reach=reach,
        status=Status.IDEA,
        flag_key=None,
        experiment_key=None,
        release_id=None,
        shipped_at=None,
        created_by="test",
        created_at=T0,
        updated_at=T0,
    )


def test_ice_uses_ease_as_eleven_minus_effort() -> None:
    assert ice(impact=8, confidence=5, effort=2) == 8 * 5 * 9 == 360
    assert ice(10, 10, 1) == 1000 and ice(1, 1, 10) == 1


def test_rice_is_reach_impact_confidence_over_effort() -> None:
    assert rice(reach=1200, impact=6, confidence=8, effort=4) == Decimal("14400.00")
    assert rice(reach=1000, impact=1, confidence=1, effort=3) == Decimal("333.33")
    assert rice(None, 5, 5, 5) is None


@pytest.mark.parametrize(
    ("impact", "effort", "expected"),
    [
        (HIGH, HIGH - 1, Quadrant.QUICK_WIN),
        (10, 1, Quadrant.QUICK_WIN),
        (HIGH, HIGH, Quadrant.STRATEGIC),
        (HIGH - 1, HIGH - 1, Quadrant.NICE_TO_HAVE),
        (1, 1, Quadrant.NICE_TO_HAVE),
        (HIGH - 1, HIGH, Quadrant.AVOID),
        (1, 10, Quadrant.AVOID),
    ],
)
def test_the_matrix_splits_at_the_documented_threshold(
    impact: int, effort: int, expected: Quadrant
) -> None:
    assert quadrant(impact, effort) is expected


def test_ranking_by_ice_and_rice() -> None:
    caching = item("caching", impact=7, effort=2, confidence=8, reach=100)  # ICE 504, RICE 2800
    ai = item("ai", impact=9, effort=9, confidence=5, reach=5000)  # ICE 90, RICE 25000
    polish = item("polish", impact=3, effort=2, confidence=9)  # ICE 243, no reach
    assert [i.title for i in ranked([ai, polish, caching])] == ["caching", "polish", "ai"]
    assert [i.title for i in ranked([polish, caching, ai], "rice")] == ["ai", "caching", "polish"]
    older = replace(polish, id="bli_older", created_at=T0 - timedelta(days=1))
    assert [i.id for i in ranked([polish, older])] == ["bli_older", "bli_polish"]
    with pytest.raises(InvalidInput) as caught:
        ranked([ai], "wsjf")
    assert caught.value.param == "rank"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"impact": 0}, "impact"),
        ({"effort": 11}, "effort"),
        ({"confidence": 5.5}, "confidence"),
        ({"target_kpi": "happiness"}, "target_kpi"),
        ({"reach": -1}, "reach"),
        ({"status": "done"}, "status"),
        ({"title": "  "}, "title"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_domain_validation_names_the_field(fields: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _validated(fields, partial=True)
    assert caught.value.param == param


def test_a_new_item_needs_its_scores() -> None:
    with pytest.raises(InvalidInput) as caught:
        _validated({"title": "t", "hypothesis": "h", "target_kpi": "revenue"}, partial=False)
    assert caught.value.param == "impact"
