"""Demo subscriptions for ``paystead simulate``: SaaS plans billed through a test clock.

Real months are too slow to watch, so demo subscribers live on a test clock that the
simulation moves forward one day every few seconds. Renewals, GST invoices (intra-state,
inter-state and export), declined renewals, dunning retries and recoveries then show up
in the API, the events and the dashboard within minutes, through the same HTTP API a
client would use.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)

Post = Callable[[str, dict[str, Any], str | None], Awaitable[httpx.Response]]

#: (plan, monthly price in paise, seats drawn from this range)
PLANS = [("Starter", 49_900, (1, 1)), ("Pro", 99_900, (1, 1)), ("Team (per seat)", 29_900, (2, 12))]
#: Buyer GST states: Karnataka (the demo seller's own state), Maharashtra, Delhi, Tamil Nadu.
STATES = [("29", "Bengaluru", 40.0), ("27", "Mumbai", 30.0), ("07", "New Delhi", 20.0)]
STATES += [("33", "Chennai", 10.0)]
#: Mostly good cards; a few that decline, so dunning has work to do.
RENEWAL_METHODS = [("pm_card_visa", 88.0), ("pm_upi_success", 6.0), ("pm_card_declined", 6.0)]
DAY = 86_400


@dataclass
class BillingDemo:
    post: Post
    rng: random.Random
    clock_id: str | None = None
    frozen_time: int = 0
    prices: list[tuple[str, tuple[int, int]]] = field(default_factory=list)
    #: Subscribers whose card declines: some of them fix it mid-dunning.
    declining: list[str] = field(default_factory=list)

    async def setup(self, now: int) -> bool:
        """Create the plans (replayed by fixed idempotency keys) and a fresh test clock."""
        for name, amount, seats in PLANS:
            slug = name.split()[0].lower()
            product = await self.post(
                "/v1/products",
                {"name": f"{name} plan", "tax_code": "998314", "tax_rate": "18"},
                f"demo-product-{slug}",
            )
            if product.status_code not in (200, 201):
                log.warning("demo billing disabled: products answered %s", product.status_code)
                return False
            price = await self.post(
                "/v1/prices",
                {
                    "product": product.json()["id"],
                    "currency": "INR",
                    "unit_amount": amount,
                    "recurring": {"interval": "month"},
                    "tax_behavior": "exclusive",
                },
                f"demo-price-{slug}",
            )
            if price.status_code not in (200, 201):
                return False
            self.prices.append((str(price.json()["id"]), seats))
        clock = await self.post(
            "/v1/test_clocks", {"frozen_time": now, "name": "paystead simulate"}, None
        )
        if clock.status_code != 201:
            return False
        self.clock_id, self.frozen_time = str(clock.json()["id"]), now
        return True

    async def subscribe(self, name: str, email: str) -> None:
        if self.clock_id is None:
            return
        state, city, _ = self.rng.choices(STATES, weights=[w for *_, w in STATES])[0]
        export = self.rng.random() < 0.05
        method = self.rng.choices(
            [m for m, _ in RENEWAL_METHODS], weights=[w for _, w in RENEWAL_METHODS]
        )[0]
        address = (
            {"line1": "1 Market St", "city": "San Francisco", "country": "US"}
            if export
            else {"line1": "12 MG Road", "city": city, "state_code": state, "country": "IN"}
        )
        customer = await self.post(
            "/v1/customers",
            {
                "email": email,
                "name": name,
                "address": address,
                "payment_method": "pm_card_visa",
                "test_clock": self.clock_id,
            },
            None,
        )
        if customer.status_code != 201:
            return
        customer_id = str(customer.json()["id"])
        price, (low, high) = self.rng.choice(self.prices)
        body: dict[str, Any] = {
            "customer": customer_id,
            "items": [{"price": price, "quantity": self.rng.randint(low, high)}],
        }
        if self.rng.random() < 0.3:
            body["trial_period_days"] = 14
        subscription = await self.post("/v1/subscriptions", body, None)
        if subscription.status_code == 201 and method != "pm_card_visa":
            # The first invoice was paid; later renewals charge the card on file now.
            await self.post(f"/v1/customers/{customer_id}", {"payment_method": method}, None)
            if method == "pm_card_declined":
                self.declining.append(customer_id)

    async def next_day(self) -> None:
        """Move the demo clock one day: renewals, trial ends and dunning retries run."""
        if self.clock_id is None:
            return
        if self.declining and self.rng.random() < 0.2:  # a customer updates their card
            customer_id = self.declining.pop(self.rng.randrange(len(self.declining)))
            await self.post(
                f"/v1/customers/{customer_id}", {"payment_method": "pm_card_visa"}, None
            )
        self.frozen_time += DAY
        await self.post(
            f"/v1/test_clocks/{self.clock_id}/advance", {"frozen_time": self.frozen_time}, None
        )
