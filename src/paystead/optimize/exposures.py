"""The assignment log: an OpenFeature ``after`` hook that records exposures.

Wiring attaches one :class:`ExposureLog` to ``services.features``. For a flag with a
running experiment (or a canary rollout's current step, logged as
``rollout:{id}:{step}``) the hook notes ``(experiment_key, flag_key, variant, subject,
payment_id, first_seen_at)`` in memory; nothing touches the database on the evaluation
path. :meth:`ExposureLog.flush` writes the buffer in one multi-row ``INSERT ... ON
CONFLICT DO NOTHING`` (the unique ``(experiment_key, subject)`` keeps the first
exposure, across processes too) and re-reads which flags are under test. The app runs
:func:`run_periodically` every second; the rollout tick flushes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from openfeature.flag_evaluation import FlagEvaluationDetails, FlagValueType
from openfeature.hook import Hook, HookContext, HookHints

from paystead.platform.db import Database, insert_ignoring_conflicts
from paystead.platform.schema import experiment_exposures, experiments, rollouts

log = logging.getLogger(__name__)

#: Subjects already logged, remembered per process so repeat evaluations cost nothing.
SEEN_CAPACITY = 100_000
#: Only randomized answers are exposures (OpenFeature's reason for a weighted split).
SPLIT = "SPLIT"
#: While the database is unreachable the buffer grows; past this many exposures new
#: ones are dropped (and counted) rather than exhausting memory.
MAX_BUFFER = 200_000


def rollout_key(rollout_id: str, step_index: int) -> str:
    return f"rollout:{rollout_id}:{step_index}"


class ExposureLog(Hook):
    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock
        self._active: dict[str, tuple[str, ...]] = {}
        self._buffer: dict[tuple[str, str], dict[str, Any]] = {}
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()
        self._flush_lock = asyncio.Lock()
        #: Exposures dropped because the buffer was full (the database was down).
        self.dropped = 0

    # -- the hook (hot path: memory only) ----------------------------------------------

    def after(
        self,
        hook_context: HookContext,
        details: FlagEvaluationDetails[FlagValueType],
        hints: HookHints,
    ) -> None:
        keys = self._active.get(hook_context.flag_key)
        if not keys or details.reason != SPLIT:
            return  # targeted, disabled or static answers are not randomized
        context = hook_context.evaluation_context
        subject = context.targeting_key if context is not None else None
        if not subject:
            return
        variant = details.variant if details.variant is not None else str(details.value)
        payment_id = context.attributes.get("payment_id") if context is not None else None
        now = self.clock()
        with self._lock:
            for key in keys:
                token = (key, subject)
                if token in self._seen or token in self._buffer:
                    continue
                if len(self._buffer) >= MAX_BUFFER:
                    self.dropped += 1
                    continue
                self._buffer[token] = {
                    "experiment_key": key,
                    "flag_key": hook_context.flag_key,
                    "variant": str(variant)[:100],
                    "subject": subject[:200],
                    "payment_id": payment_id[:40] if isinstance(payment_id, str) else None,
                    "first_seen_at": now,
                }

    # -- off the hot path ----------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def watching(self, flag_key: str) -> tuple[str, ...]:
        return self._active.get(flag_key, ())

    async def refresh(self) -> None:
        """Re-read which flags have a running experiment or rollout step."""
        active: dict[str, list[str]] = {}
        async with self.db.transaction() as conn:
            for flag_key, key in await conn.execute(
                sa.select(experiments.c.flag_key, experiments.c.key).where(
                    experiments.c.status == "running"
                )
            ):
                active.setdefault(flag_key, []).append(key)
            for flag_key, rollout_id, step in await conn.execute(
                sa.select(rollouts.c.flag_key, rollouts.c.id, rollouts.c.step_index).where(
                    rollouts.c.status.in_(("running", "paused"))
                )
            ):
                active.setdefault(flag_key, []).append(rollout_key(rollout_id, step))
        self._active = {k: tuple(v) for k, v in active.items()}

    async def flush(self, *, refresh: bool = True) -> int:
        """Write buffered exposures (first one per subject wins); returns how many were
        sent. Then re-read the flags under test."""
        async with self._flush_lock:
            with self._lock:
                batch, self._buffer = list(self._buffer.values()), {}
            if batch:
                try:
                    async with self.db.transaction() as conn:
                        await conn.execute(
                            insert_ignoring_conflicts(
                                self.db.dialect,
                                experiment_exposures,
                                batch,  # type: ignore[arg-type]
                            )
                        )
                except Exception:
                    with self._lock:  # keep them for the next flush
                        for row in batch:
                            self._buffer.setdefault((row["experiment_key"], row["subject"]), row)
                    raise
                with self._lock:
                    for row in batch:
                        self._seen[(row["experiment_key"], row["subject"])] = None
                    while len(self._seen) > SEEN_CAPACITY:
                        self._seen.popitem(last=False)
            if refresh:
                await self.refresh()
            return len(batch)


async def run_periodically(exposures: ExposureLog, interval: float, stop: asyncio.Event) -> None:
    """Flush every ``interval`` seconds until ``stop``; once more on the way out."""
    while not stop.is_set():
        try:
            await exposures.flush()
        except Exception:  # the buffer is kept; the next round retries
            log.exception("writing exposures failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    with contextlib.suppress(Exception):
        await exposures.flush(refresh=False)
