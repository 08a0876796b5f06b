"""The launch framework as data: phases after launch and the KPI targets of each.

The default file (``framework.default.yaml``) holds the seed document's phases and
targets; teams edit or replace it (``PAYSTEAD_FRAMEWORK_FILE``). It is validated on
load: an unknown KPI, a bad duration or a relative target without a baseline is
refused with the path of the offending entry.

A target is met, at risk or breached. "At risk" means met, but by no more than the
target's ``at_risk_margin`` (in the KPI's unit): close enough to the line to warn
before it is crossed. A target with ``relative: true`` compares the KPI's change
against the baseline period, in percent (``support_ticket_volume <= -30`` means "at
least 30 % fewer tickets than in the baseline").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from paystead.errors import InvalidInput
from paystead.insights.catalog import BY_KEY

_DURATION = re.compile(r"^\s*(\d+)\s*(m|h|d|w)\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: Any) -> timedelta:
    """``"90m"``, ``"6h"``, ``"3d"``, ``"4w"`` -> timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration like 30m, 6h, 3d or 4w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class FrameworkError(InvalidInput):
    code = "framework_invalid"
    title = "Invalid framework file"


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kpi: str
    op: Literal[">", ">=", "<", "<="]
    value: Decimal
    stretch: Decimal | None = None
    relative: bool = False
    window: Duration | None = None
    at_risk_margin: Decimal = Field(default=Decimal(0), ge=0)
    note: str | None = None

    @model_validator(mode="after")
    def _known_kpi(self) -> Target:
        if self.kpi not in BY_KEY:
            raise ValueError(f"unknown KPI {self.kpi!r} (see docs/kpis.md)")
        return self


class Phase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    starts: Duration
    ends: Duration | None = None
    targets: list[Target] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> Phase:
        if self.ends is not None and self.ends <= self.starts:
            raise ValueError(f"phase {self.key!r} ends before it starts")
        return self

    def contains(self, since_launch: timedelta) -> bool:
        return self.starts <= since_launch and (self.ends is None or since_launch < self.ends)

    @property
    def default_window(self) -> timedelta:
        """Targets without a window are measured over the phase's length (or 30 days)."""
        return (self.ends - self.starts) if self.ends is not None else timedelta(days=30)


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The baseline period ends at launch and lasts this long, unless dates are given.
    length: Duration = timedelta(days=30)
    start: datetime | None = None
    end: datetime | None = None


class Framework(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    name: str
    baseline: Baseline | None = None
    phases: list[Phase]

    @model_validator(mode="after")
    def _consistent(self) -> Framework:
        keys = [p.key for p in self.phases]
        if len(set(keys)) != len(keys):
            raise ValueError("phase keys must be unique")
        if self.baseline is None and any(t.relative for p in self.phases for t in p.targets):
            raise ValueError("relative targets need a `baseline` section")
        return self

    def phase(self, key: str) -> Phase:
        for phase in self.phases:
            if phase.key == key:
                return phase
        raise InvalidInput(f"no phase {key!r} in the framework", param="phase")

    def current_phase(self, launch_at: datetime, now: datetime) -> Phase | None:
        """The phase in force: of those containing ``now``, the one that started last."""
        since = now - launch_at
        live = [p for p in self.phases if p.contains(since)]
        return max(live, key=lambda p: p.starts) if live else None

    def baseline_window(self, launch_at: datetime) -> tuple[datetime, datetime]:
        base = self.baseline or Baseline()
        end = base.end or launch_at
        return base.start or end - base.length, end


def load_framework(path: str | Path | None = None) -> Framework:
    """Load and validate a framework file (the shipped default when ``path`` is None)."""
    if path is None:
        text = resources.files("paystead.insights").joinpath("framework.default.yaml").read_text()
        origin = "framework.default.yaml"
    else:
        text = Path(path).read_text()
        origin = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FrameworkError(f"{origin}: not valid YAML: {exc}") from None
    try:
        return Framework.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise FrameworkError(f"{origin}: {problems}") from None


class Status(StrEnum):
    MET = "met"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class Assessment:
    status: Status
    #: What was compared with the target: the KPI's value, or its % change for a
    #: relative target.
    compared: Decimal | None
    reason: str | None = None


def _satisfies(op: str, value: Decimal, threshold: Decimal) -> bool:
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
    }[op]


def assess(target: Target, value: Decimal | None, baseline: Decimal | None = None) -> Assessment:
    """Judge one KPI value against one target."""
    if value is None:
        return Assessment(Status.NO_DATA, None, "no data in the window")
    compared = value
    if target.relative:
        if baseline is None or baseline == 0:
            return Assessment(Status.NO_DATA, None, "no baseline value to compare against")
        compared = (value - baseline) / abs(baseline) * 100
    if not _satisfies(target.op, compared, target.value):
        return Assessment(Status.BREACHED, compared)
    if abs(compared - target.value) <= target.at_risk_margin and target.at_risk_margin > 0:
        return Assessment(Status.AT_RISK, compared)
    return Assessment(Status.MET, compared)
