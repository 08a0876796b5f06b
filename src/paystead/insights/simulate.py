"""Live demo traffic through the real HTTP API, so a new user sees a living system.

Customers sign up; one-off payments arrive across channels (web, android, ios) and
currencies, mostly succeeding, some declined (fraud attempts among them), some held for
manual capture and then captured or canceled, some refunded in part or in full; a few
retries reuse their Idempotency-Key; now and then a customer answers a survey (NPS,
CSAT) or opens a support ticket. Some customers subscribe to a SaaS plan on a test clock
that moves one day every few seconds (``insights/demo_billing.py``), so renewals, GST
invoices and dunning happen live too. Everything goes over HTTP with an API key, exactly as a client would.
Runs at a configurable rate, bounded by a duration or a count, and is seeded.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from paystead.insights.demo_billing import BillingDemo

log = logging.getLogger(__name__)
_ID = re.compile(r"(pay|cus|re|clock|sub|in)_\w+")

FIRST = ["Aarav", "Diya", "Ishaan", "Kavya", "Rohan", "Ananya", "Vihaan", "Meera", "Arjun", "Sara"]
LAST = ["Sharma", "Iyer", "Patel", "Reddy", "Nair", "Gupta", "Khan", "Das", "Mehta", "Singh"]

# (payment method token, weight): mostly good cards, a realistic tail of failures.
METHODS = [
    ("pm_card_visa", 70.0),
    ("pm_card_mastercard", 15.0),
    ("pm_upi_success", 9.0),
    ("pm_card_declined", 2.0),
    ("pm_card_insufficient_funds", 1.5),
    ("pm_card_expired", 0.8),
    ("pm_card_processing_error", 0.5),
    ("pm_card_fraudulent", 0.2),
]
CHANNELS = [("web", 55.0), ("android", 30.0), ("ios", 15.0)]
CURRENCIES = [("INR", 85.0), ("USD", 10.0), ("EUR", 5.0)]
MEDIAN_MINOR = {"INR": 150_000, "USD": 4_000, "EUR": 3_500}


@dataclass
class SimulationStats:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    payments: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "payments": dict(self.payments),
        }


def _pick(rng: random.Random, choices: list[tuple[str, float]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


class Simulator:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        rate: float = 2.0,
        seed: int | None = None,
        concurrency: int = 8,
        billing_day_seconds: float | None = 10.0,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.client = client
        self.rate = rate
        self.rng = random.Random(seed)
        self.feedback_rng = random.Random(None if seed is None else seed + 1)
        self.concurrency = asyncio.Semaphore(concurrency)
        self.customers: list[str] = []
        self.refundable: list[tuple[str, int]] = []
        self.stats = SimulationStats()
        #: Seconds of real time per day of the demo billing clock; None: no subscriptions.
        self.billing_day_seconds = billing_day_seconds
        self.billing = BillingDemo(self._post, self.rng)
        self._billing_ready = False
        self._day_lock = asyncio.Lock()

    async def _post(
        self, path: str, body: dict[str, Any], key: str | None = None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        response = await self.client.post(path, json=body, headers=headers)
        self.stats.requests[f"POST {_ID.sub('{id}', path)}"] += 1
        self.stats.statuses[response.status_code] += 1
        return response

    def _person(self) -> tuple[str, str]:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        return f"{first} {last}", f"{first}.{last}.{self.rng.randrange(10**6)}@example.com".lower()

    async def new_customer(self) -> str | None:
        name, email = self._person()
        response = await self._post(
            "/v1/customers",
            {
                "email": email,
                "name": name,
                "phone": f"+9198{self.rng.randrange(10**8):08d}",
            },
        )
        if response.status_code != 201:
            return None
        customer_id = str(response.json()["id"])
        self.customers.append(customer_id)
        return customer_id

    def _amount(self, currency: str) -> int:
        # Order values are roughly log-normal around the median.
        return max(100, int(MEDIAN_MINOR[currency] * math.exp(self.rng.gauss(0, 0.6))))

    async def one_payment(self) -> None:
        if not self.customers or self.rng.random() < 0.15:
            await self.new_customer()
        if self._billing_ready and self.rng.random() < 0.05:
            await self.billing.subscribe(*self._person())
        currency = _pick(self.rng, CURRENCIES)
        manual = self.rng.random() < 0.1
        body = {
            "amount": self._amount(currency),
            "currency": currency,
            "payment_method": _pick(self.rng, METHODS),
            "capture_method": "manual" if manual else "automatic",
            "customer": self.rng.choice(self.customers) if self.customers else None,
            "description": "demo order",
            "metadata": {"channel": _pick(self.rng, CHANNELS), "source": "simulate"},
        }
        body = {k: v for k, v in body.items() if v is not None}
        key = str(uuid.uuid4())
        response = await self._post("/v1/payments", body, key)
        if response.status_code != 201:
            return
        if self.rng.random() < 0.02:  # a client retry after a lost response: replayed
            await self._post("/v1/payments", body, key)
        payment = response.json()
        self.stats.payments[payment["status"]] += 1
        if payment["status"] == "requires_capture":
            if self.rng.random() < 0.85:
                captured = await self._post(f"/v1/payments/{payment['id']}/capture", {})
                if captured.status_code == 200 and captured.json()["status"] == "succeeded":
                    self.refundable.append((payment["id"], payment["amount"]))
            else:
                await self._post(f"/v1/payments/{payment['id']}/cancel", {})
        elif payment["status"] == "succeeded":
            self.refundable.append((payment["id"], payment["amount"]))
        await self.feedback()
        if self.refundable and self.rng.random() < 0.04:
            paid, amount = self.refundable.pop(self.rng.randrange(len(self.refundable)))
            partial = self.rng.random() < 0.5
            refund = {"payment": paid, "reason": "requested_by_customer"}
            if partial:
                refund["amount"] = max(1, amount // 2)  # type: ignore[assignment]
            await self._post("/v1/refunds", refund)

    async def feedback(self) -> None:
        """Now and then a survey answer or a support ticket, as customers give them.

        Drawn from a generator of its own, all draws before the first request: how
        concurrent payments interleave then cannot change what feedback a seed gives."""
        rng, now = self.feedback_rng, int(time.time())
        posts: list[tuple[str, dict[str, Any]]] = []
        if rng.random() < 0.06:
            kind = rng.choice(["nps", "csat"])
            # Mostly happy customers: NPS around 8-10, CSAT around 4-5.
            if kind == "nps":
                score = min(10, max(0, round(rng.gauss(8.6, 1.6))))
            else:
                score = min(5, max(1, round(rng.gauss(4.5, 0.7))))
            posts.append(("/v1/survey_responses", {"kind": kind, "score": score}))
        if rng.random() < 0.03:
            ticket = f"SIM-{rng.randrange(10**9)}"
            opened = now - rng.randrange(0, 3 * 3600)
            body: dict[str, Any] = {"external_id": ticket, "opened_at": opened}
            if rng.random() < 0.7:  # most are resolved within a few hours
                body["resolved_at"] = min(now, opened + rng.randrange(600, 4 * 3600))
            posts.append(("/v1/support_tickets", body))
        for path, post in posts:
            await self._post(path, post)

    async def _guarded(self) -> None:
        async with self.concurrency:
            try:
                await self.one_payment()
            except httpx.HTTPError as exc:
                self.stats.requests["transport_error"] += 1
                log.warning("demo request failed: %s", exc)

    async def _next_billing_day(self) -> None:
        if self._day_lock.locked():  # the previous day is still being billed
            return
        async with self._day_lock:
            try:
                await self.billing.next_day()
            except httpx.HTTPError as exc:
                log.warning("demo clock advance failed: %s", exc)

    async def run(
        self, *, duration: float | None = None, count: int | None = None
    ) -> SimulationStats:
        """Start payments at ``rate`` per second (Poisson arrivals) until a bound is hit."""
        if duration is None and count is None:
            raise ValueError("give a duration or a count: the simulation must stop by itself")
        started = time.monotonic()
        if self.billing_day_seconds is not None:
            self._billing_ready = await self.billing.setup(int(time.time()))
        last_day = started
        tasks: set[asyncio.Task[None]] = set()
        made = 0
        while (count is None or made < count) and (
            duration is None or time.monotonic() - started < duration
        ):
            task = asyncio.create_task(self._guarded())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            made += 1
            day = self.billing_day_seconds
            if self._billing_ready and day is not None and time.monotonic() - last_day >= day:
                last_day = time.monotonic()
                task = asyncio.create_task(self._next_billing_day())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(self.rng.expovariate(self.rate))
        if tasks:
            await asyncio.gather(*tasks)
        return self.stats


async def simulate(
    url: str,
    api_key: str,
    *,
    rate: float,
    duration: float | None,
    count: int | None,
    seed: int | None = None,
) -> SimulationStats:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as client:
        return await Simulator(client, rate=rate, seed=seed).run(duration=duration, count=count)
