"""Fraud velocity windows in Redis: two ``Services`` over one database and one Redis
(two API processes, as far as state goes) count each other's payments; the window
slides, a payment counts once, and a Redis outage falls back to per-process counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from paystead.config import Settings
from paystead.money import Money
from paystead.payments.service import CreatePayment
from paystead.platform.redis import SharedState
from paystead.risk.config import RiskConfig
from paystead.risk.rules import Mode, PaymentFacts
from paystead.risk.screening import Screener
from paystead.risk.velocity_redis import RedisVelocity
from paystead.wiring import Services, build_services

from .conftest import REDIS_URL


def facts(payment_id: str, customer: str | None = "cus_1", fp: str | None = "fp_1") -> PaymentFacts:
    return PaymentFacts(
        payment_id=payment_id,
        amount=1_000,
        currency="USD",
        payment_method="pm_card_visa",
        customer_id=customer,
        fingerprint=fp,
    )


async def _rules(services: Services, payment_id: str) -> list[str]:
    """The rules that fired on the payment's stored assessment."""
    return [str(hit["rule"]) for hit in (await services.risk.for_payment(payment_id)).rules]


@pytest.fixture
async def two(database_url: str, redis_prefix: str) -> AsyncIterator[tuple[Services, Services]]:
    settings = Settings(database_url=database_url, redis_url=REDIS_URL, redis_prefix=redis_prefix)
    a, b = build_services(settings), build_services(settings)
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def test_two_processes_see_each_others_velocity(two: tuple[Services, Services]) -> None:
    a, b = two
    limit = a.payments.screener.config.velocity.max_per_customer if a.payments.screener else 0
    assert limit >= 1
    customer = await a.customers.create(email="burst@example.com", name="Burst")
    for i in range(limit):  # split over both processes, as a balancer would
        on = a if i % 2 else b
        paid = await on.payments.create(
            CreatePayment(Money(1_000, "USD"), "pm_card_visa", customer_id=customer.id)
        )
        rules = await _rules(on, paid.id)
        assert "customer_velocity" not in rules
    over = await a.payments.create(
        CreatePayment(Money(1_000, "USD"), "pm_card_visa", customer_id=customer.id)
    )
    rules = await _rules(a, over.id)
    # Each process saw only about half the burst itself; together they saw all of it.
    assert "customer_velocity" in rules


async def test_without_redis_each_process_counts_alone(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    a, b = build_services(settings), build_services(settings)
    try:
        assert a.payments.screener is not None and a.payments.screener.shared is None
        limit = a.payments.screener.config.velocity.max_per_customer
        customer = await a.customers.create(email="solo@example.com", name="Solo")
        for i in range(limit):
            on = a if i % 2 else b
            await on.payments.create(
                CreatePayment(Money(1_000, "USD"), "pm_card_visa", customer_id=customer.id)
            )
        over = await a.payments.create(
            CreatePayment(Money(1_000, "USD"), "pm_card_visa", customer_id=customer.id)
        )
        rules = await _rules(a, over.id)
        assert "customer_velocity" not in rules  # the in-process scope the docs warn about
    finally:
        await a.close()
        await b.close()


async def test_the_window_slides_and_a_payment_counts_once(shared: SharedState) -> None:
    now = [1_000_000.0]
    velocity = RedisVelocity(shared, payment_window=600, failure_window=3600, clock=lambda: now[0])
    first = await velocity.count_and_record(facts("pay_1"))
    assert (first.customer_payments, first.fingerprint_payments) == (0, 0)
    again = await velocity.count_and_record(facts("pay_1"))  # the same payment, resumed
    assert (again.customer_payments, again.fingerprint_payments) == (0, 0)
    now[0] += 1
    second = await velocity.count_and_record(facts("pay_2", fp="fp_2"))
    assert (second.customer_payments, second.fingerprint_payments) == (1, 0)
    now[0] += 599  # pay_1 at 600 s old is outside (now - 600, now]; pay_2 is not
    third = await velocity.count_and_record(facts("pay_3", fp="fp_1"))
    assert (third.customer_payments, third.fingerprint_payments) == (1, 0)
    keys = [k async for k in shared.client.scan_iter(match=f"{shared.prefix}risk:*")]
    assert len(keys) == 3  # the customer's payments and two cards (no failures yet)
    ttls = [await shared.client.pttl(k) for k in keys]
    assert all(0 < ttl <= 600_000 for ttl in ttls)  # each expires a window after its last use


async def test_failures_are_shared_and_capped(shared: SharedState) -> None:
    now = [5_000.0]
    one = RedisVelocity(shared, payment_window=600, failure_window=60, clock=lambda: now[0])
    other = RedisVelocity(
        shared, payment_window=600, failure_window=60, max_events=3, clock=lambda: now[0]
    )
    await one.record_failure("cus_1", "pay_a")
    await one.record_failure("cus_1", "pay_a")  # the same failure told twice
    await other.record_failure("cus_1", "pay_b")
    assert (await other.count_and_record(facts("pay_x"))).customer_failures == 2
    for i in range(5):
        await other.record_failure("cus_1", f"pay_{i}")
    assert (await one.count_and_record(facts("pay_y"))).customer_failures == 3  # capped
    now[0] += 61
    assert (await one.count_and_record(facts("pay_z"))).customer_failures == 0


async def test_no_customer_and_no_fingerprint_costs_nothing(shared: SharedState) -> None:
    velocity = RedisVelocity(shared, payment_window=600, failure_window=60)
    recent = await velocity.count_and_record(facts("pay_1", customer=None, fp=None))
    assert (recent.customer_payments, recent.fingerprint_payments) == (0, 0)
    assert [k async for k in shared.client.scan_iter(match=f"{shared.prefix}*")] == []


async def test_a_redis_outage_falls_back_to_this_process(shared: SharedState) -> None:
    dead = SharedState(
        client=Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5),
        prefix=shared.prefix,
    )
    now = [0.0]
    config = RiskConfig()
    screener = Screener(
        config,
        clock=lambda: now[0],
        shared=RedisVelocity(dead, payment_window=600, failure_window=3600),
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        for i in range(config.velocity.max_per_customer):
            assessed = await screener.screen(facts(f"pay_{i}"), Mode.SHADOW, at)
            assert "customer_velocity" not in [h.rule for h in assessed.rules]
            await screener.payment_recorded(assessed.facts)
        over = await screener.screen(facts("pay_over"), Mode.SHADOW, at)
        assert "customer_velocity" in [h.rule for h in over.rules]  # local counts kept
        await screener.payment_failed("cus_1", "pay_over")
        assert screener.recent(facts("pay_next")).customer_failures == 1

        # Redis is back; the screener leaves it alone for a few seconds after the
        # failure, then uses it again.
        screener.shared = RedisVelocity(shared, payment_window=600, failure_window=3600)
        await screener.screen(facts("pay_paused", customer="cus_2"), Mode.SHADOW, at)
        assert await shared.client.exists(shared.key("risk", "pay", "cus", "cus_2")) == 0
        now[0] += 6
        await screener.screen(facts("pay_back", customer="cus_2"), Mode.SHADOW, at)
        assert await shared.client.exists(shared.key("risk", "pay", "cus", "cus_2")) == 1
    finally:
        await dead.close()
