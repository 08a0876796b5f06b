#!/usr/bin/env python3
"""What one payment costs the server: database round trips and CPU ms, in-process.

Throughput on a shared machine is noise; these two figures are not. For an
automatic-capture payment with an ``Idempotency-Key`` and a customer (the sandbox
gateway, flags wired, fraud screening in its default ``shadow`` mode), on a fresh
migrated database:

- **statements**: every ``cursor.execute`` / ``executemany`` SQLAlchemy sends (a
  ``before_cursor_execute`` listener), per payment, with their first words, plus the
  transactions (``BEGIN`` / ``COMMIT`` pairs; on PostgreSQL each is one more round trip
  that the listener does not see, on SQLite ``BEGIN IMMEDIATE`` is one of the
  statements). Deterministic: the same on every run.
- **CPU ms per payment**: ``time.process_time()`` (this process, all threads: on SQLite
  the database's own work is included, on PostgreSQL the server's backend is not) over
  ``--payments`` payments run one after another, median of ``--rounds``; no listener
  is installed while it runs.

Two levels: ``service`` calls ``PaymentService.create`` with the same
``IdempotencyClaim`` and response rendering the API builds; ``http`` posts to the app
in-process (``httpx.ASGITransport``: routing, auth from its cache, validation,
telemetry middleware and statement hooks; the httpx client's own CPU is included).
``--profile FILE`` writes a pyinstrument profile (text) of one extra service round.

Hand-run, not a test. Examples::

    .venv/bin/python bench/roundtrips.py --database sqlite
    .venv/bin/python bench/roundtrips.py --database postgresql --payments 500 --rounds 5
    .venv/bin/python bench/roundtrips.py --database postgresql --profile /tmp/pg.txt
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import event

from paystead.api.app import create_app
from paystead.api.deps import json_response
from paystead.api.schemas import PaymentCreate, PaymentOut
from paystead.config import Settings
from paystead.money import Money
from paystead.payments.model import Payment
from paystead.payments.service import CreatePayment
from paystead.platform.apikeys import create_api_key
from paystead.platform.idempotency import IdempotencyClaim, StoredResponse, fingerprint
from paystead.platform.migrate import upgrade
from paystead.wiring import Services, build_services

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

Pay = Callable[[int], Awaitable[None]]


class Counter:
    """Statements and transactions seen on an engine while installed."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.transactions = 0

    def before(self, conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(" ".join(statement.split()[:4])[:60])

    def begin(self, conn: Any) -> None:
        self.transactions += 1


@contextmanager
def counting(services: Services) -> Iterator[Counter]:
    counter = Counter()
    sync = services.db.engine.sync_engine
    event.listen(sync, "before_cursor_execute", counter.before)
    event.listen(sync, "begin", counter.begin)
    try:
        yield counter
    finally:
        event.remove(sync, "before_cursor_execute", counter.before)
        event.remove(sync, "begin", counter.begin)


def service_payer(services: Services, customers: list[str]) -> Pay:
    """``PaymentService.create`` with the claim and rendering ``POST /v1/payments`` uses."""

    def render(payment: Payment) -> StoredResponse:
        return json_response(201, PaymentOut.of(payment))

    async def pay(n: int) -> None:
        body = PaymentCreate(
            amount=1_000,
            currency="USD",
            payment_method="pm_card_visa",
            customer=customers[n % len(customers)],
        )
        claim = IdempotencyClaim(
            api_key_id="key_bench",
            key=str(uuid.uuid4()),
            fingerprint=fingerprint(
                "POST", "/v1/payments", body.model_dump(mode="json", exclude_unset=True)
            ),
            render=render,
            lock_timeout=timedelta(seconds=30),
            now=services.clock,
        )
        payment = await services.payments.create(
            CreatePayment(
                Money(body.amount, body.currency),
                body.payment_method,
                customer_id=body.customer,
            ),
            claim,
        )
        assert payment.status.value == "succeeded", payment.failure_code
        assert claim.response is not None and claim.response.status == 201

    return pay


def http_payer(http: httpx.AsyncClient, customers: list[str]) -> Pay:
    async def pay(n: int) -> None:
        response = await http.post(
            "/v1/payments",
            json={
                "amount": 1_000,
                "currency": "USD",
                "payment_method": "pm_card_visa",
                "customer": customers[n % len(customers)],
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "succeeded"

    return pay


async def measure(
    name: str, services: Services, pay: Pay, args: argparse.Namespace, out: dict[str, Any]
) -> None:
    for n in range(args.warmup):  # pools, compiled statements, caches, ledger accounts
        await pay(n)
    with counting(services) as counter:
        for n in range(args.count):
            await pay(n)
    kinds = collections.Counter(counter.statements)
    cpu: list[float] = []
    for _ in range(args.rounds):
        started = time.process_time()
        for n in range(args.payments):
            await pay(n)
        cpu.append((time.process_time() - started) / args.payments * 1000)
    out[name] = {
        "statements": len(counter.statements) / args.count,
        "transactions": counter.transactions / args.count,
        "cpu_ms": statistics.median(cpu),
        "cpu_ms_rounds": cpu,
        "kinds": {k: v / args.count for k, v in sorted(kinds.items())},
    }


async def bench(url: str, args: argparse.Namespace) -> None:
    settings = Settings(database_url=url, sandbox_enabled=True, api_key_cache_seconds=3600)
    services = build_services(settings)
    results: dict[str, Any] = {}
    try:
        await services.flags.cache.refresh()
        customers = [
            (await services.customers.create(email=f"c{i}@example.com", name=f"C{i}")).id
            for i in range(args.customers)
        ]
        if "service" in args.level:
            await measure("service", services, service_payer(services, customers), args, results)
        if "http" in args.level:
            _key, secret = await create_api_key(services.db, "bench")
            app = create_app(settings, services)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://paystead.bench",
                headers={"Authorization": f"Bearer {secret}"},
            ) as http:
                await measure("http", services, http_payer(http, customers), args, results)
        if args.profile:
            from pyinstrument import Profiler

            pay = service_payer(services, customers)
            profiler = Profiler(interval=0.0002, async_mode="enabled")
            profiler.start()
            for n in range(args.payments):
                await pay(n)
            profiler.stop()
            Path(args.profile).write_text(profiler.output_text(unicode=True, show_all=False))
    finally:
        await services.close()
    backend = url.split(":")[0].split("+")[0]
    for level, r in results.items():
        rounds = ", ".join(f"{c:.3f}" for c in r["cpu_ms_rounds"])
        print(
            f"{backend:10} {level:7} statements/payment {r['statements']:5.2f}"
            f"  transactions/payment {r['transactions']:4.2f}"
            f"  CPU ms/payment {r['cpu_ms']:6.3f} (rounds: {rounds})"
        )
        if args.verbose:
            for kind, per in r["kinds"].items():
                print(f"    {per:5.2f}  {kind}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql", "both"], default="both", help="backend"
    )
    parser.add_argument("--level", choices=["service", "http", "both"], default="both")
    parser.add_argument("--payments", type=int, default=300, help="payments per CPU round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--count", type=int, default=20, help="payments counted (statements)")
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--profile", help="write a pyinstrument text profile here")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the statements")
    args = parser.parse_args()
    if args.level == "both":
        args.level = "service http"
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for database in databases:
        if database == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                upgrade(url)
                asyncio.run(bench(url, args))
            continue
        name = f"paystead_roundtrips_{uuid.uuid4().hex[:8]}"
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
