"""Property: any sequence of payments, captures, cancels and refunds keeps the ledger true.

Every journal entry balances per currency, every stored balance equals the sum of its
postings, and the account totals match what the payments say happened.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paystead.config import Settings
from paystead.errors import AmountExceedsRemaining, IllegalTransition
from paystead.money import Money
from paystead.payments.model import CaptureMethod, PaymentStatus
from paystead.payments.repository import PaymentFilter
from paystead.payments.service import CreatePayment, CreateRefund
from paystead.wiring import build_services

CURRENCIES = ["INR", "JPY", "KWD", "USD"]
TOKENS = ["pm_card_visa", "pm_card_visa", "pm_card_visa", "pm_card_declined"]

operation = st.one_of(
    st.tuples(
        st.just("pay"),
        st.integers(1, 10**9),
        st.sampled_from(CURRENCIES),
        st.sampled_from(list(CaptureMethod)),
        st.sampled_from(TOKENS),
    ),
    st.tuples(st.just("capture"), st.integers(0, 50), st.none() | st.integers(1, 10**9)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("refund"), st.integers(0, 50), st.none() | st.integers(1, 10**9)),
)


async def run_scenario(database_url: str, ops: list[tuple[object, ...]]) -> None:
    services = build_services(Settings(database_url=database_url))
    payments = services.payments
    made: list[str] = []
    try:
        for op in ops:
            kind = op[0]
            try:
                if kind == "pay":
                    _, amount, cur, method, token = op
                    p = await payments.create(
                        CreatePayment(Money(amount, cur), token, capture_method=method)  # type: ignore[arg-type]
                    )
                    made.append(p.id)
                elif made and kind == "capture":
                    await payments.capture(made[op[1] % len(made)], op[2])  # type: ignore[operator, arg-type]
                elif made and kind == "cancel":
                    await payments.cancel(made[op[1] % len(made)])  # type: ignore[operator]
                elif made and kind == "refund":
                    await payments.refund(CreateRefund(made[op[1] % len(made)], op[2]))  # type: ignore[operator, arg-type]
            except (IllegalTransition, AmountExceedsRemaining):
                pass  # refused operations must leave no trace; the checks below prove it

        async with services.db.transaction() as conn:
            assert await services.ledger.check(conn) == []
            accounts = {
                (a["code"], a["currency"]): a["balance"]
                for a in await services.ledger.accounts(conn)
            }
        listed, _ = await payments.list(PaymentFilter(), limit=10**6, starting_after=None)
        captured: dict[str, int] = defaultdict(int)
        refunded: dict[str, int] = defaultdict(int)
        for p in listed:
            assert 0 <= p.amount_refunded <= p.amount_captured <= p.amount
            assert p.amount_refund_pending == 0
            if p.status is not PaymentStatus.SUCCEEDED:
                assert p.amount_captured == 0
            captured[p.currency] += p.amount_captured
            refunded[p.currency] += p.amount_refunded
        for cur in CURRENCIES:
            assert -accounts.get(("merchant_revenue", cur), 0) == captured[cur]
            assert accounts.get(("refunds", cur), 0) == refunded[cur]
            fees = accounts.get(("processing_fees", cur), 0)
            clearing = accounts.get(("gateway_clearing:sandbox", cur), 0)
            assert clearing == captured[cur] - fees - refunded[cur]
    finally:
        await services.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=False)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=30))
def test_any_sequence_keeps_the_ledger_balanced(
    database_url: str, ops: list[tuple[object, ...]]
) -> None:
    asyncio.run(run_scenario(database_url, ops))
