"""The real processes: ``paystead worker`` killed mid-batch on PostgreSQL, the worker
embedded in ``paystead serve`` (SQLite), and the ``audit verify`` / ``webhooks replay``
commands, all against receivers on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from paystead.config import Settings
from paystead.events.outbox import EventFilter
from paystead.money import Money
from paystead.payments.service import CreatePayment
from paystead.wiring import build_services
from tests.conftest import _truncate_postgres
from tests.e2e.serverproc import PAYSTEAD, cli, running_server
from tests.integration.events.loopback import WebhookReceiver


def wait_until(condition: object, *, seconds: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    _truncate_postgres(postgres_url)
    return postgres_url


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PAYSTEAD, "worker"], env=env, start_new_session=True)


async def test_a_worker_killed_mid_batch_loses_no_event(pg_url: str) -> None:
    services = build_services(Settings(database_url=pg_url, webhook_allow_http_loopback=True))
    env = {
        **os.environ,
        "PAYSTEAD_DATABASE_URL": pg_url,
        "PAYSTEAD_WEBHOOK_ALLOW_HTTP_LOOPBACK": "true",
        "PAYSTEAD_SMS_PROVIDER": "none",
        "PAYSTEAD_WORKER_BATCH_SIZE": "8",
        "PAYSTEAD_WORKER_CONCURRENCY": "4",
        "PAYSTEAD_WORKER_LEASE_SECONDS": "2",
        "PAYSTEAD_WORKER_POLL_SECONDS": "0.1",
        "PAYSTEAD_LOG_LEVEL": "warning",
    }
    try:
        with WebhookReceiver(delay=0.1) as receiver:
            endpoint = await services.webhooks.create(url=receiver.url, enabled_events=["*"])
            for i in range(20):
                await services.payments.create(
                    CreatePayment(Money(1000 + i, "INR"), "pm_card_visa")
                )
            found, _ = await services.events.list(
                EventFilter(type="payment.*"), limit=100, starting_after=None
            )
            expected = {e.id for e in found}
            assert len(expected) == 40

            first = start_worker(env)
            wait_until(lambda: len(receiver.snapshot()) >= 6, what="the first deliveries")
            os.killpg(first.pid, signal.SIGKILL)  # mid-batch: leased jobs are in flight
            first.wait(timeout=10)
            delivered_before_kill = set(receiver.webhook_ids())
            assert delivered_before_kill < expected, "the kill must interrupt the work"

            second = start_worker(env)
            try:
                wait_until(
                    lambda: set(receiver.webhook_ids()) >= expected,
                    what="every event after the restart",
                )
            finally:
                os.killpg(second.pid, signal.SIGTERM)
                assert second.wait(timeout=15) == 0
            got = receiver.snapshot()
    finally:
        await services.close()

    assert {r.headers["webhook-id"] for r in got} == expected  # at least once each
    verifier = Webhook(endpoint.secret)
    bodies: dict[str, bytes] = {}
    for request in got:
        payload = verifier.verify(request.body, request.headers)
        assert payload["id"] == request.headers["webhook-id"]
        # A redelivery carries the same id and the same body.
        assert bodies.setdefault(payload["id"], request.body) == request.body


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'embedded.db'}"


@pytest.fixture
def fast_worker_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PAYSTEAD_WEBHOOK_ALLOW_HTTP_LOOPBACK", "true")
    monkeypatch.setenv("PAYSTEAD_WORKER_POLL_SECONDS", "0.1")
    monkeypatch.setenv("PAYSTEAD_SMS_PROVIDER", "none")
    yield


def test_serve_runs_the_worker_and_the_cli_verifies_and_replays(
    sqlite_file: str, fast_worker_env: None
) -> None:
    with WebhookReceiver() as receiver, running_server(sqlite_file) as server:
        auth = {"Authorization": f"Bearer {server.api_key}"}
        with httpx.Client(base_url=server.base_url, headers=auth, timeout=30) as http:
            created = http.post(
                "/v1/webhook_endpoints", json={"url": receiver.url, "events": ["payment.succeeded"]}
            )
            assert created.status_code == 201, created.text
            endpoint = created.json()
            payment = http.post(
                "/v1/payments",
                json={"amount": 50000, "currency": "INR", "payment_method": "pm_card_visa"},
            ).json()
            wait_until(lambda: len(receiver.snapshot()) == 1, what="the embedded worker")
            [delivered] = receiver.snapshot()
            event = Webhook(endpoint["secret"]).verify(delivered.body, delivered.headers)
            assert event["type"] == "payment.succeeded"
            assert event["data"]["object"]["id"] == payment["id"]
            with pytest.raises(WebhookVerificationError):
                Webhook(endpoint["secret"]).verify(
                    delivered.body.replace(b"50000", b"5000000"), delivered.headers
                )

            replayed = cli(
                server.env,
                "webhooks",
                "replay",
                "--endpoint",
                endpoint["id"],
                "--from",
                "0",
                "--to",
                datetime.now(UTC).isoformat(),
            )
            assert replayed.returncode == 0, replayed.stderr
            assert "queued 1 event(s)" in replayed.stderr
            wait_until(lambda: len(receiver.snapshot()) == 2, what="the replayed delivery")
            again = receiver.snapshot()[1]
            assert again.headers["webhook-id"] == delivered.headers["webhook-id"]

            def audited() -> bool:
                records = http.get("/v1/audit_logs", params={"action": "webhook_replay.created"})
                return bool(records.json()["data"])

            wait_until(audited, what="the replay's audit record")
            [record] = http.get(
                "/v1/audit_logs", params={"action": "webhook_replay.created"}
            ).json()["data"]
            assert record["actor"] == "cli"

        ok = cli(server.env, "audit", "verify")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert '"ok": true' in ok.stdout

        path = sqlite_file.split("///", 1)[1]
        with sqlite3.connect(path, timeout=10) as db:  # someone edits a record by hand
            db.execute("DROP TRIGGER audit_logs_no_update")
            db.execute("UPDATE audit_logs SET actor = 'key_mallory' WHERE seq = 2")
        broken = cli(server.env, "audit", "verify")
        assert broken.returncode == 1, broken.stdout + broken.stderr
        assert '"bad_seq": 2' in broken.stdout
        assert "audit chain broken at seq 2" in broken.stderr


def test_the_worker_command_once_drains_and_exits(sqlite_file: str) -> None:
    env = {**os.environ, "PAYSTEAD_DATABASE_URL": sqlite_file, "PAYSTEAD_SMS_PROVIDER": "none"}
    assert cli(env, "migrate").returncode == 0

    async def pay() -> None:
        services = build_services(Settings(database_url=sqlite_file))
        try:
            await services.payments.create(CreatePayment(Money(100, "INR"), "pm_card_visa"))
        finally:
            await services.close()

    asyncio.run(pay())
    drained = cli(env, "worker", "--once")
    assert drained.returncode == 0, drained.stderr
    assert "dispatched 2 event(s)" in drained.stderr
    assert cli(env, "audit", "verify").returncode == 0
    bad = cli(
        env, "webhooks", "replay", "--endpoint", "we_nope", "--from", "0", "--to", "yesterday"
    )
    assert bad.returncode != 0 and "yesterday" in bad.stderr
