"""Which notifications an event sends, and to whom.

The rules map an event type to email and SMS templates; the recipient is the customer
the object belongs to (a payment's ``customer``, a refund's payment's customer, an
invoice's, a subscription's, a credit note's). Each notification is de-duplicated on
``channel:template:object:recipient``, so replaying or re-dispatching an event never
sends the same receipt twice. Billing events go through ``notify/billing.py``, which
picks the notice and formats its facts in the customer's locale; a payment made for an
invoice (``metadata.invoice``) sends no payment notice of its own, because the
invoice's receipt or dunning notice tells the customer instead.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.errors import InvalidInput, PaysteadError
from paystead.events import catalog
from paystead.events.delivery import Channel, PlannedDelivery
from paystead.events.outbox import Event
from paystead.notify import billing
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
    def __init__(
        self,
        *,
        email: bool,
        sms: bool,
        sms_region: str | None = None,
        update_payment_url: str | None = None,
    ):
        self.rules: list[tuple[Channel, Mapping[str, str]]] = []
        if email:
            self.rules.append((Channel.EMAIL, EMAIL_RULES))
        if sms:
            self.rules.append((Channel.SMS, SMS_RULES))
        self.sms_region = sms_region
        self.update_payment_url = update_payment_url

    async def plan(
        self, conn: AsyncConnection, events: Sequence[Event]
    ) -> list[tuple[str, PlannedDelivery]]:
        planned: list[tuple[str, PlannedDelivery]] = []
        for event in events:
            if not self.rules:
                break
            if event.type in billing.EVENT_TYPES:
                planned.extend(await self._plan_billing(conn, event))
                continue
            if event.object_type == "payment" and (event.data.get("metadata") or {}).get("invoice"):
                continue  # an invoice's charge: the invoice's own notice tells it
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

    async def _plan_billing(
        self, conn: AsyncConnection, event: Event
    ) -> list[tuple[str, PlannedDelivery]]:
        customer = await self._customer_of(conn, event)
        if customer is None:
            return []
        try:
            notice = await billing.notice_for(
                conn,
                event.type,
                event.data,
                locale=billing.locale_of(customer.locale, event.data),
                at=event.created_at,
                update_payment_url=self.update_payment_url,
                previous=event.previous,
            )
        except (KeyError, TypeError, ValueError, PaysteadError):
            # An object this planner cannot read must not stall every other event's
            # dispatch (the whole batch shares one transaction): no notice, logged.
            log.exception("no billing notice for %s (%s)", event.id, event.type)
            return []
        if notice is None:
            return []
        planned: list[tuple[str, PlannedDelivery]] = []
        for channel, _rules in self.rules:
            template = notice.email if channel is Channel.EMAIL else notice.sms
            recipient = self._recipient(channel, customer, event) if template else None
            if template is None or recipient is None:
                continue
            context = {"customer_name": customer.name, "customer": customer.id, **notice.context}
            if channel is not Channel.EMAIL:
                context.pop("attach", None)
            planned.append(
                (
                    event.id,
                    PlannedDelivery(
                        channel,
                        dedupe_key(channel, template, notice.occurrence, recipient),
                        recipient=recipient,
                        template=template,
                        context=context,
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
                    customers.c.id,
                    customers.c.email,
                    customers.c.name,
                    customers.c.phone,
                    customers.c.locale,
                ).where(customers.c.id == customer_id)
            )
        ).first()
        return row
