"""Flag changes pushed to every process through Redis pub/sub (``PAYSTEAD_REDIS_URL``).

The writer publishes on ``<prefix>flags:changed`` after its transaction committed
(:class:`~paystead.optimize.flags.store.FlagStore`); every process subscribes
(:func:`paystead.optimize.flags.cache.run_periodically` starts :meth:`FlagBroadcast.listen`
beside its poll) and refreshes its snapshot at once. The message only says "something
changed": the snapshot is reloaded from the database as a poll would, so a message
can never carry a stale or partial flag. Pub/sub is at most once, so the poll stays:
a message lost while a subscriber reconnects is caught by the next poll (and by the
refresh every (re)subscription does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING

import orjson

from paystead.platform.redis import SharedState

if TYPE_CHECKING:
    from paystead.optimize.flags.cache import FlagCache

log = logging.getLogger(__name__)


class FlagBroadcast:
    def __init__(self, shared: SharedState, *, retry_seconds: float = 1.0):
        self.shared = shared
        self.channel = shared.key("flags", "changed")
        #: This process's id in messages: its own are skipped (it refreshed already).
        self.origin = secrets.token_hex(8)
        self.retry_seconds = retry_seconds
        #: Set while subscribed (tests and health checks wait on it).
        self.subscribed = asyncio.Event()

    async def publish(self) -> None:
        """Tell every other process the flags changed (never fails the write: the
        poll delivers the change if Redis is down)."""
        try:
            await self.shared.client.publish(self.channel, orjson.dumps({"origin": self.origin}))
        except Exception:
            log.warning("could not publish a flag change; other processes poll it", exc_info=True)

    async def listen(self, cache: FlagCache, stop: asyncio.Event) -> None:
        """Refresh ``cache`` on every other process's change until ``stop`` is set;
        reconnects after ``retry_seconds`` when Redis goes away."""
        while not stop.is_set():
            pubsub = self.shared.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self.subscribed.set()
                        await cache.refresh()  # whatever changed while not subscribed
                    elif message["type"] == "message" and self._foreign(message["data"]):
                        await cache.refresh()
            except Exception:
                self.subscribed.clear()
                log.warning("flag change subscription failed; polling meanwhile", exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.retry_seconds)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _foreign(self, data: bytes) -> bool:
        try:
            return bool(orjson.loads(data).get("origin") != self.origin)
        except (orjson.JSONDecodeError, AttributeError):
            return True
