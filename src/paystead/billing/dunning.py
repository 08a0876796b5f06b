"""Dunning: a failed renewal charge, its retries, and the final action.

A renewal (or first) invoice whose automatic charge failed moves the subscription to
``past_due`` and schedules retries ``PAYSTEAD_DUNNING_RETRY_DAYS`` after the failure
(default 1, 3, 5 and 7 days). Each retry pays the subscription's open invoices, oldest
first, through ``InvoiceService.pay`` (which never charges a paid or void invoice
again). All paid: the subscription is ``active`` again (paying the last owed invoice by
any other route does the same: :mod:`paystead.billing.reactivation`). The last retry failed:
``PAYSTEAD_DUNNING_FINAL_ACTION`` makes it ``canceled`` or ``unpaid``. Each step emits
an event (``customer.subscription.past_due``, ``.updated``, ``.unpaid``, ``.deleted``).

A retry is claimed before it runs: one UPDATE moves ``dunning_retries`` from n to n+1
and ``next_retry_at`` to the following retry, guarded on both old values, so two
billing runs at the same instant cannot both retry (nor count one retry twice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from paystead.billing import subscription_repo as repo
from paystead.billing.invoices import Invoice
from paystead.billing.reactivation import reactivate
from paystead.billing.subscription_repo import Subscription, subscription_object
from paystead.billing.subscriptions import Status
from paystead.errors import Conflict
from paystead.events import catalog
from paystead.events.outbox import record
from paystead.platform.db import Database
from paystead.platform.schema import subscriptions


class Invoices(Protocol):
    async def pay(self, invoice_id: str, *, now: datetime) -> Any: ...

    async def list(
        self,
        *,
        customer: str | None = None,
        subscription: str | None = None,
        status: str | None = None,
        limit: int = 10,
        starting_after: str | None = None,
    ) -> tuple[list[Any], bool]: ...


def payment_failed(invoice: Invoice) -> bool:
    """A finalized automatic-collection invoice that is still owed after its charge."""
    return (
        invoice.status == "open"
        and invoice.collection_method == "charge_automatically"
        and invoice.amount_due > 0
    )


def retry_at(started: datetime, days: Sequence[int], retries_done: int) -> datetime | None:
    """When retry number ``retries_done + 1`` is due, or None when none is left."""
    if retries_done >= len(days):
        return None
    return started + timedelta(days=days[retries_done])


def check_schedule(days: Sequence[int]) -> list[int]:
    if any(d <= 0 for d in days) or list(days) != sorted(set(days)):
        raise ValueError(
            "PAYSTEAD_DUNNING_RETRY_DAYS: positive days in ascending order, e.g. [1,3,5,7]"
        )
    return list(days)


class Dunning:
    def __init__(
        self,
        db: Database,
        invoices: Invoices,
        *,
        retry_days: Sequence[int],
        final_action: str,
        clock: Callable[[], datetime],
    ):
        if final_action not in ("canceled", "unpaid"):
            raise ValueError("PAYSTEAD_DUNNING_FINAL_ACTION must be canceled or unpaid")
        self.db = db
        self.invoices = invoices
        self.retry_days = check_schedule(retry_days)
        self.final_action = Status(final_action)
        self.clock = clock

    async def start(self, sub_id: str, invoice_id: str, *, at: datetime) -> Subscription:
        """A charge of ``invoice_id`` failed at ``at``: past_due and the first retry
        scheduled, unless dunning is already under way (it covers every open invoice)."""
        async with self.db.transaction() as conn:
            sub = await repo.get(conn, sub_id, lock=True)
            if sub.status not in (Status.ACTIVE, Status.TRIALING):
                return sub
            first = retry_at(at, self.retry_days, 0)
            if first is None:
                return await self._final(conn, sub, at)
            after = sub.with_(
                status=Status.PAST_DUE,
                dunning_invoice_id=invoice_id,
                dunning_started_at=at,
                dunning_retries=0,
                next_retry_at=first,
                updated_at=at,
            )
            await repo.save(conn, after)
            await record(
                conn,
                catalog.SUBSCRIPTION_PAST_DUE,
                subscription_object(after),
                at=at,
                previous={"status": sub.status},
            )
            return after

    async def retry(self, sub: Subscription, *, at: datetime) -> Subscription | None:
        """The retry due at ``at`` (``sub.next_retry_at``); None if another run has it."""
        if sub.next_retry_at != at or sub.dunning_started_at is None:
            return None
        done = sub.dunning_retries + 1
        following = retry_at(sub.dunning_started_at, self.retry_days, done)
        async with self.db.transaction() as conn:
            claimed = await conn.execute(
                subscriptions.update()
                .where(
                    subscriptions.c.id == sub.id,
                    subscriptions.c.dunning_retries == sub.dunning_retries,
                    subscriptions.c.next_retry_at == at,
                )
                .values(dunning_retries=done, next_retry_at=following, updated_at=at)
            )
            if claimed.rowcount != 1:
                return None
        still_owed = []
        for invoice in await self._open_invoices(sub.id):
            try:
                paid = await self.invoices.pay(invoice.id, now=at)
            except Conflict:  # a charge of it is in flight elsewhere: not paid yet
                still_owed.append(invoice)
                continue
            if payment_failed(paid):
                still_owed.append(paid)
        async with self.db.transaction() as conn:
            current = await repo.get(conn, sub.id, lock=True)
            if current.status not in (Status.PAST_DUE, Status.UNPAID):
                return current  # canceled or paused meanwhile: nothing more to do
            if not still_owed:
                return await self._recovered(conn, current, at)
            if following is None:
                return await self._final(conn, current, at)
            await record(conn, catalog.SUBSCRIPTION_PAST_DUE, subscription_object(current), at=at)
            return current

    async def _open_invoices(self, sub_id: str) -> list[Any]:
        found: list[Any] = []
        cursor = None
        while True:
            page, more = await self.invoices.list(
                subscription=sub_id, status="open", limit=100, starting_after=cursor
            )
            found.extend(page)
            if not more or not page:
                break
            cursor = page[-1].id
        owed = [
            i for i in found if i.collection_method == "charge_automatically" and i.amount_due > 0
        ]
        return sorted(owed, key=lambda i: i.id)  # ids sort by creation: oldest first

    async def _recovered(self, conn: Any, sub: Subscription, at: datetime) -> Subscription:
        return await reactivate(conn, sub, at)

    async def _final(self, conn: Any, sub: Subscription, at: datetime) -> Subscription:
        if self.final_action == Status.CANCELED:
            after = sub.with_(
                status=Status.CANCELED,
                canceled_at=sub.canceled_at or at,
                ended_at=at,
                next_retry_at=None,
                updated_at=at,
            )
            event = catalog.SUBSCRIPTION_DELETED
        else:
            after = sub.with_(status=Status.UNPAID, next_retry_at=None, updated_at=at)
            event = catalog.SUBSCRIPTION_UNPAID
        await repo.save(conn, after)
        await record(
            conn, event, subscription_object(after), at=at, previous={"status": sub.status}
        )
        return after
