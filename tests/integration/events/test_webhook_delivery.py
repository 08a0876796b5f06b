"""Webhook delivery against real receivers on loopback, on SQLite and PostgreSQL.

Signatures are checked with the maintained ``standardwebhooks`` package, as a merchant's
receiver would; time is a frozen clock moved by hand, so the retry schedule is walked
without waiting.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from paystead.audit.chain import verify
from paystead.events.delivery import DeliveryStatus, DeliveryView
from paystead.events.worker import Worker
from paystead.money import Money
from paystead.payments.service import CreatePayment, CreateRefund
from paystead.webhooks.endpoints import WebhookEndpoint
from paystead.webhooks.signing import new_secret
from paystead.wiring import Services, build_worker
from tests.conftest import FrozenClock
from tests.integration.events.conftest import MakeServices
from tests.integration.events.loopback import Received, WebhookReceiver


async def endpoint_for(
    services: Services, receiver: WebhookReceiver, events: list[str] | None = None
) -> WebhookEndpoint:
    return await services.webhooks.create(url=receiver.url, enabled_events=events or ["*"])


async def pay(services: Services, amount: int = 50000, method: str = "pm_card_visa") -> str:
    return (await services.payments.create(CreatePayment(Money(amount, "INR"), method))).id


async def deliveries_of(services: Services, endpoint: WebhookEndpoint) -> list[DeliveryView]:
    found, _ = await services.webhooks.deliveries(
        endpoint.id, status=None, event_id=None, limit=100, starting_after=None
    )
    return found


def signed_by(request: Received, secret: str) -> bool:
    """The library's own signature for this request is among the ones we sent."""
    moment = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(request.headers["webhook-id"], moment, request.body.decode())
    return expected in request.headers["webhook-signature"].split(" ")


async def test_deliveries_are_signed_and_a_standard_webhooks_receiver_accepts_them(
    outbound: Services, worker: Worker
) -> None:
    with WebhookReceiver() as receiver:
        endpoint = await endpoint_for(outbound, receiver, ["payment.succeeded", "refund.succeeded"])
        payment_id = await pay(outbound)
        await outbound.payments.refund(CreateRefund(payment_id, 1000))
        await pay(outbound, method="pm_card_declined")  # payment.failed: not subscribed
        await worker.run_until_idle()
        got = receiver.snapshot()

    assert sorted(r.json()["type"] for r in got) == ["payment.succeeded", "refund.succeeded"]
    receiver_side = Webhook(endpoint.secret)
    for request in got:
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-signature"].startswith("v1,")
        payload = receiver_side.verify(request.body, request.headers)
        assert payload["id"] == request.headers["webhook-id"]
        assert payload == (await outbound.events.get(payload["id"])).body()

    first = got[0]
    tampered = first.body.replace(b'"amount"', b'"amount_"', 1)
    assert tampered != first.body
    with pytest.raises(WebhookVerificationError):
        receiver_side.verify(tampered, first.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(first.body, first.headers)
    with pytest.raises(WebhookVerificationError):
        receiver_side.verify(first.body, {**first.headers, "webhook-id": "evt_other"})

    found = await deliveries_of(outbound, endpoint)
    assert {d.status for d in found} == {"succeeded"}
    attempts, _ = await outbound.webhooks.attempts(
        endpoint.id, delivery_id=None, limit=100, starting_after=None
    )
    assert [(a.attempt, a.succeeded, a.status_code) for a in attempts] == [(1, True, 200)] * 2
    assert {a.response_snippet for a in attempts} == {'{"received":true}'}
    assert all(a.latency_ms >= 0 for a in attempts)


async def test_retries_follow_the_schedule_until_the_receiver_recovers(
    outbound: Services, worker: Worker, clock: FrozenClock
) -> None:
    schedule = outbound.settings.webhook_retry_schedule
    fails = 4
    with WebhookReceiver(fail_first=fails, fail_status=503) as receiver:
        endpoint = await endpoint_for(outbound, receiver, ["payment.succeeded"])
        await pay(outbound)
        await worker.run_until_idle()  # the first attempt, immediately: it fails
        attempted_at = [clock.now]
        for retry in range(1, fails + 1):
            [delivery] = await deliveries_of(outbound, endpoint)
            assert delivery.status == "pending" and delivery.attempts == retry
            assert delivery.next_attempt_at is not None
            delay = (delivery.next_attempt_at - attempted_at[-1]).total_seconds()
            # The spec's delay, stretched by at most the 10 % jitter.
            assert schedule[retry] <= delay <= schedule[retry] * 1.1 + 0.001, (retry, delay)
            clock.now = delivery.next_attempt_at - timedelta(milliseconds=1)
            assert (await worker.run_until_idle()).attempted == 0  # not due yet
            clock.now = delivery.next_attempt_at
            assert (await worker.run_until_idle()).attempted == 1
            attempted_at.append(clock.now)
        got = receiver.snapshot()

    [delivery] = await deliveries_of(outbound, endpoint)
    assert (delivery.status, delivery.attempts) == ("succeeded", fails + 1)
    assert len(got) == fails + 1
    assert len({r.headers["webhook-id"] for r in got}) == 1  # the same id on every retry
    assert len({r.body for r in got}) == 1
    assert [int(r.headers["webhook-timestamp"]) for r in got] == [
        int(t.timestamp()) for t in attempted_at
    ]
    assert all(signed_by(r, endpoint.secret) for r in got)
    attempts, _ = await outbound.webhooks.attempts(
        endpoint.id, delivery_id=delivery.id, limit=100, starting_after=None
    )
    assert [(a.attempt, a.status_code) for a in reversed(attempts)] == [
        (1, 503),
        (2, 503),
        (3, 503),
        (4, 503),
        (5, 200),
    ]
    assert attempts[-1].response_snippet == "receiver says no"
    assert attempts[-1].error == "the endpoint answered HTTP 503"
    assert (await outbound.webhooks.get(endpoint.id)).status == "enabled"


async def test_exhausted_retries_dead_letter_and_mark_the_endpoint_failing_then_replay(
    outbound: Services, worker: Worker, clock: FrozenClock
) -> None:
    schedule = outbound.settings.webhook_retry_schedule
    with WebhookReceiver() as receiver:
        receiver.failing = True
        endpoint = await endpoint_for(outbound, receiver, ["payment.succeeded"])
        start = clock.now
        await pay(outbound)
        await worker.run_until_idle()
        for _ in range(len(schedule) - 1):
            [delivery] = await deliveries_of(outbound, endpoint)
            assert delivery.next_attempt_at is not None
            clock.now = delivery.next_attempt_at
            await worker.run_until_idle()
        [delivery] = await deliveries_of(outbound, endpoint)
        assert (delivery.status, delivery.attempts) == ("dead", len(schedule))
        assert delivery.next_attempt_at is None
        assert len(receiver.snapshot()) == len(schedule) == 11
        assert (clock.now - start) >= timedelta(seconds=sum(schedule))  # about 27.6 hours
        assert (await outbound.webhooks.get(endpoint.id)).status == "failing"
        dead, _ = await outbound.webhooks.deliveries(
            endpoint.id, status=DeliveryStatus.DEAD, event_id=None, limit=10, starting_after=None
        )
        assert [d.id for d in dead] == [delivery.id]

        # A failing endpoint still gets new events; replay re-sends the dead letter.
        receiver.failing = False
        replay = await outbound.webhooks.replay(
            endpoint.id, start=start, end=clock.now, only_failed=True
        )
        assert replay.count == 1
        await worker.run_until_idle()
        got = receiver.snapshot()

    assert len(got) == len(schedule) + 1
    assert len({r.headers["webhook-id"] for r in got}) == 1
    [delivery] = await deliveries_of(outbound, endpoint)
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert (await outbound.webhooks.get(endpoint.id)).status == "enabled"


async def test_replay_resends_a_time_range_with_the_same_ids(
    outbound: Services, worker: Worker, clock: FrozenClock
) -> None:
    with WebhookReceiver() as receiver:
        endpoint = await endpoint_for(outbound, receiver, ["payment.succeeded"])
        early = await pay(outbound)
        clock.advance(hours=2)
        middle = await pay(outbound, 1234)
        clock.advance(hours=2)
        await pay(outbound, 999)
        await worker.run_until_idle()
        assert len(receiver.snapshot()) == 3

        replay = await outbound.webhooks.replay(
            endpoint.id,
            start=clock.now - timedelta(hours=3),
            end=clock.now - timedelta(hours=1),
        )
        assert replay.count == 1
        await worker.run_until_idle()
        got = receiver.snapshot()

    assert len(got) == 4
    assert got[-1].json()["data"]["object"]["id"] == middle != early
    assert got[-1].headers["webhook-id"] in [r.headers["webhook-id"] for r in got[:3]]


async def test_rotation_signs_with_both_secrets_during_the_grace_period(
    outbound: Services, worker: Worker, clock: FrozenClock
) -> None:
    with WebhookReceiver() as receiver:
        endpoint = await endpoint_for(outbound, receiver, ["payment.succeeded"])
        rotated = await outbound.webhooks.rotate_secret(endpoint.id, grace=timedelta(seconds=60))
        assert rotated.secret != endpoint.secret
        await pay(outbound)
        await worker.run_until_idle()
        clock.advance(seconds=61)
        await pay(outbound)
        await worker.run_until_idle()
        during, after = receiver.snapshot()

    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(endpoint.secret).verify(during.body, during.headers)
    assert Webhook(rotated.secret).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert signed_by(after, rotated.secret) and not signed_by(after, endpoint.secret)


async def test_redirects_are_never_followed(outbound: Services, worker: Worker) -> None:
    with (
        WebhookReceiver() as elsewhere,
        WebhookReceiver(redirect_to=elsewhere.url) as redirecting,
    ):
        moved = await endpoint_for(outbound, redirecting, ["payment.succeeded"])
        await pay(outbound)
        await worker.run_until_idle()
        assert elsewhere.snapshot() == []
        assert len(redirecting.snapshot()) == 1

    [redirected] = await deliveries_of(outbound, moved)
    assert redirected.status == "pending" and redirected.attempts == 1
    assert redirected.last_error == (
        "the endpoint answered HTTP 307 (a redirect: webhooks do not follow redirects)"
    )


async def test_a_slow_endpoint_times_out_and_is_retried(
    make_services: MakeServices, clock: FrozenClock
) -> None:
    services = await make_services(webhook_timeout_seconds=0.2)
    worker = build_worker(services, clock=clock)
    try:
        with WebhookReceiver(delay=0.6) as slow:
            sluggish = await endpoint_for(services, slow, ["payment.succeeded"])
            await pay(services)
            await worker.run_until_idle()
    finally:
        await worker.close()

    [timed_out] = await deliveries_of(services, sluggish)
    assert (timed_out.status, timed_out.attempts) == ("pending", 1)
    assert timed_out.last_error == "timed out waiting for the endpoint"


async def test_deliveries_to_a_deleted_or_disabled_endpoint_are_canceled(
    outbound: Services, worker: Worker
) -> None:
    with WebhookReceiver() as receiver:
        gone = await endpoint_for(outbound, receiver)
        paused = await endpoint_for(outbound, receiver)
        await pay(outbound)
        await worker.dispatch_once()
        await outbound.webhooks.delete(gone.id)
        await outbound.webhooks.update(paused.id, disabled=True)
        await worker.run_until_idle()
        await pay(outbound)  # a disabled endpoint gets no new deliveries at all
        await worker.run_until_idle()
        assert receiver.snapshot() == []
    assert {d.status for d in await deliveries_of(outbound, paused)} == {"canceled"}
    assert len(await deliveries_of(outbound, paused)) == 2  # created and succeeded, 1st payment


async def test_two_workers_never_deliver_the_same_event_twice(
    make_services: MakeServices, clock: FrozenClock
) -> None:
    first = await make_services(worker_batch_size=4)
    second = await make_services(worker_batch_size=4)
    workers = [build_worker(first, clock=clock), build_worker(second, clock=clock)]
    try:
        with WebhookReceiver(delay=0.01) as receiver:
            await endpoint_for(first, receiver)
            for i in range(12):
                await pay(first, 1000 + i)
            await asyncio.gather(*(w.run_until_idle() for w in workers))
            ids = receiver.webhook_ids()
    finally:
        for w in workers:
            await w.close()

    assert len(ids) == 24  # created + succeeded per payment
    assert len(set(ids)) == len(ids), "an event was delivered twice"
    async with first.db.transaction() as conn:
        chain = await verify(conn)
    assert chain.ok and chain.checked == 25  # the endpoint's creation is audited too
