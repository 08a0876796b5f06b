"""KPIs that come from outside the system: surveys, support tickets, marketing spend,
manual entries and release markers.

Each arrives through the API or a CSV import (the same validation for both) and is
recorded with who recorded it and when. The KPI queries in ``measure.py`` read these
tables; with no rows a KPI says "no data", never a made-up value.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import InvalidInput
from paystead.events import catalog, outbox
from paystead.events.context import current as current_context
from paystead.ids import new_id
from paystead.insights.catalog import BY_KEY, Source
from paystead.money import MAX_AMOUNT, currency
from paystead.platform.db import Database, insert_ignoring_conflicts
from paystead.platform.schema import (
    kpi_entries,
    marketing_spend,
    release_markers,
    support_tickets,
    survey_responses,
)

Timestamp = Annotated[int, Field(strict=False, ge=0, le=253402300799)]


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SurveyResponseIn(_Input):
    kind: Literal["nps", "csat"]
    score: Annotated[int, Field(ge=0, le=10)]
    customer: Annotated[str, Field(max_length=40)] | None = None
    responded_at: Timestamp | None = None

    @model_validator(mode="after")
    def _scale(self) -> SurveyResponseIn:
        if self.kind == "csat" and not 1 <= self.score <= 5:
            raise ValueError("a CSAT score is 1 to 5")
        return self


class SupportTicketIn(_Input):
    external_id: Annotated[str, Field(min_length=1, max_length=100)]
    opened_at: Timestamp
    resolved_at: Timestamp | None = None

    @model_validator(mode="after")
    def _order(self) -> SupportTicketIn:
        if self.resolved_at is not None and self.resolved_at < self.opened_at:
            raise ValueError("resolved_at is before opened_at")
        return self


class MarketingSpendIn(_Input):
    amount: Annotated[int, Field(gt=0, le=MAX_AMOUNT)]
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    period_start: Timestamp
    period_end: Timestamp
    channel: Annotated[str, Field(max_length=64)] | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return currency(value).code

    @model_validator(mode="after")
    def _period(self) -> MarketingSpendIn:
        if self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
        return self


class KpiEntryIn(_Input):
    kpi: str
    value: Annotated[str, Field(max_length=40)]
    period_start: Timestamp
    period_end: Timestamp
    note: Annotated[str, Field(max_length=500)] | None = None

    @field_validator("kpi")
    @classmethod
    def _manual(cls, value: str) -> str:
        kpi = BY_KEY.get(value)
        if kpi is None or kpi.source is not Source.MANUAL:
            manual = sorted(k.key for k in BY_KEY.values() if k.source is Source.MANUAL)
            raise ValueError(f"{value!r} is not a manually entered KPI; use one of {manual}")
        return value

    @field_validator("value")
    @classmethod
    def _decimal(cls, value: str) -> str:
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            raise ValueError("value must be a decimal number written as a string") from None
        if not parsed.is_finite():
            raise ValueError("value must be finite")
        return str(parsed)

    @model_validator(mode="after")
    def _period(self) -> KpiEntryIn:
        if self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
        return self


class ReleaseIn(_Input):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["feature", "fix", "infrastructure", "experiment"] = "feature"
    released_at: Timestamp | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None


INPUTS: dict[str, type[_Input]] = {
    "surveys": SurveyResponseIn,
    "tickets": SupportTicketIn,
    "spend": MarketingSpendIn,
    "entries": KpiEntryIn,
    "releases": ReleaseIn,
}


def _who() -> str:
    return current_context().actor


async def record(conn: AsyncConnection, item: _Input, now: datetime) -> dict[str, Any]:
    """Store one validated input; returns the stored row as the API shows it."""
    who = _who()
    if isinstance(item, SurveyResponseIn):
        row = {
            "id": new_id("svy"),
            "kind": item.kind,
            "score": item.score,
            "customer_id": item.customer,
            "responded_at": _at(item.responded_at) if item.responded_at else now,
        }
        table = survey_responses
    elif isinstance(item, SupportTicketIn):
        # A ticket is identified by the help desk's id: sending it again records its
        # resolution (or changes nothing), never a second ticket.
        row = {
            "id": new_id("tkt"),
            "external_id": item.external_id,
            "opened_at": _at(item.opened_at),
            "resolved_at": _at(item.resolved_at) if item.resolved_at else None,
        }
        values = {**row, "recorded_by": who, "created_at": now, "updated_at": now}
        await conn.execute(insert_ignoring_conflicts(conn.dialect.name, support_tickets, values))
        if item.resolved_at is not None:
            await conn.execute(
                support_tickets.update()
                .where(support_tickets.c.external_id == item.external_id)
                .values(resolved_at=_at(item.resolved_at), updated_at=now)
            )
        stored = (
            await conn.execute(
                sa.select(support_tickets).where(support_tickets.c.external_id == item.external_id)
            )
        ).one()
        ticket = {str(k): v for k, v in stored._mapping.items()}
        await _audit(conn, "support_ticket", ticket, now)
        return ticket
    elif isinstance(item, MarketingSpendIn):
        row = {
            "id": new_id("spd"),
            "amount": item.amount,
            "currency": item.currency,
            "period_start": _at(item.period_start),
            "period_end": _at(item.period_end),
            "channel": item.channel,
        }
        table = marketing_spend
    elif isinstance(item, KpiEntryIn):
        row = {
            "id": new_id("kpe"),
            "kpi": item.kpi,
            "value": item.value,
            "period_start": _at(item.period_start),
            "period_end": _at(item.period_end),
            "note": item.note,
        }
        table = kpi_entries
    elif isinstance(item, ReleaseIn):
        row = {
            "id": new_id("rel"),
            "name": item.name,
            "kind": item.kind,
            "released_at": _at(item.released_at) if item.released_at else now,
            "description": item.description,
        }
        table = release_markers
    else:  # pragma: no cover - INPUTS is closed
        raise TypeError(type(item))
    values = {**row, "recorded_by": who, "created_at": now}
    await conn.execute(table.insert().values(values))
    await _audit(conn, table.name, values, now)
    return values


async def _audit(conn: AsyncConnection, kind: str, row: dict[str, Any], now: datetime) -> None:
    """Every input is an audited change: who recorded what, in the same transaction."""
    shown = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in row.items()}
    await outbox.record(
        conn, catalog.KPI_INPUT_RECORDED, {**shown, "object": "kpi_input", "kind": kind}, at=now
    )


async def import_csv(db: Database, kind: str, text: str, now: datetime) -> int:
    """Import a CSV whose header names the API fields; all rows or none."""
    model = INPUTS.get(kind)
    if model is None:
        raise InvalidInput(
            f"unknown input kind {kind!r}; use one of {sorted(INPUTS)}", param="kind"
        )
    rows = list(csv.DictReader(io.StringIO(text)))
    items = []
    for line, raw in enumerate(rows, start=2):  # line 1 is the header
        data = {
            k.strip(): v.strip() for k, v in raw.items() if k and v is not None and v.strip() != ""
        }
        try:
            items.append(model.model_validate(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(row)"
            raise InvalidInput(f"line {line}: {field}: {first['msg']}", param=field) from None
    async with db.transaction() as conn:
        for item in items:
            await record(conn, item, now)
    return len(items)


async def releases(conn: AsyncConnection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    found = await conn.execute(
        sa.select(release_markers)
        .where(release_markers.c.released_at >= start, release_markers.c.released_at < end)
        .order_by(release_markers.c.released_at)
    )
    return [{str(k): v for k, v in r._mapping.items()} for r in found]
