"""The wired payment path (``build_services``) on paystead's own flags: a flag created
in the store, refreshed into the in-process snapshot, changes what the next payment
does; a percentage split assigns each customer a stable variant."""

from __future__ import annotations

from pathlib import Path

from paystead.config import Settings
from paystead.money import Money
from paystead.optimize.flags.model import parse_definition
from paystead.payments import flags
from paystead.payments.service import CreatePayment
from paystead.wiring import Services, build_services


async def test_enforce_from_the_flag_store_blocks_a_blocklisted_payer(
    database_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "risk.yaml"
    config.write_text("blocklist: {emails: [mallory@example.com]}\n")
    services: Services = build_services(
        Settings(database_url=database_url, risk_config_path=str(config))
    )
    try:
        mallory = await services.customers.create(email="mallory@example.com", name="M")
        shadow = await services.payments.create(
            CreatePayment(Money(1_000, "USD"), "pm_card_visa", customer_id=mallory.id)
        )
        assert shadow.status.value == "succeeded"  # no flag yet: shadow
        assert (await services.risk.for_payment(shadow.id)).decision.value == "block"

        await services.flags.create(
            flags.FRAUD_SCREENING,
            parse_definition(
                {
                    "type": "string",
                    "variants": {"off": "off", "shadow": "shadow", "enforce": "enforce"},
                    "default": {"variant": "enforce"},
                }
            ),
            actor="test",
            reason="enforce screening",
        )
        await services.flags.cache.refresh()

        blocked = await services.payments.create(
            CreatePayment(Money(1_000, "USD"), "pm_card_visa", customer_id=mallory.id)
        )
        assert (blocked.status.value, blocked.failure_code) == ("failed", "fraud_suspected")
        assessed = await services.risk.for_payment(blocked.id)
        assert (assessed.mode.value, assessed.decision.value) == ("enforce", "block")
    finally:
        await services.close()


async def test_a_split_routing_strategy_is_stable_per_customer(database_url: str) -> None:
    services: Services = build_services(Settings(database_url=database_url))
    try:
        await services.flags.create(
            flags.ROUTING_STRATEGY,
            parse_definition(
                {
                    "type": "string",
                    "variants": {"thompson": "thompson", "static": "static_priority"},
                    "default": {"split": {"thompson": 5000, "static": 5000}},
                    "off_variant": "thompson",
                }
            ),
            actor="test",
            reason="routing experiment",
        )
        await services.flags.cache.refresh()
        seen: dict[str, set[str]] = {}
        for i in range(12):
            customer = await services.customers.create(email=f"c{i}@example.com", name="C")
            for _ in range(2):
                paid = await services.payments.create(
                    CreatePayment(Money(1_000, "USD"), "pm_card_visa", customer_id=customer.id)
                )
                seen.setdefault(customer.id, set()).add(
                    paid.attempts[0]["flags"]["routing_strategy"]
                )
        assert all(len(strategies) == 1 for strategies in seen.values())  # stable
        assert set().union(*seen.values()) == {"thompson", "static_priority"}  # both served
    finally:
        await services.close()
