"""In-process sliding windows: how many events a key (customer, fingerprint) had lately.

Why in-process and not a query: screening runs on every payment, and the payment path
is bound by round trips (docs/performance.md); a count query per payment would add one
or two to each. The cost is scope: each server process counts only the payments it
saw, so with ``N`` processes behind a balancer a key's burst is split ``N`` ways (set
the velocity limits per process, or set ``PAYSTEAD_REDIS_URL``:
:mod:`paystead.risk.velocity_redis` keeps the same windows in Redis for every process,
one round trip per payment). Memory is bounded:
at most ``max_keys`` keys (least recently touched evicted first), each keeping at most
``max_events`` timestamps.
"""

from __future__ import annotations

from collections import OrderedDict, deque


class EventWindow:
    """Timestamps per key within the last ``seconds``."""

    def __init__(self, seconds: float, *, max_keys: int = 100_000, max_events: int = 1_000):
        if seconds <= 0 or max_keys < 1 or max_events < 1:
            raise ValueError("a window needs positive seconds, keys and events")
        self.seconds = seconds
        self.max_keys = max_keys
        self.max_events = max_events
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._events)

    def add(self, key: str, now: float) -> None:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque(maxlen=self.max_events)
            if len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        events.append(now)

    def count(self, key: str, now: float) -> int:
        """Events of ``key`` in ``(now - seconds, now]``."""
        events = self._events.get(key)
        if events is None:
            return 0
        horizon = now - self.seconds
        while events and events[0] <= horizon:
            events.popleft()
        if not events:
            del self._events[key]
            return 0
        return len(events)
