"""The real thing: the ``paystead`` CLI migrating, issuing a key and serving with uvicorn
workers on loopback, driven over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

PAYSTEAD = str(Path(sys.executable).parent / "paystead")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PAYSTEAD, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def server(database_url: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    env = {**os.environ, "PAYSTEAD_DATABASE_URL": database_url, "PAYSTEAD_LOG_LEVEL": "warning"}
    assert _cli(env, "migrate").returncode == 0  # already migrated by the fixture: a no-op
    created = _cli(env, "apikey", "create", "--name", "e2e")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("sk_") and "\n" not in secret
    port = _free_port()
    proc = subprocess.Popen(
        [PAYSTEAD, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "server exited during start-up"
            assert time.monotonic() < deadline, "server did not start in 30 s"
            time.sleep(0.2)
        yield base, secret, env
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_payment_lifecycle_and_racing_duplicates_over_real_http(
    server: tuple[str, str, dict[str, str]],
) -> None:
    base, secret, env = server
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

    check = _cli(env, "ledger", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert '"ok": true' in check.stdout
