#!/usr/bin/env python3
"""What the shared (Redis) fraud velocity windows cost per payment.

Two measurements, each in-process against a running Redis (``--redis``):

1. ``screen``: ``Screener.screen`` alone, in-process windows vs. Redis (one ``EVALSHA``
   per payment), sequentially (latency) and with ``--concurrency`` coroutines
   (throughput of one process), over ``--keys`` distinct customers and cards;
2. ``payments``: ``PaymentService.create`` on a fresh SQLite file through
   ``build_services``, with and without ``PAYSTEAD_REDIS_URL``, in ABBA order.

Hand-run, not a test. Example::

    .venv/bin/python bench/redis_velocity.py --count 20000 --payments 400 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from paystead.config import Settings
from paystead.money import Money
from paystead.payments.service import CreatePayment
from paystead.platform.migrate import upgrade
from paystead.platform.redis import SharedState
from paystead.risk.config import RiskConfig
from paystead.risk.rules import Mode, PaymentFacts
from paystead.risk.screening import Screener
from paystead.risk.velocity_redis import RedisVelocity
from paystead.wiring import build_services

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _facts(i: int, keys: int) -> PaymentFacts:
    return PaymentFacts(
        payment_id=f"pay_{i}",
        amount=1_000,
        currency="USD",
        payment_method="pm_tok",
        customer_id=f"cus_{i % keys}",
        fingerprint=f"fp_{i % keys}",
    )


async def _screen(screener: Screener, count: int, keys: int, concurrency: int) -> float:
    """Payments per second through ``screener.screen`` + ``payment_recorded``."""
    next_i = 0

    async def worker() -> None:
        nonlocal next_i
        while next_i < count:
            i, next_i = next_i, next_i + 1
            assessed = await screener.screen(_facts(i, keys), Mode.SHADOW, AT)
            await screener.payment_recorded(assessed.facts)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def _latencies(screener: Screener, count: int, keys: int) -> list[float]:
    out = []
    for i in range(count):
        t = time.perf_counter()
        assessed = await screener.screen(_facts(i, keys), Mode.SHADOW, AT)
        await screener.payment_recorded(assessed.facts)
        out.append((time.perf_counter() - t) * 1e6)
    return out


async def screen_bench(args: argparse.Namespace) -> None:
    prefix = f"paystead-bench:{uuid.uuid4().hex[:8]}:"
    shared = SharedState(client=Redis.from_url(args.redis), prefix=prefix)
    config = RiskConfig()
    try:
        for name, screener in (
            ("in-process", Screener(config)),
            (
                "redis",
                Screener(
                    config,
                    shared=RedisVelocity(shared, payment_window=600, failure_window=3600),
                ),
            ),
        ):
            lat = sorted(await _latencies(screener, args.count // 4, args.keys))
            rate = await _screen(screener, args.count, args.keys, args.concurrency)
            p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
            print(
                f"screen {name:10s}: p50 {p50:7.1f} us, p99 {p99:7.1f} us sequential; "
                f"{rate:9.0f} payments/s at concurrency {args.concurrency}"
            )
    finally:
        keys = [k async for k in shared.client.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await shared.client.delete(*keys[start : start + 1000])
        await shared.close()


async def _pay(settings: Settings, n: int) -> float:
    """Seconds per payment, sequential, one customer per 10 payments."""
    services = build_services(settings)
    try:
        customers = [
            (await services.customers.create(email=f"c{i}@example.com", name="C")).id
            for i in range(max(1, n // 10))
        ]
        started = time.perf_counter()
        for i in range(n):
            await services.payments.create(
                CreatePayment(
                    Money(1_000, "USD"), "pm_card_visa", customer_id=customers[i % len(customers)]
                )
            )
        return (time.perf_counter() - started) / n
    finally:
        await services.close()


async def payments_bench(args: argparse.Namespace) -> None:
    results: dict[str, list[float]] = {"in-process": [], "redis": []}
    for r in range(args.rounds):
        order = list(results) if r % 2 == 0 else list(reversed(results))  # ABBA
        for name in order:
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                await asyncio.to_thread(upgrade, url)
                settings = Settings(
                    database_url=url,
                    redis_url=args.redis if name == "redis" else None,
                    redis_prefix=f"paystead-bench:{uuid.uuid4().hex[:8]}:",
                )
                results[name].append(await _pay(settings, args.payments))
    for name, values in results.items():
        ms = statistics.median(values) * 1000
        print(f"payment {name:10s}: {ms:6.2f} ms per payment (median of {len(values)} rounds)")
    delta = statistics.median(results["redis"]) - statistics.median(results["in-process"])
    print(f"payment redis - in-process: {delta * 1e6:+.0f} us per payment")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--payments", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(screen_bench(args))
    asyncio.run(payments_bench(args))


if __name__ == "__main__":
    main()
