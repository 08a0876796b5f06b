"""Generated payments with a known fraud signal (no I/O), for the model tests.

Legitimate customers pay their usual amounts in the daytime from their own country.
Fraud comes mostly in sessions: bursts of payments within minutes, each with a new
card, large amounts, at night, from another country, more often with a disposable
email. A session's payments are fraudulent with probability 0.7 and a normal
payment's with 0.003 (0.03 with a disposable email), so the labels are noisy, as
real ones are. The rules see a part of this (velocity at 5 payments, the amount
limit, a country mismatch worth 15 points); the model should see more.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from paystead.models.fraud import PaymentRecord
from paystead.risk.rules import PaymentFacts

START = datetime(2026, 1, 1, tzinfo=UTC)


def payments(n: int = 6000, seed: int = 11) -> list[PaymentRecord]:
    rnd = random.Random(seed)
    customers = []
    for i in range(300):
        disposable = rnd.random() < 0.08
        customers.append(
            (
                f"cus_{i:04d}",
                f"user{i}@{'mailinator.com' if disposable else 'example.com'}",
                rnd.uniform(200_00, 5_000_00),  # typical amount, paise
                disposable,
            )
        )
    out: list[PaymentRecord] = []
    count = 0
    while len(out) < n:
        count += 1
        customer_id, email, typical, disposable = rnd.choice(customers)
        day = START + timedelta(days=rnd.uniform(0, 60))
        if rnd.random() < 0.03:  # a fraud session: a burst at night from abroad
            at = day.replace(hour=rnd.choice((0, 1, 2, 3, 4, 23)), minute=rnd.randrange(50))
            abroad = rnd.random() < 0.7
            for k in range(rnd.randint(2, 7)):
                fraud = rnd.random() < 0.7
                out.append(
                    _record(
                        f"pay_{count}_{k}",
                        customer_id,
                        email,
                        int(typical * rnd.uniform(2, 12)),
                        at + timedelta(minutes=k * rnd.uniform(0.5, 2)),
                        fingerprint=f"fp_{count}_{k}",
                        ip_country="RU" if abroad else "IN",
                        fraud=fraud,
                        declined=fraud and rnd.random() < 0.6,
                    )
                )
        else:
            at = day.replace(hour=rnd.randint(8, 21), minute=rnd.randrange(60))
            fraud = rnd.random() < (0.03 if disposable else 0.003)
            out.append(
                _record(
                    f"pay_{count}",
                    customer_id,
                    email,
                    int(typical * rnd.uniform(0.5, 1.5)),
                    at,
                    fingerprint=f"fp_{customer_id}",
                    ip_country="IN" if rnd.random() < 0.97 else "US",
                    fraud=fraud,
                    declined=(fraud and rnd.random() < 0.6) or rnd.random() < 0.04,
                )
            )
    return out


def _record(
    payment_id: str,
    customer_id: str,
    email: str,
    amount: int,
    at: datetime,
    *,
    fingerprint: str,
    ip_country: str,
    fraud: bool,
    declined: bool,
) -> PaymentRecord:
    facts = PaymentFacts(
        payment_id=payment_id,
        amount=max(amount, 100),
        currency="INR",
        payment_method="card",
        customer_id=customer_id,
        fingerprint=fingerprint,
        email=email,
        country="IN",
        ip_country=ip_country,
    )
    return PaymentRecord(facts=facts, at=at, failed=declined, fraudulent=fraud)
