"""Gapless document numbers per series and Indian financial year.

Format ``{SERIES}/{YY-YY}/{serial}``: ``INV/26-27/00001``, ``CN/26-27/00001``. The
financial year runs 1 April - 31 March and is taken from the document's issue time in
India Standard Time (UTC+05:30). The serial is zero-padded to 5 digits and grows past
99999 if it must; the whole number is at most 16 characters of letters, digits, ``/``
and ``-`` (GST Rule 46(b)), checked here: with a series of up to 4 letters a year has
room for 999,999 numbers.

The counter row ``(series, fiscal_year)`` is incremented with ``UPDATE ... RETURNING``
inside the caller's transaction: on PostgreSQL the row lock serialises concurrent
finalizations, on SQLite ``BEGIN IMMEDIATE`` (platform/db.py) does; a transaction that
rolls back after taking a number un-takes it, so no number is ever skipped or issued
twice.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.platform.db import insert_ignoring_conflicts
from paystead.platform.schema import document_number_counters as counters

IST = timezone(timedelta(hours=5, minutes=30), "IST")
MAX_LENGTH = 16
_ALLOWED = re.compile(r"^[A-Za-z0-9/-]{1,16}$")

_BUMP = (
    counters.update()
    .where(
        counters.c.series == sa.bindparam("b_series"),
        counters.c.fiscal_year == sa.bindparam("b_fy"),
    )
    .values(last_number=counters.c.last_number + 1)
    .returning(counters.c.last_number)
)


def fiscal_year(at: datetime) -> str:
    """``"26-27"`` for any instant from 1 April 2026 00:00 IST to 31 March 2027 23:59 IST."""
    local = at.astimezone(IST)
    start = local.year if local.month >= 4 else local.year - 1
    return f"{start % 100:02d}-{(start + 1) % 100:02d}"


def format_number(series: str, fy: str, serial: int) -> str:
    number = f"{series}/{fy}/{serial:05d}"
    if len(number) > MAX_LENGTH or not _ALLOWED.match(number):
        raise ValueError(f"document number {number!r} exceeds {MAX_LENGTH} characters")
    return number


async def next_number(conn: AsyncConnection, series: str, at: datetime) -> str:
    """Take the next number of ``series`` for the financial year of ``at``."""
    fy = fiscal_year(at)
    params = {"b_series": series, "b_fy": fy}
    serial = (await conn.execute(_BUMP, params)).scalar()
    if serial is None:
        await conn.execute(
            insert_ignoring_conflicts(
                conn.dialect.name,
                counters,
                {"series": series, "fiscal_year": fy, "last_number": 0},
            )
        )
        serial = (await conn.execute(_BUMP, params)).scalar_one()
    return format_number(series, fy, int(serial))
