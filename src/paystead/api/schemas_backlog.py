"""Request and response bodies of ``/v1/backlog`` (``optimize/backlog.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from paystead.api.schemas import Input, ObjectId, Output

Score = Annotated[int, Field(strict=True, ge=1, le=10)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Hypothesis = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
KpiKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Reach = Annotated[int, Field(strict=True, ge=0, le=2**53 - 1)]
OpenStatus = Literal["idea", "planned", "testing", "dropped"]


class BacklogItemCreate(Input):
    title: Title
    hypothesis: Hypothesis
    #: A KPI key of the catalog (insights/catalog.py), e.g. "payment_success_rate".
    target_kpi: KpiKey
    #: Expected impact on the target KPI, 1 (tiny) to 10 (huge).
    impact: Score
    #: Effort, 1 (hours) to 10 (a quarter of a team).
    effort: Score
    #: Confidence in the impact estimate, 1 (a hunch) to 10 (measured elsewhere).
    confidence: Score
    #: Subjects (customers or payments) reached per quarter, for RICE.
    reach: Reach | None = None
    status: OpenStatus = "idea"
    flag_key: Key | None = None
    experiment_key: Key | None = None


class BacklogItemUpdate(Input):
    title: Title | None = None
    hypothesis: Hypothesis | None = None
    target_kpi: KpiKey | None = None
    impact: Score | None = None
    effort: Score | None = None
    confidence: Score | None = None
    reach: Reach | None = None
    status: OpenStatus | None = None
    flag_key: Key | None = None
    experiment_key: Key | None = None


class BacklogShip(Input):
    #: An existing release marker (POST /v1/releases); without it one is recorded now.
    release: ObjectId | None = None
    #: The new release marker's name (default: the item's title).
    release_name: Title | None = None


class ImpactOut(Output):
    kpi: str
    released_at: int
    window_seconds: int
    before: str | None
    after: str | None
    change: str | None
    verdict: Literal["improved", "worsened", "unchanged", "unknown"]
    reason: str | None


class BacklogItemOut(Output):
    id: str
    object: Literal["backlog_item"] = "backlog_item"
    title: str
    hypothesis: str
    target_kpi: str
    impact: int
    effort: int
    confidence: int
    reach: int | None
    status: str
    flag_key: str | None
    experiment_key: str | None
    release: str | None
    ice: int
    rice: str | None
    quadrant: Literal["quick_win", "strategic_project", "nice_to_have", "avoid"]
    shipped_at: int | None
    created_by: str
    created: int
    updated: int
    #: Shipped with a release: the target KPI before and after (GET one item only).
    measured: ImpactOut | None = None
    deleted: bool | None = None


class BacklogList(Output):
    object: Literal["list"] = "list"
    #: Ranked by ``rank`` (ice or rice), highest first.
    rank: Literal["ice", "rice"]
    data: list[BacklogItemOut]
    has_more: bool = False
