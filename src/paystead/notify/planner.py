"""Which notifications an event sends, and to whom.

The rules map an event type to email and SMS templates; the recipient is the customer
the object belongs to (a payment's ``customer``, a refund's payment's customer). Each
notification is de-duplicated on ``channel:template:object:recipient``, so replaying or
re-dispatching an event never sends the same receipt twice. Billing adds its rules
(``subscription.canceled`` -> ``subscription_canceled``, ``...trial_will_end`` ->
``trial_ending``) when its events exist.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import InvalidInput
from paystead.events import catalog
from paystead.events.delivery import Channel, PlannedDelivery
from paystead.events.outbox import Event
from paystead.notify.phone import to_e164
from paystead.platform.schema import customers, payments

log = logging.getLogger(__name__)

#: event type -> template name, per channel.
EMAIL_RULES: Mapping[str, str] = {
    catalog.PAYMENT_SUCCEEDED.name: "payment_receipt",
    catalog.PAYMENT_FAILED.name: "payment_failed",
    catalog.REFUND_SUCCEEDED.name: "refund_processed",
}
SMS_RULES: Mapping[str, str] = dict(EMAIL_RULES)


def dedupe_key(channel: Channel, template: str, object_id: str, recipient: str) -> str:
    digest = hashlib.sha256(recipient.lower().encode()).hexdigest()[:32]
    return f"{channel.value}:{template}:{object_id}:{digest}"


class NotificationPlanner:
    def __init__(self, *, email: bool, sms: bool, sms_region: str | None = None):
        self.rules: list[tuple[Channel, Mapping[str, str]]] = []
        if email:
            self.rules.append((Channel.EMAIL, EMAIL_RULES))
        if sms:
            self.rules.append((Channel.SMS, SMS_RULES))
        self.sms_region = sms_region

    async def plan(
        self, conn: AsyncConnection, events: Sequence[Event]
    ) -> list[tuple[str, PlannedDelivery]]:
        planned: list[tuple[str, PlannedDelivery]] = []
        for event in events:
            wanted = [(ch, rules[event.type]) for ch, rules in self.rules if event.type in rules]
            if not wanted:
                continue
            customer = await self._customer_of(conn, event)
            if customer is None:
                continue
            for channel, template in wanted:
                recipient = self._recipient(channel, customer, event)
                if recipient is None:
                    continue
                planned.append(
                    (
                        event.id,
                        PlannedDelivery(
                            channel,
                            dedupe_key(channel, template, event.object_id, recipient),
                            recipient=recipient,
                            template=template,
                            context={"customer_name": customer.name, "customer": customer.id},
                        ),
                    )
                )
        return planned

    def _recipient(self, channel: Channel, customer: Any, event: Event) -> str | None:
        if channel is Channel.EMAIL:
            return str(customer.email) if customer.email else None
        if not customer.phone:
            return None
        try:
            return to_e164(customer.phone, region=self.sms_region)
        except InvalidInput:
            log.warning(
                "no SMS for %s: customer %s has an invalid phone number", event.id, customer.id
            )
            return None

    async def _customer_of(self, conn: AsyncConnection, event: Event) -> Any | None:
        customer_id = event.data.get("customer")
        if customer_id is None and event.object_type == "refund":
            customer_id = (
                await conn.execute(
                    sa.select(payments.c.customer_id).where(payments.c.id == event.data["payment"])
                )
            ).scalar()
        if customer_id is None:
            return None
        row = (
            await conn.execute(
                sa.select(
                    customers.c.id, customers.c.email, customers.c.name, customers.c.phone
                ).where(customers.c.id == customer_id)
            )
        ).first()
        return row
