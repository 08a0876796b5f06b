"""Canary rollouts: move a flag's canary variant through weight steps, guarded.

A rollout starts the canary at its first step (default 1% -> 5% -> 25% -> 50% -> 100%)
through ``FlagStore.set_weights``. Each tick (every minute in ``paystead serve``, or
``paystead rollout tick``) compares canary and control on the payments of subjects
exposed during the current step (``rollout:{id}:{step}`` in the exposure log):

- **roll back** (all traffic to control) when the canary's payment success rate is
  lower with the mSPRT's always-valid p-value below alpha (safe at every tick), or,
  once the step's minimum sample is reached, with a one-sided two-proportion z-test
  below alpha; when its error rate exceeds control's by more than
  ``max_error_increase`` with the same one-sided test; or when its p95 latency exceeds
  ``max_latency_ratio`` x control's p95 plus ``latency_slack_ms``;
- **hold** while the step is younger than ``min_step_seconds`` or either arm has fewer
  than ``min_sample`` answered payments;
- **promote** to the next step otherwise; promoting to 100% completes the rollout.

Every decision is stored with its reason and numbers (``rollout_decisions``), and each
change of state is an event (``rollout.*``).

    running ─▶ completed | rolled_back | aborted;   running ⇄ paused
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import sqlalchemy as sa
from scipy import stats as scipy_stats
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import Conflict, InvalidInput, NotFound
from paystead.events import catalog, outbox
from paystead.events.objects import unix
from paystead.ids import new_id
from paystead.optimize import stats
from paystead.optimize.analysis import Arm
from paystead.optimize.experiments import (
    TOTAL_WEIGHT,
    WeightSetter,
    apply_weights,
    check_variants,
)
from paystead.optimize.exposures import ExposureLog, rollout_key
from paystead.optimize.metrics import VariantWeight, collect_arms
from paystead.platform.db import Database
from paystead.platform.schema import rollout_decisions, rollouts

log = logging.getLogger(__name__)

DEFAULT_STEPS = (100, 500, 2_500, 5_000, 10_000)
ACTIVE = ("running", "paused")


class Action(StrEnum):
    START = "start"
    HOLD = "hold"
    PROMOTE = "promote"
    COMPLETE = "complete"
    ROLLBACK = "rollback"
    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"


@dataclass(frozen=True, slots=True)
class Guardrails:
    alpha: float = 0.05
    max_latency_ratio: float = 1.5
    latency_slack_ms: float = 50.0
    max_error_increase: float = 0.01
    #: mSPRT mixing variance for success-rate differences: effects of ~5 points.
    tau2: float = 0.0025

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Guardrails:
        return cls(**{k: float(v) for k, v in raw.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)


def _one_sided_worse(control: tuple[int, int], canary: tuple[int, int]) -> float:
    """P-value of H1: canary's rate below control's (pooled z)."""
    (sc, nc), (sv, nv) = control, canary
    pooled = (sc + sv) / (nc + nv)
    se = math.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nv))
    if se == 0:
        return 1.0
    z = (sv / nv - sc / nc) / se
    return float(scipy_stats.norm.cdf(z))


def _p95(values: Sequence[float]) -> float | None:
    return float(np.percentile(np.asarray(values, float), 95)) if values else None


def measure(control: Arm, canary: Arm) -> dict[str, Any]:
    def rate(a: int, n: int) -> float | None:
        return a / n if n else None

    return {
        "control": {
            "payments": control.payments,
            "success_rate": rate(control.succeeded, control.payments),
            "error_rate": rate(control.errors, control.payments),
            "p95_latency_ms": _p95(control.latencies_ms),
        },
        "canary": {
            "payments": canary.payments,
            "success_rate": rate(canary.succeeded, canary.payments),
            "error_rate": rate(canary.errors, canary.payments),
            "p95_latency_ms": _p95(canary.latencies_ms),
        },
    }


def decide(
    control: Arm,
    canary: Arm,
    *,
    step_age: timedelta,
    min_step_seconds: int,
    min_sample: int,
    guardrails: Guardrails,
    last_step: bool,
) -> Decision:
    """Promote, hold or roll back one step of a rollout (pure: the tick's core)."""
    numbers = measure(control, canary)
    g = guardrails
    enough = min(control.payments, canary.payments) >= min_sample
    if control.payments and canary.payments:
        c, v = (control.succeeded, control.payments), (canary.succeeded, canary.payments)
        diff = v[0] / v[1] - c[0] / c[1]
        sc, sv = stats.Proportion(*c), stats.Proportion(*v)
        variance = sc.rate * (1 - sc.rate) / sc.n + sv.rate * (1 - sv.rate) / sv.n
        # A canary that fails every payment against a perfect control has zero variance
        # in both arms: use the pooled variance so the evidence still counts.
        if variance == 0 and diff != 0:
            pooled = (c[0] + v[0]) / (c[1] + v[1])
            variance = pooled * (1 - pooled) * (1 / c[1] + 1 / v[1])
        seq_p = stats.msprt_p_value(diff, variance, g.tau2)
        numbers["success_rate_msprt_p"] = seq_p
        if diff < 0 and seq_p < g.alpha:
            return Decision(
                Action.ROLLBACK,
                f"payment success rate {sv.rate:.1%} on the canary vs {sc.rate:.1%} on "
                f"control (mSPRT always-valid p = {seq_p:.3g} < {g.alpha})",
                numbers,
            )
        if enough:
            p = _one_sided_worse(c, v)
            numbers["success_rate_one_sided_p"] = p
            if p < g.alpha:
                return Decision(
                    Action.ROLLBACK,
                    f"payment success rate {sv.rate:.1%} on the canary vs {sc.rate:.1%} on "
                    f"control (one-sided z-test p = {p:.3g} < {g.alpha})",
                    numbers,
                )
            ce, ve = control.errors / control.payments, canary.errors / canary.payments
            p_err = _one_sided_worse(
                (control.payments - control.errors, control.payments),
                (canary.payments - canary.errors, canary.payments),
            )
            numbers["error_rate_one_sided_p"] = p_err
            if ve - ce > g.max_error_increase and p_err < g.alpha:
                return Decision(
                    Action.ROLLBACK,
                    f"error rate {ve:.1%} on the canary vs {ce:.1%} on control "
                    f"(+{(ve - ce) * 100:.1f} points > {g.max_error_increase * 100:.1f}; "
                    f"one-sided p = {p_err:.3g})",
                    numbers,
                )
            p95_c = numbers["control"]["p95_latency_ms"]
            p95_v = numbers["canary"]["p95_latency_ms"]
            if p95_c is not None and p95_v is not None:
                limit = p95_c * g.max_latency_ratio + g.latency_slack_ms
                if p95_v > limit:
                    return Decision(
                        Action.ROLLBACK,
                        f"p95 latency {p95_v:.0f} ms on the canary vs {p95_c:.0f} ms on "
                        f"control (limit {limit:.0f} ms)",
                        numbers,
                    )
    if step_age < timedelta(seconds=min_step_seconds):
        left = timedelta(seconds=min_step_seconds) - step_age
        return Decision(Action.HOLD, f"step too young: {int(left.total_seconds())} s left", numbers)
    if not enough:
        return Decision(
            Action.HOLD,
            f"waiting for {min_sample} answered payments per arm "
            f"(control {control.payments}, canary {canary.payments})",
            numbers,
        )
    return Decision(
        Action.COMPLETE if last_step else Action.PROMOTE,
        "guardrails hold: success rate, error rate and p95 latency within limits",
        numbers,
    )


@dataclass(frozen=True, slots=True)
class Rollout:
    id: str
    flag_key: str
    canary: str
    control: str
    status: str
    steps: list[int]
    step_index: int
    step_started_at: datetime
    min_step_seconds: int
    min_sample: int
    guardrails: Guardrails
    reason: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def canary_weight(self) -> int:
        return self.steps[self.step_index]

    def weights(self, canary_weight: int) -> dict[str, int]:
        return {self.control: TOTAL_WEIGHT - canary_weight, self.canary: canary_weight}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "flag_key": self.flag_key,
            "canary": self.canary,
            "control": self.control,
            "status": self.status,
            "steps": list(self.steps),
            "step_index": self.step_index,
            "canary_weight": self.canary_weight,
            "step_started_at": self.step_started_at,
            "min_step_seconds": self.min_step_seconds,
            "min_sample": self.min_sample,
            "guardrails": asdict(self.guardrails),
            "reason": self.reason,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
        }


def rollout_object(rollout: Rollout) -> dict[str, Any]:
    """The rollout as the API shows it and its events carry it (unix seconds)."""
    return {
        "object": "rollout",
        **{k: unix(v) if isinstance(v, datetime) else v for k, v in rollout.to_json().items()},
    }


def _from_row(row: Any) -> Rollout:
    m = row._mapping
    return Rollout(
        id=m["id"],
        flag_key=m["flag_key"],
        canary=m["canary"],
        control=m["control"],
        status=m["status"],
        steps=[int(s) for s in m["steps"]],
        step_index=m["step_index"],
        step_started_at=m["step_started_at"],
        min_step_seconds=m["min_step_seconds"],
        min_sample=m["min_sample"],
        guardrails=Guardrails.of(m["guardrails"]),
        reason=m["reason"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        finished_at=m["finished_at"],
    )


@dataclass(frozen=True, slots=True)
class NewRollout:
    flag_key: str
    canary: str
    control: str
    steps: tuple[int, ...] = DEFAULT_STEPS
    min_step_seconds: int = 300
    min_sample: int = 100
    guardrails: Guardrails = Guardrails()

    def validate(self) -> None:
        if not 1 <= len(self.flag_key) <= 200:
            raise InvalidInput("flag_key has 1 to 200 characters", param="flag_key")
        for name in ("canary", "control"):
            if not 1 <= len(getattr(self, name)) <= 100:
                raise InvalidInput(f"{name} has 1 to 100 characters", param=name)
        if self.canary == self.control:
            raise InvalidInput("canary and control must differ", param="canary")
        steps = list(self.steps)
        if len(steps) < 2 or steps[-1] != TOTAL_WEIGHT:
            raise InvalidInput(
                "at least two steps, the last at 10000 basis points (100%)", param="steps"
            )
        if any(not 0 < s <= TOTAL_WEIGHT for s in steps) or steps != sorted(set(steps)):
            raise InvalidInput("steps rise strictly within 1..10000 basis points", param="steps")
        if self.min_step_seconds < 0:
            raise InvalidInput("min_step_seconds must not be negative", param="min_step_seconds")
        if self.min_sample < 1:
            raise InvalidInput("min_sample is at least 1", param="min_sample")
        g = self.guardrails
        if not 0 < g.alpha < 0.5:
            raise InvalidInput("alpha is between 0 and 0.5", param="guardrails.alpha")
        if g.max_latency_ratio < 1 or g.latency_slack_ms < 0 or g.max_error_increase < 0:
            raise InvalidInput(
                "latency ratio >= 1, slack and error increase >= 0", param="guardrails"
            )
        if g.tau2 <= 0:
            raise InvalidInput("tau2 must be positive", param="guardrails.tau2")


_EVENTS = {
    Action.PROMOTE: catalog.ROLLOUT_PROMOTED,
    Action.COMPLETE: catalog.ROLLOUT_COMPLETED,
    Action.ROLLBACK: catalog.ROLLOUT_ROLLED_BACK,
    Action.PAUSE: catalog.ROLLOUT_PAUSED,
    Action.RESUME: catalog.ROLLOUT_PAUSED,
    Action.ABORT: catalog.ROLLOUT_ABORTED,
    Action.START: catalog.ROLLOUT_STARTED,
}


class RolloutService:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        flags: WeightSetter | None,
        exposures: ExposureLog | None = None,
        base_currency: str = "INR",
    ):
        self.db = db
        self.clock = clock
        self.flags = flags
        self.exposures = exposures
        self.base_currency = base_currency

    async def _get(self, conn: AsyncConnection, rollout_id: str) -> Rollout:
        row = (await conn.execute(rollouts.select().where(rollouts.c.id == rollout_id))).first()
        if row is None:
            raise NotFound("rollout", rollout_id, param="id")
        return _from_row(row)

    async def get(self, rollout_id: str) -> Rollout:
        async with self.db.transaction() as conn:
            return await self._get(conn, rollout_id)

    async def all(self, status: str | None = None) -> list[Rollout]:
        query = rollouts.select().order_by(rollouts.c.created_at.desc(), rollouts.c.id.desc())
        if status is not None:
            query = query.where(rollouts.c.status == status)
        async with self.db.transaction() as conn:
            return [_from_row(r) for r in await conn.execute(query)]

    async def decisions(self, rollout_id: str) -> list[dict[str, Any]]:
        async with self.db.transaction() as conn:
            await self._get(conn, rollout_id)
            rows = await conn.execute(
                rollout_decisions.select()
                .where(rollout_decisions.c.rollout_id == rollout_id)
                .order_by(rollout_decisions.c.id)
            )
            return [
                {k: v for k, v in r._mapping.items() if k not in ("id", "rollout_id")} for r in rows
            ]

    async def _record(
        self,
        conn: AsyncConnection,
        rollout: Rollout,
        decision: Decision,
        now: datetime,
        *,
        event: bool,
        previous: dict[str, Any] | None = None,
        current: Rollout | None = None,
    ) -> None:
        """The decision taken at ``rollout``'s step; the event carries ``current`` (the
        rollout after the decision, default ``rollout``)."""
        await conn.execute(
            rollout_decisions.insert().values(
                rollout_id=rollout.id,
                step_index=rollout.step_index,
                canary_weight=rollout.canary_weight,
                action=decision.action.value,
                reason=decision.reason[:1000],
                metrics=decision.metrics,
                decided_at=now,
            )
        )
        if event:
            data = {**rollout_object(current or rollout), "decision": decision.action.value}
            await outbox.record(conn, _EVENTS[decision.action], data, at=now, previous=previous)

    async def create(self, new: NewRollout, *, actor: str = "api") -> Rollout:
        new.validate()
        await check_variants(
            self.flags, new.flag_key, {"canary": new.canary, "control": new.control}
        )
        now = self.clock()
        rollout_id = new_id("rol")
        async with self.db.transaction() as conn:
            busy = await conn.execute(
                sa.select(rollouts.c.id).where(
                    rollouts.c.flag_key == new.flag_key, rollouts.c.status.in_(ACTIVE)
                )
            )
            other = busy.first()
            if other is not None:
                raise Conflict(
                    f"rollout {other[0]} is already active on flag {new.flag_key!r}",
                    code="rollout_active",
                    param="flag_key",
                )
            await conn.execute(
                rollouts.insert().values(
                    id=rollout_id,
                    flag_key=new.flag_key,
                    canary=new.canary,
                    control=new.control,
                    status="running",
                    steps=list(new.steps),
                    step_index=0,
                    step_started_at=now,
                    min_step_seconds=new.min_step_seconds,
                    min_sample=new.min_sample,
                    guardrails=asdict(new.guardrails),
                    reason=None,
                    created_at=now,
                    updated_at=now,
                    finished_at=None,
                )
            )
            rollout = await self._get(conn, rollout_id)
            await self._record(
                conn,
                rollout,
                Decision(Action.START, f"canary at {rollout.canary_weight / 100:g}%"),
                now,
                event=True,
            )
        try:
            await apply_weights(
                self.flags,
                rollout.flag_key,
                rollout.weights(rollout.canary_weight),
                actor=actor,
                reason=f"rollout {rollout.id}: start at {rollout.canary_weight / 100:g}%",
                now=now,
            )
        except Exception as exc:  # the flag refused: the rollout never really started
            async with self.db.transaction() as conn:
                await conn.execute(
                    rollouts.update()
                    .where(rollouts.c.id == rollout.id)
                    .values(
                        status="aborted",
                        finished_at=now,
                        updated_at=now,
                        reason=f"could not set the flag's weights: {exc}"[:1000],
                    )
                )
            raise
        if self.exposures is not None:
            await self.exposures.refresh()
        return rollout

    async def _arms(self, conn: AsyncConnection, rollout: Rollout, now: datetime) -> list[Arm]:
        return await collect_arms(
            conn,
            rollout_key(rollout.id, rollout.step_index),
            [VariantWeight(rollout.control, 0), VariantWeight(rollout.canary, 0)],
            start=rollout.step_started_at,
            end=now,
            currency=self.base_currency,
            with_pre_period=False,
            with_churn=False,
        )

    async def tick(self, rollout_id: str, *, actor: str = "rollouts") -> Decision:
        """Evaluate one rollout now: promote, hold or roll back, recorded with its reason.

        The flag's weights change first; only then is the decision recorded, so a
        failure to change them leaves the rollout where it was (the next tick decides
        again on the same data). Recording is a compare-and-set on the step, so two
        ticks never both move it."""
        if self.exposures is not None:
            await self.exposures.flush(refresh=False)
        now = self.clock()
        async with self.db.transaction() as conn:
            rollout = await self._get(conn, rollout_id)
            if rollout.status != "running":
                raise Conflict(f"rollout {rollout_id} is {rollout.status}", code="rollout_state")
            control, canary = await self._arms(conn, rollout, now)
        decision = decide(
            control,
            canary,
            step_age=now - rollout.step_started_at,
            min_step_seconds=rollout.min_step_seconds,
            min_sample=rollout.min_sample,
            guardrails=rollout.guardrails,
            last_step=rollout.step_index + 2 == len(rollout.steps),
        )
        weight: int | None = None
        values: dict[str, Any] = {"updated_at": now}
        if decision.action is Action.ROLLBACK:
            weight = 0
            values.update(status="rolled_back", finished_at=now, reason=decision.reason)
        elif decision.action in (Action.PROMOTE, Action.COMPLETE):
            weight = rollout.steps[rollout.step_index + 1]
            values.update(step_index=rollout.step_index + 1, step_started_at=now)
            if decision.action is Action.COMPLETE:
                values.update(status="completed", finished_at=now, reason=decision.reason)
        if weight is not None:
            await apply_weights(
                self.flags,
                rollout.flag_key,
                rollout.weights(weight),
                actor=actor,
                reason=f"rollout {rollout.id}: {decision.action.value}: {decision.reason}"[:500],
                now=now,
            )
        async with self.db.transaction() as conn:
            updated = await conn.execute(
                rollouts.update()
                .where(rollouts.c.id == rollout.id, rollouts.c.status == "running")
                .where(rollouts.c.step_index == rollout.step_index)
                .values(**values)
            )
            if updated.rowcount != 1:  # paused, aborted or moved by another tick meanwhile
                return Decision(Action.HOLD, "the rollout changed during this tick", {})
            await self._record(
                conn,
                rollout,
                decision,
                now,
                event=weight is not None,
                previous={"status": rollout.status, "step_index": rollout.step_index},
                current=await self._get(conn, rollout.id),
            )
        if weight is not None and self.exposures is not None:
            await self.exposures.refresh()
        log.info("rollout %s: %s (%s)", rollout.id, decision.action.value, decision.reason)
        return decision

    async def tick_all(self) -> dict[str, Decision]:
        async with self.db.transaction() as conn:
            ids = [
                r[0]
                for r in await conn.execute(
                    sa.select(rollouts.c.id).where(rollouts.c.status == "running")
                )
            ]
        found: dict[str, Decision] = {}
        for rollout_id in ids:
            try:
                found[rollout_id] = await self.tick(rollout_id)
            except Conflict:
                continue  # paused or finished meanwhile
        return found

    async def _set_status(
        self, rollout_id: str, action: Action, allowed: tuple[str, ...], status: str, reason: str
    ) -> Rollout:
        now = self.clock()
        async with self.db.transaction() as conn:
            rollout = await self._get(conn, rollout_id)
            if rollout.status not in allowed:
                raise Conflict(f"rollout {rollout_id} is {rollout.status}", code="rollout_state")
        if action is Action.ABORT:  # traffic back to control before anything is recorded
            await apply_weights(
                self.flags,
                rollout.flag_key,
                rollout.weights(0),
                actor="api",
                reason=f"rollout {rollout.id} aborted: {reason}"[:500],
                now=now,
            )
        async with self.db.transaction() as conn:
            rollout = await self._get(conn, rollout_id)
            if rollout.status not in allowed:
                raise Conflict(f"rollout {rollout_id} is {rollout.status}", code="rollout_state")
            values: dict[str, Any] = {"status": status, "updated_at": now, "reason": reason}
            if action is Action.ABORT:
                values["finished_at"] = now
            if action is Action.RESUME:
                values["step_started_at"] = now  # the step's clock restarts
            moved = await conn.execute(
                rollouts.update()
                .where(rollouts.c.id == rollout.id, rollouts.c.status == rollout.status)
                .values(values)
            )
            if moved.rowcount != 1:
                raise Conflict(f"rollout {rollout_id} changed meanwhile", code="rollout_state")
            after = await self._get(conn, rollout.id)
            await self._record(
                conn,
                after,
                Decision(action, reason),
                now,
                event=True,
                previous={"status": rollout.status},
            )
        if action is Action.ABORT and self.exposures is not None:
            await self.exposures.refresh()
        return after

    async def pause(self, rollout_id: str, reason: str = "paused by hand") -> Rollout:
        return await self._set_status(rollout_id, Action.PAUSE, ("running",), "paused", reason)

    async def resume(self, rollout_id: str, reason: str = "resumed by hand") -> Rollout:
        return await self._set_status(rollout_id, Action.RESUME, ("paused",), "running", reason)

    async def abort(self, rollout_id: str, reason: str = "aborted by hand") -> Rollout:
        return await self._set_status(rollout_id, Action.ABORT, ACTIVE, "aborted", reason)


async def run_every_minute(
    service: RolloutService, clock: Callable[[], datetime], stop: asyncio.Event
) -> None:
    """The embedded rollout loop: one tick of every running rollout each minute."""
    while not stop.is_set():
        try:
            await service.tick_all()
        except Exception:  # a failed tick is retried next minute
            log.exception("rollout tick failed")
        now = clock()
        wait = 61 - now.second - now.microsecond / 1_000_000
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
