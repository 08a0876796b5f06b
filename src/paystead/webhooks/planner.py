"""Which webhook deliveries an event makes: one per live endpoint subscribed to its type."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.events import catalog
from paystead.events.delivery import Channel, PlannedDelivery
from paystead.events.outbox import Event
from paystead.platform.schema import webhook_endpoints
from paystead.webhooks.endpoints import DISABLED, webhook_dedupe_key

_LIVE = sa.select(webhook_endpoints.c.id, webhook_endpoints.c.enabled_events).where(
    webhook_endpoints.c.deleted_at.is_(None), webhook_endpoints.c.status != DISABLED
)


class WebhookPlanner:
    async def plan(
        self, conn: AsyncConnection, events: Sequence[Event]
    ) -> list[tuple[str, PlannedDelivery]]:
        events = [e for e in events if not _synthetic(e)]
        if not any(catalog.subscribed([catalog.WILDCARD], e.type) for e in events):
            return []
        endpoints = (await conn.execute(_LIVE)).all()
        return [
            (
                event.id,
                PlannedDelivery(
                    Channel.WEBHOOK, webhook_dedupe_key(event.id, endpoint.id), endpoint.id
                ),
            )
            for event in events
            for endpoint in endpoints
            if catalog.subscribed(list(endpoint.enabled_events), event.type)
        ]


def _synthetic(event: Event) -> bool:
    """The telemetry probe's own payments (``metadata.synthetic == "probe"``) are not the
    merchant's business: no webhooks for them."""
    metadata = event.data.get("metadata")
    return isinstance(metadata, dict) and metadata.get("synthetic") == "probe"
