"""The retry schedule's arithmetic, and signatures checked against the standardwebhooks
package (the receiver merchants use)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from paystead.config import Settings
from paystead.events.worker import retry_at
from paystead.webhooks.signing import SECRET_PREFIX, headers, new_secret

T0 = datetime(2026, 4, 1, tzinfo=UTC)
SPEC = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]  # Standard Webhooks' suggestion


def test_the_default_schedule_starts_as_the_spec_and_spans_about_three_days() -> None:
    schedule = Settings().webhook_retry_schedule
    assert schedule[: len(SPEC)] == SPEC
    assert timedelta(seconds=sum(SPEC)) == timedelta(hours=27, minutes=35, seconds=5)
    assert timedelta(hours=72) <= timedelta(seconds=sum(schedule)) <= timedelta(hours=80)


@pytest.mark.parametrize("done", range(1, 8))
def test_each_retry_waits_its_delay_plus_at_most_the_jitter(done: int) -> None:
    assert retry_at(SPEC, done, T0, jitter=0.1, rng=lambda: 0.0) == T0 + timedelta(
        seconds=SPEC[done]
    )
    latest = retry_at(SPEC, done, T0, jitter=0.1, rng=lambda: 1.0)
    assert latest == T0 + timedelta(seconds=SPEC[done] * 1.1)


def test_after_the_last_attempt_there_is_no_retry() -> None:
    assert retry_at(SPEC, len(SPEC), T0) is None
    assert retry_at([0], 1, T0) is None


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) == 32
    assert new_secret() != secret


def test_our_headers_verify_with_the_library_and_by_hand() -> None:
    secret = new_secret()
    now = datetime.now(UTC)
    body = b'{"id":"evt_1","type":"payment.succeeded","amount":"\xe2\x82\xb9500"}'
    sent = headers([secret], "evt_1", now, body)
    assert sent["webhook-id"] == "evt_1"
    assert sent["webhook-timestamp"] == str(int(now.timestamp()))
    assert Webhook(secret).verify(body, sent)["id"] == "evt_1"

    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"evt_1.{int(now.timestamp())}.".encode() + body
    by_hand = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert sent["webhook-signature"] == f"v1,{by_hand}"

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"500", b"501"), sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, sent)
    stale = headers([secret], "evt_1", now - timedelta(minutes=10), body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, stale)


def test_two_secrets_give_two_signatures_each_accepted_alone() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    sent = headers([new, old], "evt_2", now, b"{}")
    assert len(sent["webhook-signature"].split(" ")) == 2
    assert all(part.startswith("v1,") for part in sent["webhook-signature"].split(" "))
    Webhook(old).verify(b"{}", sent)
    Webhook(new).verify(b"{}", sent)
