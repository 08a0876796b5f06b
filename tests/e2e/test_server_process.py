"""The real thing: the ``paystead`` CLI migrating, issuing a key and serving with uvicorn
workers on loopback, driven over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.serverproc import RunningServer, cli, running_server


@pytest.fixture
def server(database_url: str) -> Iterator[RunningServer]:
    with running_server(database_url, workers=2) as running:
        yield running


def test_payment_lifecycle_and_racing_duplicates_over_real_http(
    server: RunningServer,
) -> None:
    base, secret, env = server.base_url, server.api_key, server.env
    auth = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
        assert http.get("/docs").status_code == 200
        assert "/v1/payments" in http.get("/openapi.json").json()["paths"]

        body = {"amount": 99900, "currency": "INR", "payment_method": "pm_card_visa"}
        key = {"Idempotency-Key": "real-http-race"}
        with ThreadPoolExecutor(max_workers=16) as pool:
            responses = list(
                pool.map(lambda _: http.post("/v1/payments", json=body, headers=key), range(32))
            )
        assert {r.status_code for r in responses} <= {201, 409}
        ids = {r.json()["id"] for r in responses if r.status_code == 201}
        assert len(ids) == 1
        assert len(http.get("/v1/payments", params={"limit": 100}).json()["data"]) == 1

        manual = http.post("/v1/payments", json={**body, "capture_method": "manual"}).json()
        assert manual["status"] == "requires_capture"
        captured = http.post(f"/v1/payments/{manual['id']}/capture", json={}).json()
        assert captured["status"] == "succeeded"
        refund = http.post("/v1/refunds", json={"payment": manual["id"], "amount": 900})
        assert refund.status_code == 201
        assert refund.json()["status"] == "succeeded"

        unauthenticated = httpx.get(f"{base}/v1/payments")
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["content-type"] == "application/problem+json"

    check = cli(env, "ledger", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert '"ok": true' in check.stdout
