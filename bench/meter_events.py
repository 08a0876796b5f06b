"""Ingestion speed of ``POST /v1/meter_events``: sequential, in-process (httpx ASGI).

A hand-run measurement, not a test. It migrates a fresh database (a temporary SQLite
file, or the PostgreSQL URL given with ``--database-url``), creates an API key, a
customer and a ``sum`` meter, then posts ``--events`` events one after another through
the real app (authentication, validation, one INSERT per event) and reports events/s;
then the same number of duplicates (identifiers already stored: INSERT ignored plus one
SELECT for the stored event), then new events through ``UsageService.record_event``
directly, to show what HTTP costs on top.

    .venv/bin/python bench/meter_events.py --events 2000
    .venv/bin/python bench/meter_events.py --database-url postgresql+asyncpg://postgres@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from paystead.api.app import create_app
from paystead.config import Settings
from paystead.platform.apikeys import create_api_key
from paystead.platform.migrate import upgrade
from paystead.wiring import build_services


async def run(url: str, events: int) -> dict[str, float]:
    settings = Settings(database_url=url, worker_embedded_enabled=False, api_key_cache_seconds=60)
    services = build_services(settings)
    app = create_app(settings, services)
    _key, secret = await create_api_key(services.db, "bench")
    transport = httpx.ASGITransport(app=app)
    results: dict[str, float] = {}
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://bench",
        headers={"Authorization": f"Bearer {secret}"},
    ) as http:
        cus = await http.post("/v1/customers", json={"email": "b@example.com", "name": "B"})
        customer = cus.json()["id"]
        meter = {"key": "bench_calls", "display_name": "Bench", "aggregation": "sum"}
        assert (await http.post("/v1/meters", json=meter)).status_code == 201
        for label, expected in (("new", 201), ("duplicate", 200)):
            started = time.perf_counter()
            for i in range(events):
                body = {
                    "customer": customer,
                    "meter": "bench_calls",
                    "value": 1,
                    "identifier": f"e{i}",
                }
                r = await http.post("/v1/meter_events", json=body)
                if r.status_code != expected:
                    raise SystemExit(f"unexpected {r.status_code}: {r.text}")
            results[label] = events / (time.perf_counter() - started)
    # The same work without HTTP: what the service and the database cost alone.
    started = time.perf_counter()
    for i in range(events):
        await services.usage.record_event(
            customer_id=customer, meter="bench_calls", value=1, identifier=f"s{i}"
        )
    results["new, service call without HTTP"] = events / (time.perf_counter() - started)
    await services.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        results = asyncio.run(run(url, args.events))
    backend = url.split(":", 1)[0]
    for label, rate in results.items():
        print(f"{backend}: {args.events} {label} events sequentially: {rate:,.0f} events/s")


if __name__ == "__main__":
    main()
