"""SLO alerting at run time: feed per-minute counts, evaluate burn rates, keep the alert
lifecycle, notify people.

Each minute the engine reads the new minutes of good/total events for every SLO that has
a source (payment success from the ``payments`` table; availability and latency from the
telemetry rollups once recorded), evaluates the multi-window burn-rate rules of
``slo.py``, stores each firing and resolution in ``slo_alerts`` (so the dashboard and the
reports show them) and sends them to the configured sinks: a Slack-compatible webhook
(``{"text": ...}``) and email.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.ids import new_id
from paystead.insights.measure import ANSWERED, SUCCESS
from paystead.insights.slo import AlertEvent, AlertState, BurnRateAlerts, MinuteCounts, Slo
from paystead.platform.db import Database
from paystead.platform.schema import payments, slo_alerts

log = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
HISTORY = timedelta(days=3)  # the longest rule window

Minutes = list[tuple[datetime, int, int]]
Source = Callable[[AsyncConnection, datetime, datetime], Awaitable[Minutes]]


def _minute_bucket(dialect: str, column: Any) -> Any:
    if dialect == "postgresql":
        return sa.func.date_trunc("minute", column)
    return sa.func.strftime("%Y-%m-%d %H:%M:00", column)


def _as_minute(value: Any, tz: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


async def payment_success_minutes(conn: AsyncConnection, start: datetime, end: datetime) -> Minutes:
    """Answered payments per minute (good: succeeded or authorized) in ``[start, end)``."""
    bucket = _minute_bucket(conn.dialect.name, payments.c.created_at).label("minute")
    rows = await conn.execute(
        sa.select(
            bucket,
            sa.func.count().filter(payments.c.status.in_(SUCCESS)),
            sa.func.count(),
        )
        .where(
            payments.c.created_at >= start,
            payments.c.created_at < end,
            payments.c.status.in_(ANSWERED),
        )
        .group_by(bucket)
        .order_by(bucket)
    )
    return [(_as_minute(m, start.tzinfo), int(good), int(total)) for m, good, total in rows]


async def api_minutes(
    conn: AsyncConnection, start: datetime, end: datetime, *, good: Callable[[str, list[int]], int]
) -> Minutes:
    """Per-minute API requests from the telemetry rollups, ``good`` counted per row."""
    from paystead.telemetry import rollups
    from paystead.telemetry.histogram import BUCKETS

    rows = await rollups.minutes(conn, [rollups.API_REQUEST_DURATION], start, end)
    by_minute: dict[datetime, tuple[int, int]] = {}
    for row in rows:
        klass = json.loads(row["labels"]).get("class", "")
        buckets = [int(row[f"b{i:02d}"]) for i in range(BUCKETS)]
        minute = _as_minute(row["minute"], start.tzinfo)
        g, t = by_minute.get(minute, (0, 0))
        by_minute[minute] = (g + good(klass, buckets), t + int(row["count"]))
    return [(m, g, t) for m, (g, t) in sorted(by_minute.items())]


async def availability_minutes(conn: AsyncConnection, start: datetime, end: datetime) -> Minutes:
    """Good: API answers that are not 5xx."""
    return await api_minutes(
        conn, start, end, good=lambda klass, buckets: 0 if klass == "5xx" else sum(buckets)
    )


async def latency_minutes(conn: AsyncConnection, start: datetime, end: datetime) -> Minutes:
    """Good: API answers within one second (bucket bounds up to and including 1 s)."""
    from paystead.telemetry.histogram import BOUNDS

    within = sum(1 for bound in BOUNDS if bound <= 1.0)
    return await api_minutes(conn, start, end, good=lambda _klass, buckets: sum(buckets[:within]))


SOURCES: dict[str, Source] = {
    "availability": availability_minutes,
    "payment_success": payment_success_minutes,
    "latency": latency_minutes,
}


class AlertSink(Protocol):
    async def send(self, event: AlertEvent, slo: Slo) -> None: ...


def describe(event: AlertEvent, slo: Slo) -> str:
    burn = f"{float(event.long_burn or 0):.1f}x / {float(event.short_burn or 0):.1f}x"
    verb = "FIRING" if event.state is AlertState.FIRING else "resolved"
    return (
        f"[{event.severity}] {slo.name} {verb}: error budget burning at {burn} "
        f"(rule {event.rule}, objective {slo.objective}) at {event.at:%Y-%m-%d %H:%M} UTC"
    )


@dataclass
class SlackWebhookSink:
    """Posts ``{"text": ...}``, the payload Slack's incoming webhooks (and most chat
    tools' compatible endpoints) accept."""

    url: str
    timeout: float = 5.0

    async def send(self, event: AlertEvent, slo: Slo) -> None:
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            response = await client.post(self.url, json={"text": describe(event, slo)})
            response.raise_for_status()


@dataclass
class EmailSink:
    send_message: Callable[..., Awaitable[Any]]
    sender: str
    recipient: str

    async def send(self, event: AlertEvent, slo: Slo) -> None:
        from paystead.notify.email import build_message

        text = describe(event, slo)
        message = build_message(
            sender=self.sender,
            recipient=self.recipient,
            subject=text.split(":", 1)[0],
            text=text,
            html=f"<p>{text}</p>",
            delivery_id=new_id("alrt"),
        )
        await self.send_message(message)


@dataclass
class AlertEngine:
    db: Database
    sources: dict[str, tuple[Slo, Source]]
    sinks: Sequence[AlertSink] = ()
    _counts: dict[str, MinuteCounts] = field(default_factory=dict)
    _alerts: dict[str, BurnRateAlerts] = field(default_factory=dict)
    _read_until: datetime | None = None

    async def tick(self, now: datetime) -> list[AlertEvent]:
        """Read the minutes completed since the last tick, evaluate, store and notify."""
        end = now.replace(second=0, microsecond=0)  # minutes before it are complete
        backfill = self._read_until is None
        start = self._read_until or end - HISTORY
        if start >= end:
            return []
        events: list[AlertEvent] = []
        async with self.db.transaction() as conn:
            for key, (slo, source) in self.sources.items():
                counts = self._counts.setdefault(key, MinuteCounts())
                alerts = self._alerts.setdefault(key, BurnRateAlerts(slo))
                if backfill:  # alerts still firing from before a restart stay one alert
                    firing = await conn.execute(
                        sa.select(slo_alerts.c.rule, slo_alerts.c.fired_at).where(
                            slo_alerts.c.slo == key, slo_alerts.c.state == "firing"
                        )
                    )
                    alerts.firing.update({rule: at for rule, at in firing})  # noqa: C416
                by_minute = {m: (g, t) for m, g, t in await source(conn, start, end)}
                minute = start
                while minute < end:
                    good, total = by_minute.get(minute, (0, 0))
                    counts.add(minute, good, total)
                    # After a restart, history is replayed silently and judged once, at
                    # its last minute: no stale notifications for long-gone incidents.
                    if not backfill or minute + MINUTE == end:
                        for event in alerts.evaluate(counts, minute):
                            events.append(event)
                            await self._store(conn, event)
                    minute += MINUTE
        self._read_until = end
        for event in events:
            slo = self.sources[event.slo][0]
            for sink in self.sinks:
                try:
                    await sink.send(event, slo)
                except Exception:  # a sink failing must not stop alerting
                    log.exception("alert sink %s failed", type(sink).__name__)
        return events

    async def _store(self, conn: AsyncConnection, event: AlertEvent) -> None:
        if event.state is AlertState.FIRING:
            await conn.execute(
                slo_alerts.insert().values(
                    id=new_id("alrt"),
                    slo=event.slo,
                    rule=event.rule,
                    severity=event.severity,
                    state=AlertState.FIRING.value,
                    fired_at=event.at,
                    long_burn=float(event.long_burn or 0),
                    short_burn=float(event.short_burn or 0),
                )
            )
        else:
            await conn.execute(
                slo_alerts.update()
                .where(
                    slo_alerts.c.slo == event.slo,
                    slo_alerts.c.rule == event.rule,
                    slo_alerts.c.state == AlertState.FIRING.value,
                )
                .values(state=AlertState.RESOLVED.value, resolved_at=event.at)
            )


async def recent_alerts(conn: AsyncConnection, since: datetime) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(slo_alerts)
        .where(sa.or_(slo_alerts.c.fired_at >= since, slo_alerts.c.state == "firing"))
        .order_by(slo_alerts.c.fired_at.desc())
    )
    return [{str(k): v for k, v in r._mapping.items()} for r in rows]


def build_engine(services: Any) -> AlertEngine:
    """The default SLOs over their sources, notifying the configured sinks."""
    from paystead.insights.slo import DEFAULT_SLOS

    settings = services.settings
    sinks: list[AlertSink] = []
    if settings.alert_webhook_url:
        sinks.append(SlackWebhookSink(settings.alert_webhook_url))
    if settings.alert_email_to and settings.smtp_url is not None:
        import aiosmtplib

        from paystead.notify.email import SmtpSettings

        smtp = SmtpSettings.from_url(settings.smtp_url.get_secret_value())

        async def send(message: Any) -> Any:
            return await aiosmtplib.send(
                message,
                hostname=smtp.hostname,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                use_tls=smtp.use_tls,
                start_tls=smtp.start_tls,
                timeout=smtp.timeout,
            )

        sinks.append(EmailSink(send, settings.email_from, settings.alert_email_to))
    sources = {slo.key: (slo, SOURCES[slo.key]) for slo in DEFAULT_SLOS if slo.key in SOURCES}
    return AlertEngine(services.db, sources, sinks)


async def run_every_minute(
    engine: AlertEngine, clock: Callable[[], datetime], stop: asyncio.Event
) -> None:
    """The embedded alerting loop: one tick just after each minute boundary."""
    while not stop.is_set():
        try:
            await engine.tick(clock())
        except Exception:  # a failed tick is retried next minute; alerting never dies
            log.exception("SLO alert evaluation failed")
        now = clock()
        wait = 61 - now.second - now.microsecond / 1_000_000
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
