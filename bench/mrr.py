"""How long one MRR measurement takes (``insights/measure_billing.mrr_at``), hand-run.

Makes a SQLite database with ``--subscriptions`` subscriptions of three prices, each
with ``--events`` subscription events (a creation, then renewals a month apart: what a
year of billing leaves in the event log), then times ``mrr_at`` at the end, and
the twelve reads of the billing page's MRR trend.

    .venv/bin/python bench/mrr.py --subscriptions 2000 --events 12
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paystead.billing.catalog import Price, Recurring
from paystead.config import Settings
from paystead.ids import new_id
from paystead.insights.measure_billing import mrr_at
from paystead.platform.migrate import upgrade
from paystead.platform.schema import events
from paystead.wiring import build_services

T0 = datetime(2027, 1, 1, tzinfo=UTC)


async def bench(
    url: str, subscriptions: int, per_sub: int, repeat: int
) -> tuple[list[float], list[float]]:
    services = build_services(Settings(database_url=url))
    try:
        prices = []
        for amount in (49_900, 99_900, 29_900):
            product = await services.catalog.create_product(name=f"Plan {amount}", tax_rate="0")
            prices.append(
                await services.catalog.create_price(
                    Price(
                        id="",
                        product_id=product.id,
                        currency="INR",
                        created_at=T0,
                        unit_amount=amount,
                        recurring=Recurring(),
                    )
                )
            )
        rows = []
        for i in range(subscriptions):
            sub_id = new_id("sub")
            data = {
                "id": sub_id,
                "customer": f"cus_{i}",
                "status": "active" if i % 10 else "canceled",
                "currency": "INR",
                "interval": "month",
                "interval_count": 1,
                "items": [{"price": prices[i % 3].id, "quantity": 1 + i % 5}],
            }
            for n in range(per_sub):
                rows.append(
                    {
                        "id": new_id("evt"),
                        "type": "customer.subscription.updated",
                        "object_type": "subscription",
                        "object_id": sub_id,
                        "data": data,
                        "previous": None,
                        "actor": "bench",
                        "request_id": None,
                        "created_at": T0 + timedelta(days=30 * n, seconds=i),
                        "dispatched_at": T0,
                    }
                )
        async with services.db.transaction() as conn:
            await conn.execute(events.insert(), rows)
        at = T0 + timedelta(days=30 * per_sub)
        timings = []
        for _ in range(repeat):
            async with services.db.transaction() as conn:
                started = time.perf_counter()
                report = await mrr_at(conn, at, "INR")
                timings.append(time.perf_counter() - started)
        assert report.known == subscriptions
        # The billing page's trend: twelve instants 30 days apart.
        instants = [at - timedelta(days=30 * i) for i in range(11, -1, -1)]
        series = []
        for _ in range(repeat):
            async with services.db.transaction() as conn:
                started = time.perf_counter()
                for instant in instants:
                    await mrr_at(conn, instant, "INR")
                series.append(time.perf_counter() - started)
        return timings, series
    finally:
        await services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=2000)
    parser.add_argument("--events", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'mrr.db'}"
        upgrade(url)
        timings, series = asyncio.run(bench(url, args.subscriptions, args.events, args.repeat))
    size = f"{args.subscriptions} subscriptions x {args.events} events (SQLite)"
    print(f"mrr_at, {size}: median {statistics.median(timings) * 1000:.1f} ms")
    print(
        f"the billing page's 12-point trend, {size}: median {statistics.median(series) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
