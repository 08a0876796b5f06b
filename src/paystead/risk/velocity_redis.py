"""Velocity windows in Redis: every API process counts every process's payments.

One sorted set per key (``risk:pay:cus:<customer>``, ``risk:pay:fp:<fingerprint>``,
``risk:fail:cus:<customer>``), members are payment ids scored by their time. Chosen over
per-minute ``INCR`` buckets because it is the same exact sliding window as the
in-process :class:`~paystead.risk.velocity.EventWindow` (``(now - window, now]``, no
bucket edge to burst across), and because a member is a payment id, a payment screened
twice (a resumed idempotent retry) still counts once. Memory stays bounded: each
touch trims what left the window, caps a key at ``max_events`` members and sets the
key to expire one window after its last event.

A payment costs one round trip: :data:`_SCREEN` (Lua, run by ``EVALSHA``) trims the
payment windows, counts them without this payment, adds it, and counts the customer's
failures, atomically. Counting and recording in one step also closes the race two
processes would have between "count" and "add" during a burst. The price: a payment
is counted from its screening, even if its transaction then rolls back (it was an
attempt all the same). Failures cost one more round trip, only when a payment fails.

Times are the process's wall clock (``time.time``), which NTP keeps within
milliseconds across servers: nothing next to the minutes-long windows.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from paystead.platform.redis import SharedState
from paystead.risk.rules import PaymentFacts, Recent

_SCREEN = """
local now = tonumber(ARGV[1])
local member = ARGV[4]
local cap = tonumber(ARGV[5])
local function hit(key, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if redis.call('ZADD', key, 'NX', now, member) == 0 then
    n = n - 1
  elseif n >= cap then
    redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1))
  end
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return n
end
local customer, fingerprint, failures = 0, 0, 0
if ARGV[6] == '1' then
  customer = hit(KEYS[1], tonumber(ARGV[2]))
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[3]))
  failures = redis.call('ZCARD', KEYS[3])
end
if ARGV[7] == '1' then
  fingerprint = hit(KEYS[2], tonumber(ARGV[2]))
end
return {customer, fingerprint, failures}
"""


class RedisVelocity:
    """The shared windows: payments per customer and per fingerprint, failures per
    customer, over ``payment_window`` and ``failure_window`` seconds."""

    def __init__(
        self,
        shared: SharedState,
        *,
        payment_window: float,
        failure_window: float,
        max_events: int = 1_000,
        clock: Callable[[], float] = time.time,
    ):
        if payment_window <= 0 or failure_window <= 0 or max_events < 1:
            raise ValueError("a window needs positive seconds and events")
        self.shared = shared
        self.payment_window = payment_window
        self.failure_window = failure_window
        self.max_events = max_events
        self.clock = clock
        self._screen = shared.client.register_script(_SCREEN)

    def _customer_key(self, customer_id: str) -> str:
        return self.shared.key("risk", "pay", "cus", customer_id)

    def _fingerprint_key(self, fingerprint: str) -> str:
        return self.shared.key("risk", "pay", "fp", fingerprint)

    def _failures_key(self, customer_id: str) -> str:
        return self.shared.key("risk", "fail", "cus", customer_id)

    async def count_and_record(self, facts: PaymentFacts) -> Recent:
        """The counts ``facts`` are screened against (this payment excluded), with the
        payment recorded in the same round trip."""
        if facts.customer_id is None and facts.fingerprint is None:
            return Recent()
        customer = facts.customer_id or ""
        fingerprint = facts.fingerprint or ""
        result = await self._screen(
            keys=[
                self._customer_key(customer),
                self._fingerprint_key(fingerprint),
                self._failures_key(customer),
            ],
            args=[
                repr(self.clock()),
                repr(float(self.payment_window)),
                repr(float(self.failure_window)),
                facts.payment_id,
                self.max_events,
                "1" if facts.customer_id is not None else "0",
                "1" if facts.fingerprint is not None else "0",
            ],
        )
        customer_payments, fingerprint_payments, failures = (int(n) for n in result)
        return Recent(
            customer_payments=customer_payments,
            fingerprint_payments=fingerprint_payments,
            customer_failures=failures,
        )

    async def record_failure(self, customer_id: str, payment_id: str | None = None) -> None:
        """A customer's payment failed or was declined (one pipelined round trip)."""
        now = self.clock()
        key = self._failures_key(customer_id)
        member = payment_id or f"anon:{secrets.token_hex(8)}"
        pipe = self.shared.client.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", now - self.failure_window)
        pipe.zadd(key, {member: now}, nx=True)
        pipe.zremrangebyrank(key, 0, -(self.max_events + 1))
        pipe.pexpire(key, int(self.failure_window * 1000) + 1)
        await pipe.execute()
