"""The background side of telemetry, run inside ``paystead serve``'s lifespan.

Two tasks, each switchable off:

- the **flusher**, just after every minute boundary: samples what is sampled (host CPU
  and memory with psutil, the outbox's lag, the API-key cache's hit and miss totals),
  seals the minute and writes the rollups in one transaction; once more at shutdown;
  hourly it deletes rows older than ``PAYSTEAD_ROLLUP_RETENTION_DAYS`` (90);
- the **probe**, every ``probe_interval_seconds`` (first after one interval): a real
  payment through the service layer and the sandbox gateway, end to end, then its
  cancellation (authorize with manual capture, void: nothing reaches the ledger). Its
  success and duration are the availability KPI's source. Probe payments carry
  ``metadata = {"synthetic": "probe"}``: business KPIs, payment metrics and webhooks
  leave them out, the payments list and the audit trail show them as what they are.

Time comes from an injectable clock and the waiting from an injectable ``wait``, so
tests run minutes in microseconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import psutil
import sqlalchemy as sa

from paystead.money import Money
from paystead.payments.model import CaptureMethod, PaymentStatus
from paystead.payments.service import CreatePayment
from paystead.platform.schema import events
from paystead.telemetry import rollups
from paystead.telemetry.database import SYNTHETIC
from paystead.telemetry.recorder import Telemetry
from paystead.wiring import Services

log = logging.getLogger(__name__)

#: Waits ``seconds`` (or until stopped); returns True when told to stop.
Wait = Callable[[float], Awaitable[bool]]

_OLDEST_UNDISPATCHED = sa.select(sa.func.min(events.c.created_at)).where(
    events.c.dispatched_at.is_(None)
)


async def probe_payment(services: Services, *, gateway: str, currency: str) -> bool:
    """One synthetic payment end to end: authorize, then void. True if both worked."""
    payment = await services.payments.create(
        CreatePayment(
            Money(100, currency),
            "pm_card_visa",
            capture_method=CaptureMethod.MANUAL,
            gateway=gateway,
            description="paystead synthetic probe",
            metadata={SYNTHETIC[0]: SYNTHETIC[1]},
        )
    )
    if payment.status is not PaymentStatus.REQUIRES_CAPTURE:
        return False
    canceled = await services.payments.cancel(payment.id)
    return canceled.status is PaymentStatus.CANCELED


class TelemetryRuntime:
    def __init__(
        self,
        telemetry: Telemetry,
        services: Services,
        *,
        flush: bool = True,
        probe: bool = True,
        probe_interval: float = 60.0,
        probe_gateway: str = "sandbox",
        currency: str = "INR",
        retention: timedelta = timedelta(days=90),
        clock: Callable[[], datetime] | None = None,
        wait: Wait | None = None,
    ):
        self.telemetry = telemetry
        self.services = services
        self.flush_enabled = flush
        self.probe_enabled = probe
        self.probe_interval = probe_interval
        self.probe_gateway = probe_gateway
        self.currency = currency
        self.retention = retention
        self._purged_at: datetime | None = None
        self.clock = clock or telemetry.clock
        self._stop = asyncio.Event()
        self._wait = wait or self._wait_or_stop
        self._tasks: list[asyncio.Task[None]] = []
        psutil.cpu_percent(interval=None)  # the first reading only starts the count

    async def _wait_or_stop(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            return False
        return True

    # -- one step each ----------------------------------------------------------------

    async def sample(self) -> None:
        """Host, outbox and cache figures, once a minute."""
        self.telemetry.host(psutil.cpu_percent(interval=None), psutil.virtual_memory().percent)
        verifier = self.services.api_keys
        self.telemetry.cache_totals("api_keys", verifier.hits, verifier.misses)
        async with self.services.db.transaction() as conn:
            oldest = (await conn.execute(_OLDEST_UNDISPATCHED)).scalar()
        lag = 0.0
        if isinstance(oldest, datetime):
            lag = max((self.clock() - oldest).total_seconds(), 0.0)
        self.telemetry.outbox_lag(lag)

    async def tick(self) -> int:
        """Sample, seal the minute and write it (and, hourly, forget rows past the
        retention); returns the rows written."""
        await self.sample()
        now = self.clock()
        self.telemetry.rollups.seal(now)
        written = await self.telemetry.rollups.flush(self.services.db)
        if self._purged_at is None or now - self._purged_at >= timedelta(hours=1):
            self._purged_at = now
            await rollups.purge(self.services.db, now - self.retention)
        return written

    async def probe(self) -> bool:
        started = time.perf_counter()
        try:
            ok = await probe_payment(
                self.services, gateway=self.probe_gateway, currency=self.currency
            )
        except Exception:
            log.warning("the synthetic payment probe failed", exc_info=True)
            ok = False
        self.telemetry.probe(ok, time.perf_counter() - started)
        return ok

    # -- the loops --------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            now = self.clock()
            into_minute = now.second + now.microsecond / 1e6
            if await self._wait(60.0 - into_minute + 0.05):
                return
            try:
                await self.tick()
            except Exception:
                log.exception("telemetry flush failed; will retry next minute")

    async def _probe_loop(self) -> None:
        while not await self._wait(self.probe_interval):
            await self.probe()

    def start(self) -> None:
        if self.flush_enabled:
            self._tasks.append(asyncio.create_task(self._flush_loop(), name="paystead-rollups"))
        if self.probe_enabled:
            self._tasks.append(asyncio.create_task(self._probe_loop(), name="paystead-probe"))

    async def run_until_stopped(self) -> None:
        """Run the loops in the foreground (tests with an injected ``wait``)."""
        self.start()
        await self.stop()

    async def stop(self) -> None:
        """Stop the loops, then write what the last minute gathered."""
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
        if self.flush_enabled:
            self.telemetry.rollups.seal(self.clock())
            try:
                await self.telemetry.rollups.flush(self.services.db)
            except Exception:
                log.exception("the last telemetry flush failed")
