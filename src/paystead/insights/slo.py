"""SLOs, error budgets and multi-window, multi-burn-rate alerts.

Follows the Google SRE workbook ("Alerting on SLOs"): an alert fires when the error
budget burns faster than a rate over both a long and a short window, and resolves when
the short window drops back below that rate. The default rules (``BURN_RATE_RULES``):

    severity  long   short  burn rate  budget spent at firing
    page      1 h    5 min  14.4       2 %  (of a 30-day budget)
    page      6 h    30 min 6          5 %
    ticket    1 d    2 h    3          10 %
    ticket    3 d    6 h    1          10 %

Inputs are per-minute counts of good and total events (:class:`MinuteCounts`), so the
same evaluation runs on the database rollups of the embedded default and in tests on
synthetic streams; ``prometheus_rules`` writes the equivalent recording and alerting
rules for a team that runs Prometheus.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class BurnRateRule:
    severity: str
    long: timedelta
    short: timedelta
    burn_rate: Decimal

    @property
    def name(self) -> str:
        return f"{self.severity}_{_fmt(self.long)}_{_fmt(self.short)}"


def _fmt(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


BURN_RATE_RULES: tuple[BurnRateRule, ...] = (
    BurnRateRule("page", timedelta(hours=1), timedelta(minutes=5), Decimal("14.4")),
    BurnRateRule("page", timedelta(hours=6), timedelta(minutes=30), Decimal("6")),
    BurnRateRule("ticket", timedelta(days=1), timedelta(hours=2), Decimal("3")),
    BurnRateRule("ticket", timedelta(days=3), timedelta(hours=6), Decimal("1")),
)


@dataclass(frozen=True, slots=True)
class Slo:
    """``objective`` of events must be good, e.g. ``Decimal("0.999")`` for 99.9 %."""

    key: str
    name: str
    objective: Decimal
    #: PromQL for the good and total event rates, used by ``prometheus_rules``.
    good_query: str = ""
    total_query: str = ""
    rules: tuple[BurnRateRule, ...] = BURN_RATE_RULES

    def __post_init__(self) -> None:
        if not Decimal(0) < self.objective < Decimal(1):
            raise ValueError("an SLO objective lies strictly between 0 and 1")

    @property
    def error_budget(self) -> Fraction:
        return 1 - Fraction(self.objective)


class MinuteCounts:
    """Good/total event counts per minute, kept for the longest window needed.

    Running totals make every window sum two lookups (bisect), so evaluating four rules
    over three days of minutes stays cheap.
    """

    def __init__(self, keep: timedelta = timedelta(days=3)):
        self.keep = keep
        self._minutes: list[datetime] = []
        self._good: list[int] = [0]  # running totals; index i covers minutes[:i]
        self._total: list[int] = [0]

    def add(self, minute: datetime, good: int, total: int) -> None:
        if not 0 <= good <= total:
            raise ValueError("need 0 <= good <= total")
        minute = minute.replace(second=0, microsecond=0)
        if self._minutes and minute < self._minutes[-1]:
            raise ValueError("minutes must be added in order")
        if self._minutes and self._minutes[-1] == minute:
            self._good[-1] += good
            self._total[-1] += total
            return
        self._minutes.append(minute)
        self._good.append(self._good[-1] + good)
        self._total.append(self._total[-1] + total)
        if len(self._minutes) > 2 * int(self.keep / MINUTE) + 1:
            self._prune(minute - self.keep)

    def _prune(self, horizon: datetime) -> None:
        cut = bisect_right(self._minutes, horizon)
        base_good, base_total = self._good[cut], self._total[cut]
        self._minutes = self._minutes[cut:]
        self._good = [g - base_good for g in self._good[cut:]]
        self._total = [t - base_total for t in self._total[cut:]]

    def error_ratio(self, end: datetime, window: timedelta) -> Fraction | None:
        """Bad / total over the minutes in ``(end - window, end]``; None with no events."""
        lo = bisect_right(self._minutes, end - window)
        hi = bisect_right(self._minutes, end)
        total = self._total[hi] - self._total[lo]
        if total == 0:
            return None
        good = self._good[hi] - self._good[lo]
        return Fraction(total - good, total)


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    slo: str
    rule: str
    severity: str
    state: AlertState
    at: datetime
    long_burn: Fraction | None
    short_burn: Fraction | None


@dataclass
class BurnRateAlerts:
    """Evaluates an SLO's rules each minute and reports each firing and resolution once."""

    slo: Slo
    firing: dict[str, datetime] = field(default_factory=dict)

    def burn(self, counts: MinuteCounts, now: datetime, window: timedelta) -> Fraction | None:
        ratio = counts.error_ratio(now, window)
        return None if ratio is None else ratio / self.slo.error_budget

    def evaluate(self, counts: MinuteCounts, now: datetime) -> list[AlertEvent]:
        events = []
        for rule in self.slo.rules:
            long_burn = self.burn(counts, now, rule.long)
            short_burn = self.burn(counts, now, rule.short)
            threshold = Fraction(rule.burn_rate)
            over_long = long_burn is not None and long_burn >= threshold
            over_short = short_burn is not None and short_burn >= threshold
            if rule.name not in self.firing and over_long and over_short:
                self.firing[rule.name] = now
                state = AlertState.FIRING
            elif rule.name in self.firing and not over_short:
                del self.firing[rule.name]
                state = AlertState.RESOLVED
            else:
                continue
            events.append(
                AlertEvent(
                    self.slo.key, rule.name, rule.severity, state, now, long_burn, short_burn
                )
            )
        return events


def prometheus_rules(slos: list[Slo]) -> dict[str, Any]:
    """Recording and alerting rules equivalent to :class:`BurnRateAlerts` (Sloth-style)."""
    groups = []
    for slo in slos:
        budget = float(slo.error_budget)
        windows = sorted({w for r in slo.rules for w in (r.long, r.short)})
        recording: list[dict[str, Any]] = [
            {
                "record": f"paystead:slo_error_ratio:{slo.key}:rate{_fmt(w)}",
                "expr": (
                    f"1 - (sum(rate({slo.good_query}[{_fmt(w)}])) "
                    f"/ sum(rate({slo.total_query}[{_fmt(w)}])))"
                ),
            }
            for w in windows
        ]
        alerts: list[dict[str, Any]] = [
            {
                "alert": f"PaysteadSLOBurn_{slo.key}_{rule.name}",
                "expr": (
                    f"paystead:slo_error_ratio:{slo.key}:rate{_fmt(rule.long)} > "
                    f"({rule.burn_rate} * {budget:.6g}) and "
                    f"paystead:slo_error_ratio:{slo.key}:rate{_fmt(rule.short)} > "
                    f"({rule.burn_rate} * {budget:.6g})"
                ),
                "labels": {"severity": rule.severity, "slo": slo.key},
                "annotations": {
                    "summary": f"{slo.name}: error budget burning at {rule.burn_rate}x "
                    f"over {_fmt(rule.long)} and {_fmt(rule.short)}"
                },
            }
            for rule in slo.rules
        ]
        groups.append({"name": f"paystead-slo-{slo.key}", "rules": recording + alerts})
    return {"groups": groups}


DEFAULT_SLOS: tuple[Slo, ...] = (
    Slo(
        "availability",
        "API availability",
        Decimal("0.999"),
        good_query='paystead_http_requests_total{status!~"5.."}',
        total_query="paystead_http_requests_total",
    ),
    Slo(
        "payment_success",
        "Payment success",
        Decimal("0.992"),
        # a payment's first answer: authorized (manual capture) counts as a success
        good_query='paystead_payments_total{outcome=~"succeeded|authorized"}',
        total_query='paystead_payments_total{outcome=~"succeeded|authorized|failed"}',
    ),
    Slo(
        "latency",
        "API latency under 1 s",
        Decimal("0.99"),
        # prometheus-client writes the bound as "1.0"; Prometheus 3 normalises it to "1"
        good_query='paystead_http_request_duration_seconds_bucket{le=~"1|1.0"}',
        total_query="paystead_http_request_duration_seconds_count",
    ),
)
