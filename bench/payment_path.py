#!/usr/bin/env python3
"""In-process benchmark of the payment path with and without flags + fraud screening.

No HTTP: ``--concurrency`` coroutines call ``PaymentService.create`` (automatic
capture, the sandbox gateway) in a closed loop against a fresh, migrated database, for
each variant in turn, alternating (ABAB...) so drift on a shared machine hits both:

- ``before``: ``PaymentService(features=None)``, the payment path without flags
  (no evaluation, no screening; what the path was before flags);
- ``shadow``: the wired service (``build_services``): three flag evaluations through
  OpenFeature and paystead's provider (no flags defined, so screening runs in its
  default ``shadow`` mode) plus the screening and its ``risk_assessments`` INSERT.

Each payment has a customer (``--customers`` distinct ones, round robin), so the
customer lookup (``ensure_exists``, or the email read that replaces it) is on the path.

Hand-run, not a test. Example::

    .venv/bin/python bench/payment_path.py --database sqlite --duration 10 --rounds 2
    .venv/bin/python bench/payment_path.py --database postgresql --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from paystead.config import Settings
from paystead.money import Money
from paystead.payments.service import CreatePayment, PaymentService
from paystead.platform.migrate import upgrade
from paystead.wiring import Services, build_services

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


async def run(
    service: PaymentService, customers: list[str], concurrency: int, seconds: float
) -> list[float]:
    """Per-payment wall times (s) of payments completed within ``seconds``."""
    stop = time.perf_counter() + seconds
    times: list[float] = []

    async def client(index: int) -> None:
        n = index
        while time.perf_counter() < stop:
            started = time.perf_counter()
            payment = await service.create(
                CreatePayment(
                    Money(1_000, "USD"), "pm_card_visa", customer_id=customers[n % len(customers)]
                )
            )
            assert payment.status.value == "succeeded", payment.failure_code
            if time.perf_counter() <= stop:
                times.append(time.perf_counter() - started)
            n += concurrency

    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return times


async def bench(url: str, args: argparse.Namespace) -> None:
    services: Services = build_services(Settings(database_url=url, sandbox_enabled=True))
    try:
        await services.flags.cache.refresh()
        customers = [
            (await services.customers.create(email=f"c{i}@example.com", name=f"C{i}")).id
            for i in range(args.customers)
        ]
        stack = services.gateways
        before = PaymentService(
            services.db, stack.gateways, services.ledger, router=stack.router, clock=services.clock
        )
        variants = {"before": before, "shadow": services.payments}
        for service in variants.values():  # warm up: pools, compiled statements, caches
            await run(service, customers, args.concurrency, args.warmup)
        results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in variants}
        for _ in range(args.rounds):
            for name, service in variants.items():
                cpu0 = time.process_time()
                times = await run(service, customers, args.concurrency, args.duration)
                cpu = time.process_time() - cpu0
                results[name].append(
                    (
                        len(times) / args.duration,
                        statistics.median(times) * 1000,
                        cpu / len(times) * 1000,
                    )
                )
        print(
            f"{url.split(':')[0]}, {args.concurrency} concurrent, {args.duration:g} s x {args.rounds} rounds"
        )
        print("variant  payments/s (per round)          p50 ms   CPU ms/payment")
        for name, rows in results.items():
            rates = ", ".join(f"{r[0]:.0f}" for r in rows)
            print(
                f"{name:8} {statistics.mean(r[0] for r in rows):7.0f} ({rates})"
                f"  {statistics.mean(r[1] for r in rows):7.2f}"
                f"  {statistics.mean(r[2] for r in rows):7.3f}"
            )
    finally:
        await services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--customers", type=int, default=50)
    args = parser.parse_args()
    if args.database == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            asyncio.run(bench(url, args))
        return
    name = f"paystead_pathbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        upgrade(url)
        asyncio.run(bench(url, args))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
