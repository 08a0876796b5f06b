"""A/B experiments on a flag: draft, run, stop, and their results.

An experiment names a flag, its variants with weights (basis points; the first variant
is control), a hypothesis, a primary metric and guardrails. Starting it sets the flag's
weights (when a flag store is wired in) and makes the exposure hook log every subject
that meets the flag; its results come from those exposures joined to payments
(``optimize/metrics.py``), analysed by ``optimize/analysis.py``.

    draft ─start─▶ running ─stop─▶ stopped
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import Conflict, InvalidInput, NotFound
from paystead.events import catalog, outbox
from paystead.events.objects import unix
from paystead.ids import new_id
from paystead.optimize.analysis import METRICS, Analysis, analyze
from paystead.optimize.metrics import VariantWeight, collect_arms
from paystead.platform.db import Database
from paystead.platform.schema import experiments

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,99}$")
TOTAL_WEIGHT = 10_000
DEFAULT_GUARDRAILS = ("success_rate", "error_rate", "latency")


class WeightSetter(Protocol):
    """What experiments and rollouts need of the flag store (``optimize/flags``)."""

    def set_weights(
        self, key: str, weights: dict[str, int], *, actor: str, reason: str, now: datetime
    ) -> Any: ...


async def check_variants(
    flags: Any, flag_key: str, names: dict[str, str], *, param: str = "flag_key"
) -> None:
    """The flag exists and has each named variant (``names``: param -> variant); a
    store without ``get`` (or none) is not checked."""
    if flags is None or not hasattr(flags, "get"):
        return
    try:
        flag = await flags.get(flag_key)
    except NotFound:
        raise NotFound("flag", flag_key, param=param) from None
    variants = getattr(getattr(flag, "definition", None), "variants", None)
    if variants is None:
        return
    for where, name in names.items():
        if name not in variants:
            raise InvalidInput(
                f"flag {flag_key!r} has no variant {name!r} (it has {', '.join(variants)})",
                code="variant_unknown",
                param=where,
            )


async def apply_weights(
    flags: WeightSetter | None,
    key: str,
    weights: dict[str, int],
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    """Set a flag's weights through the store (sync or async); no store: nothing."""
    if flags is None:
        return
    result = flags.set_weights(key, weights, actor=actor, reason=reason, now=now)
    if inspect.isawaitable(result):
        await result


@dataclass(frozen=True, slots=True)
class Experiment:
    id: str
    key: str
    flag_key: str
    status: str
    hypothesis: str
    primary_metric: str
    guardrails: list[str]
    variants: list[VariantWeight]
    currency: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None

    @property
    def control(self) -> str:
        return self.variants[0].key

    @property
    def weights(self) -> dict[str, int]:
        return {v.key: v.weight for v in self.variants}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "flag_key": self.flag_key,
            "status": self.status,
            "hypothesis": self.hypothesis,
            "primary_metric": self.primary_metric,
            "guardrails": list(self.guardrails),
            "variants": [{"key": v.key, "weight": v.weight} for v in self.variants],
            "control": self.control,
            "currency": self.currency,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
        }


def experiment_object(experiment: Experiment) -> dict[str, Any]:
    """The experiment as the API shows it and its events carry it (unix seconds)."""
    return {
        "object": "experiment",
        **{k: unix(v) if isinstance(v, datetime) else v for k, v in experiment.to_json().items()},
    }


def _from_row(row: Any) -> Experiment:
    m = row._mapping
    return Experiment(
        id=m["id"],
        key=m["key"],
        flag_key=m["flag_key"],
        status=m["status"],
        hypothesis=m["hypothesis"],
        primary_metric=m["primary_metric"],
        guardrails=list(m["guardrails"]),
        variants=[VariantWeight(v["key"], int(v["weight"])) for v in m["variants"]],
        currency=m["currency"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        started_at=m["started_at"],
        stopped_at=m["stopped_at"],
    )


def validate_variants(raw: Sequence[tuple[str, int]], *, param: str = "variants") -> None:
    if not 2 <= len(raw) <= 10:
        raise InvalidInput("give control and 1 to 9 treatments", param=param)
    keys = [k for k, _ in raw]
    if len(set(keys)) != len(keys):
        raise InvalidInput("variant keys must be unique", param=param)
    for i, (key, weight) in enumerate(raw):
        if not 1 <= len(key) <= 100:
            raise InvalidInput("a variant key has 1 to 100 characters", param=f"{param}.{i}.key")
        if not 0 <= weight <= TOTAL_WEIGHT:
            raise InvalidInput("weights are 0..10000 basis points", param=f"{param}.{i}.weight")
    if sum(w for _, w in raw) != TOTAL_WEIGHT:
        raise InvalidInput("weights must sum to 10000 basis points", param=param)


@dataclass(frozen=True, slots=True)
class NewExperiment:
    key: str
    flag_key: str
    hypothesis: str
    variants: list[tuple[str, int]]
    primary_metric: str = "success_rate"
    guardrails: tuple[str, ...] = DEFAULT_GUARDRAILS
    currency: str | None = None

    def validate(self) -> None:
        if not KEY_PATTERN.match(self.key):
            raise InvalidInput(
                "key: lower-case letters, digits, '_', '.', '-'; at most 100", param="key"
            )
        if not 1 <= len(self.flag_key) <= 200:
            raise InvalidInput("flag_key has 1 to 200 characters", param="flag_key")
        if not 1 <= len(self.hypothesis) <= 2000:
            raise InvalidInput("hypothesis has 1 to 2000 characters", param="hypothesis")
        validate_variants(self.variants)
        if self.primary_metric not in METRICS:
            raise InvalidInput(
                f"primary_metric is one of {', '.join(METRICS)}", param="primary_metric"
            )
        for g in self.guardrails:
            if g not in METRICS:
                raise InvalidInput(f"guardrails are among {', '.join(METRICS)}", param="guardrails")


class ExperimentService:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        base_currency: str,
        flags: WeightSetter | None = None,
    ):
        self.db = db
        self.clock = clock
        self.base_currency = base_currency
        self.flags = flags

    async def create(self, new: NewExperiment, *, actor: str = "api") -> Experiment:
        new.validate()
        await check_variants(
            self.flags,
            new.flag_key,
            {f"variants.{i}.key": key for i, (key, _) in enumerate(new.variants)},
        )
        now = self.clock()
        values = {
            "id": new_id("exp"),
            "key": new.key,
            "flag_key": new.flag_key,
            "status": "draft",
            "hypothesis": new.hypothesis,
            "primary_metric": new.primary_metric,
            "guardrails": list(dict.fromkeys(new.guardrails)),
            "variants": [{"key": k, "weight": w} for k, w in new.variants],
            "currency": new.currency or self.base_currency,
            "created_at": now,
            "updated_at": now,
            "started_at": None,
            "stopped_at": None,
        }
        async with self.db.transaction() as conn:
            inserted = await conn.execute(
                sa.select(experiments.c.id).where(experiments.c.key == new.key)
            )
            if inserted.first() is not None:
                raise Conflict(f"experiment {new.key!r} exists", code="experiment_exists")
            try:
                await conn.execute(experiments.insert().values(values))
            except sa.exc.IntegrityError:
                raise Conflict(f"experiment {new.key!r} exists", code="experiment_exists") from None
            experiment = _from_row(
                (await conn.execute(experiments.select().where(experiments.c.key == new.key))).one()
            )
            await outbox.record(
                conn, catalog.EXPERIMENT_CREATED, experiment_object(experiment), at=now
            )
        return experiment

    async def get(self, key: str) -> Experiment:
        async with self.db.transaction() as conn:
            return await self._get(conn, key)

    async def _get(self, conn: AsyncConnection, key: str) -> Experiment:
        row = (await conn.execute(experiments.select().where(experiments.c.key == key))).first()
        if row is None:
            raise NotFound("experiment", key, param="key")
        return _from_row(row)

    async def all(self, status: str | None = None) -> list[Experiment]:
        query = experiments.select().order_by(experiments.c.created_at.desc())
        if status is not None:
            query = query.where(experiments.c.status == status)
        async with self.db.transaction() as conn:
            return [_from_row(r) for r in await conn.execute(query)]

    async def start(self, key: str, *, actor: str = "api") -> Experiment:
        """Set the flag's weights, then mark the experiment running (a failure to set
        the weights leaves it a draft)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            found = await self._get(conn, key)
            await self._check_startable(conn, found)
        await apply_weights(
            self.flags,
            found.flag_key,
            found.weights,
            actor=actor,
            reason=f"experiment {key} started",
            now=now,
        )
        async with self.db.transaction() as conn:
            found = await self._get(conn, key)
            await self._check_startable(conn, found)
            await conn.execute(
                experiments.update()
                .where(experiments.c.id == found.id, experiments.c.status == "draft")
                .values(status="running", started_at=now, updated_at=now)
            )
            started = await self._get(conn, key)
            await outbox.record(
                conn,
                catalog.EXPERIMENT_STARTED,
                experiment_object(started),
                at=now,
                previous={"status": "draft"},
            )
        return started

    async def _check_startable(self, conn: AsyncConnection, found: Experiment) -> None:
        if found.status != "draft":
            raise Conflict(f"experiment {found.key!r} is {found.status}", code="experiment_state")
        running = await conn.execute(
            sa.select(experiments.c.key).where(
                experiments.c.flag_key == found.flag_key, experiments.c.status == "running"
            )
        )
        other = running.first()
        if other is not None:
            raise Conflict(
                f"experiment {other[0]!r} already runs on flag {found.flag_key!r}",
                code="experiment_state",
            )

    async def stop(self, key: str, *, actor: str = "api") -> Experiment:
        now = self.clock()
        async with self.db.transaction() as conn:
            found = await self._get(conn, key)
            if found.status != "running":
                raise Conflict(f"experiment {key!r} is {found.status}", code="experiment_state")
            await conn.execute(
                experiments.update()
                .where(experiments.c.id == found.id)
                .values(status="stopped", stopped_at=now, updated_at=now)
            )
            stopped = await self._get(conn, key)
            await outbox.record(
                conn,
                catalog.EXPERIMENT_STOPPED,
                experiment_object(stopped),
                at=now,
                previous={"status": "running"},
            )
        return stopped

    async def results(self, key: str, *, alpha: float = 0.05) -> tuple[Experiment, Analysis]:
        """Every metric, every treatment against control, from the exposures so far."""
        async with self.db.transaction() as conn:
            experiment = await self._get(conn, key)
            start = experiment.started_at or experiment.created_at
            end = experiment.stopped_at or self.clock()
            arms = await collect_arms(
                conn,
                experiment.key,
                experiment.variants,
                start=start,
                end=end,
                currency=experiment.currency,
            )
        analysis = analyze(
            arms,
            primary_metric=experiment.primary_metric,
            guardrails=experiment.guardrails,
            alpha=alpha,
        )
        return experiment, analysis


async def running_flags(conn: AsyncConnection) -> dict[str, list[str]]:
    """Flag key -> keys of the experiments running on it (for the exposure hook)."""
    rows = await conn.execute(
        sa.select(experiments.c.flag_key, experiments.c.key).where(
            experiments.c.status == "running"
        )
    )
    found: dict[str, list[str]] = {}
    for flag_key, key in rows:
        found.setdefault(flag_key, []).append(key)
    return found
