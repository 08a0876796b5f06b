"""The worker: dispatch recorded events, then deliver what is due, until told to stop.

One cycle (:meth:`Worker.run_once`):

1. **Dispatch**, in one transaction: claim a batch of undispatched events (``FOR UPDATE
   SKIP LOCKED`` on PostgreSQL), plan their deliveries (webhook endpoints subscribed to
   the type; email/SMS notifications by the rules), append them to the audit chain, and
   mark them dispatched. A crash rolls all of it back; the events stay undispatched.
2. **Deliver**: lease a batch of due jobs (:func:`~paystead.events.delivery.claim`),
   attempt them concurrently outside any transaction, and record each answer in its own
   short transaction. A failure is retried on its channel's schedule (plus jitter);
   when the schedule is exhausted the job is dead-lettered (and a webhook endpoint is
   marked ``failing``). A worker killed mid-batch leaves leases that expire, and the
   jobs are delivered again: at least once, never lost, same ``webhook-id``.

``paystead worker`` runs this loop; with the embedded SQLite database ``paystead serve``
runs it too, as a background task (``PAYSTEAD_WORKER_EMBEDDED``). Time comes from an
injectable clock, so tests walk the retry schedule without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.audit import chain
from paystead.events import delivery
from paystead.events.delivery import AttemptResult, Channel, DeliveryStatus, Job, PlannedDelivery
from paystead.events.outbox import Event, event_from_row
from paystead.ids import new_id
from paystead.platform.db import Database
from paystead.platform.schema import events

log = logging.getLogger(__name__)


class DeliveryChannel(Protocol):
    channel: Channel
    #: Seconds before each attempt: ``schedule[0]`` for the first (0: at once), then one
    #: per retry. Its length is the number of attempts before the job is dead-lettered.
    schedule: list[float]

    async def attempt(self, job: Job) -> AttemptResult: ...

    async def succeeded(self, conn: AsyncConnection, job: Job) -> None: ...

    async def dead_lettered(self, conn: AsyncConnection, job: Job) -> None: ...

    async def close(self) -> None: ...


class Planner(Protocol):
    async def plan(
        self, conn: AsyncConnection, events: Sequence[Event]
    ) -> list[tuple[str, PlannedDelivery]]: ...


def retry_at(
    schedule: Sequence[float],
    attempts_done: int,
    now: datetime,
    *,
    jitter: float = 0.1,
    rng: Callable[[], float] = random.random,
) -> datetime | None:
    """When to try again after ``attempts_done`` attempts failed; ``None`` when the
    schedule is exhausted. Each delay is stretched by up to ``jitter`` of itself, so
    the retries of many jobs that failed together do not arrive together."""
    if attempts_done >= len(schedule):
        return None
    delay = float(schedule[attempts_done])
    return now + timedelta(seconds=delay * (1.0 + jitter * rng()))


#: A claim holds at most ``concurrency * CLAIM_ROUNDS`` deliveries (see ``deliver_once``).
CLAIM_ROUNDS = 4

_UNDISPATCHED = (
    sa.select(events)
    .where(events.c.dispatched_at.is_(None))
    .order_by(events.c.id)
    .limit(sa.bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)


@dataclass(frozen=True, slots=True)
class Cycle:
    dispatched: int
    attempted: int

    @property
    def idle(self) -> bool:
        return not (self.dispatched or self.attempted)


class Worker:
    def __init__(
        self,
        db: Database,
        *,
        channels: Sequence[DeliveryChannel],
        planners: Sequence[Planner],
        clock: Callable[[], datetime],
        batch_size: int = 100,
        concurrency: int = 8,
        lease: timedelta = timedelta(seconds=60),
        poll_seconds: float = 1.0,
        jitter: float = 0.1,
        rng: Callable[[], float] = random.random,
    ):
        self.db = db
        self.channels = {c.channel: c for c in channels}
        self.planners = list(planners)
        self.clock = clock
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.jitter = jitter
        self.rng = rng
        #: Told of every attempt (channel, succeeded, seconds): the telemetry hook.
        self.observe: Callable[[str, bool, float], None] | None = None

    # -- dispatch -------------------------------------------------------------------

    async def dispatch_once(self) -> int:
        async with self.db.transaction() as conn:
            rows = (await conn.execute(_UNDISPATCHED, {"b_limit": self.batch_size})).all()
            if not rows:
                return 0
            batch = [event_from_row(r) for r in rows]
            now = self.clock()
            planned: list[tuple[str, PlannedDelivery]] = []
            for planner in self.planners:
                planned.extend(await planner.plan(conn, batch))
            await delivery.enqueue(conn, planned, now=now)
            await chain.append(conn, batch)
            await conn.execute(
                events.update()
                .where(events.c.id.in_([e.id for e in batch]))
                .values(dispatched_at=now)
            )
        return len(batch)

    # -- deliver --------------------------------------------------------------------

    async def deliver_once(self) -> int:
        token = new_id("lease")
        # Claim no more than a few rounds of the concurrency: every job of the batch must
        # be attempted well within the lease, even when each attempt runs to its timeout,
        # or another worker would take over jobs still waiting here.
        limit = min(self.batch_size, self.concurrency * CLAIM_ROUNDS)
        async with self.db.transaction() as conn:
            jobs = await delivery.claim(
                conn, now=self.clock(), token=token, limit=limit, lease=self.lease
            )
        if not jobs:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(job: Job) -> None:
            async with gate:
                await self._deliver(job, token)

        await asyncio.gather(*(one(job) for job in jobs))
        return len(jobs)

    async def _deliver(self, job: Job, token: str) -> None:
        channel = self.channels.get(job.channel)
        attempted_at = self.clock()
        if channel is None:
            result = AttemptResult(
                False, job.channel.value, error=f"the {job.channel} channel is not configured"
            )
            schedule: Sequence[float] = ()
        else:
            schedule = channel.schedule
            try:
                result = await channel.attempt(job)
            except Exception as exc:  # a bug in a channel must not stop the worker
                log.exception("delivery %s failed unexpectedly", job.id)
                result = AttemptResult(False, job.channel.value, error=f"internal error: {exc!r}")
        now = self.clock()
        if self.observe is not None and channel is not None:
            self.observe(job.channel.value, result.succeeded, (now - attempted_at).total_seconds())
        next_at = None
        if not result.succeeded and result.retryable and not result.cancel:
            next_at = retry_at(schedule, job.attempts + 1, now, jitter=self.jitter, rng=self.rng)
        async with self.db.transaction() as conn:
            status = await delivery.finish(
                conn, job, result, attempted_at=attempted_at, now=now, token=token, retry_at=next_at
            )
            if channel is not None and status is DeliveryStatus.SUCCEEDED:
                await channel.succeeded(conn, job)
            elif channel is not None and status is DeliveryStatus.DEAD:
                await channel.dead_lettered(conn, job)
        if status is DeliveryStatus.DEAD:
            log.warning(
                "delivery %s (%s, event %s) dead-lettered after %d attempt(s): %s",
                job.id,
                job.channel,
                job.event.id,
                job.attempts + 1,
                result.error,
            )

    # -- the loop -------------------------------------------------------------------

    async def run_once(self) -> Cycle:
        dispatched = await self.dispatch_once()
        attempted = await self.deliver_once()
        return Cycle(dispatched, attempted)

    async def run_until_idle(self, *, max_cycles: int = 1000) -> Cycle:
        """Cycle until nothing is left to dispatch or due (tests, ``worker --once``)."""
        dispatched = attempted = 0
        for _ in range(max_cycles):
            cycle = await self.run_once()
            if cycle.idle:
                break
            dispatched += cycle.dispatched
            attempted += cycle.attempted
        return Cycle(dispatched, attempted)

    async def run(self, stop: asyncio.Event) -> None:
        """Cycle until ``stop`` is set; sleep ``poll_seconds`` when there was nothing to do."""
        log.info("worker started")
        while not stop.is_set():
            try:
                cycle = await self.run_once()
            except Exception:
                log.exception("worker cycle failed; retrying after the poll interval")
                cycle = Cycle(0, 0)
            if cycle.idle:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
        log.info("worker stopped")

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
