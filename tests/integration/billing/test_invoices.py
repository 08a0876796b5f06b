"""Invoices end to end through the services, on SQLite and PostgreSQL: GST, numbering,
credit balance, charging through the payments core, dunning-style retries, credit notes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from paystead.billing.credit_notes import CreditLineRequest
from paystead.billing.invoice_service import DraftLine
from paystead.billing.numbering import fiscal_year, next_number
from paystead.config import Settings
from paystead.errors import (
    AmountExceedsRemaining,
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from paystead.platform.schema import payments
from paystead.wiring import Services

NOW = datetime(2026, 5, 10, 6, 0, tzinfo=UTC)
SELLER_GSTIN = "27AAPFU0939F1ZV"  # Maharashtra
KA_ADDRESS = {
    "line1": "1 MG Road",
    "city": "Bengaluru",
    "state_code": "KA",
    "postal_code": "560001",
    "country": "IN",
}
MH_ADDRESS = {
    "line1": "2 FC Road",
    "city": "Pune",
    "state_code": "27",
    "postal_code": "411004",
    "country": "IN",
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, seller_gstin=SELLER_GSTIN, seller_name="Acme Cloud")


async def customer(
    services: Services,
    *,
    method: str | None = "pm_card_visa",
    address: dict[str, str] | None = None,
) -> str:
    c = await services.customers.create(
        email="buyer@example.com",
        name="Buyer Pvt Ltd",
        address=address or MH_ADDRESS,
        payment_method=method,
    )
    return c.id


async def one_line_invoice(
    services: Services, customer_id: str, amount: int = 100000, **kw: object
) -> str:
    draft = await services.invoices.create_draft(
        customer_id=customer_id,
        currency="INR",
        lines=[
            DraftLine(
                "Pro plan", 1, amount, kind="one_off", tax_rate=Decimal(18), tax_code="998314"
            )
        ],
        now=NOW,
        **kw,  # type: ignore[arg-type]
    )
    return draft.id


async def charges(services: Services, customer_id: str) -> list[tuple[int, str]]:
    async with services.db.transaction() as conn:
        rows = await conn.execute(
            sa.select(payments.c.amount, payments.c.status)
            .where(payments.c.customer_id == customer_id)
            .order_by(payments.c.id)
        )
        return [(r.amount, r.status) for r in rows]


async def test_intra_state_invoice_is_numbered_taxed_and_charged(services: Services) -> None:
    cus = await customer(services)
    draft_id = await one_line_invoice(services, cus)
    draft = await services.invoices.get(draft_id)
    assert draft.status == "draft" and draft.number is None
    invoice = await services.invoices.finalize(draft_id, now=NOW)
    # ₹1,000.00 at 18 % within Maharashtra: CGST ₹90.00 + SGST ₹90.00.
    assert [(t.type, t.rate, t.amount) for t in invoice.tax_lines] == [
        ("CGST", Decimal(9), 9000),
        ("SGST", Decimal(9), 9000),
    ]
    assert (invoice.subtotal, invoice.tax, invoice.total) == (100000, 18000, 118000)
    assert invoice.number == "INV/26-27/00001"
    assert invoice.place_of_supply == "27-Maharashtra" and invoice.supply_type == "intra_state"
    assert invoice.status == "paid" and invoice.amount_paid == 118000 and invoice.amount_due == 0
    assert await charges(services, cus) == [(118000, "succeeded")]
    async with services.db.transaction() as conn:
        assert await services.ledger.check(conn) == []
    with pytest.raises(IllegalTransition):
        await services.invoices.finalize(draft_id, now=NOW)
    # Paying a paid invoice charges nothing.
    assert (await services.invoices.pay(draft_id, now=NOW)).status == "paid"
    assert len(await charges(services, cus)) == 1


async def test_inter_state_and_export(services: Services) -> None:
    ka = await customer(services, address=KA_ADDRESS, method=None)
    inv = await services.invoices.finalize(
        await one_line_invoice(services, ka, collection_method="send_invoice", days_until_due=15),
        now=NOW,
    )
    assert [(t.type, t.amount) for t in inv.tax_lines] == [("IGST", 18000)]
    assert inv.place_of_supply == "29-Karnataka"
    assert inv.status == "open" and inv.due_date == NOW + timedelta(days=15)
    us = await customer(services, address={"line1": "1 Main St", "country": "US"}, method=None)
    exp = await services.invoices.finalize(
        await one_line_invoice(services, us, collection_method="send_invoice"), now=NOW
    )
    assert exp.supply_type == "export" and exp.tax == 0 and exp.total == 100000
    assert exp.supply_notation is not None and "LETTER OF UNDERTAKING" in exp.supply_notation
    assert (inv.number, exp.number) == ("INV/26-27/00001", "INV/26-27/00002")


async def test_a_declined_charge_leaves_it_open_and_a_retry_pays_once(services: Services) -> None:
    cus = await customer(services, method="pm_card_declined")
    invoice = await services.invoices.finalize(await one_line_invoice(services, cus), now=NOW)
    assert invoice.status == "open" and invoice.attempt_count == 1
    assert invoice.last_payment_error is not None and "card_declined" in invoice.last_payment_error
    await services.customers.update(cus, {"payment_method": "pm_card_visa"})
    paid = await services.invoices.pay(invoice.id, now=NOW + timedelta(days=1))
    assert paid.status == "paid" and paid.attempt_count == 2 and paid.amount_paid == 118000
    assert await charges(services, cus) == [(118000, "failed"), (118000, "succeeded")]
    # concurrent retries on a paid invoice never charge again
    await asyncio.gather(*(services.invoices.pay(invoice.id, now=NOW) for _ in range(3)))
    assert len(await charges(services, cus)) == 2


async def test_no_payment_method_is_a_failed_attempt(services: Services) -> None:
    cus = await customer(services, method=None)
    invoice = await services.invoices.finalize(await one_line_invoice(services, cus), now=NOW)
    assert invoice.status == "open" and invoice.attempt_count == 1
    assert invoice.last_payment_error == "the customer has no default payment method"
    assert await charges(services, cus) == []


async def test_credit_balance_is_applied_before_charging(services: Services) -> None:
    cus = await customer(services)
    await services.balances.adjust(
        customer_id=cus, amount=50000, currency="INR", description="prepaid"
    )
    invoice = await services.invoices.finalize(await one_line_invoice(services, cus), now=NOW)
    assert (invoice.starting_balance, invoice.applied_balance, invoice.ending_balance) == (
        50000,
        50000,
        0,
    )
    assert invoice.amount_paid == 68000 and invoice.status == "paid"
    assert await charges(services, cus) == [(68000, "succeeded")]
    # Enough credit: nothing is charged at all.
    await services.balances.adjust(customer_id=cus, amount=200000, currency="INR")
    second = await services.invoices.finalize(await one_line_invoice(services, cus), now=NOW)
    assert second.status == "paid" and second.applied_balance == 118000 and second.amount_paid == 0
    assert await services.balances.balance(cus, "INR") == 82000
    assert len(await charges(services, cus)) == 1
    with pytest.raises(Conflict):
        await services.balances.adjust(customer_id=cus, amount=-82001, currency="INR")


async def test_a_negative_invoice_credits_the_balance(services: Services) -> None:
    cus = await customer(services)
    draft = await services.invoices.create_draft(
        customer_id=cus,
        currency="INR",
        lines=[
            DraftLine("Unused time", 1, -50000, kind="proration", tax_rate=Decimal(18)),
            DraftLine("Remaining time", 1, 20000, kind="proration", tax_rate=Decimal(18)),
        ],
        now=NOW,
    )
    invoice = await services.invoices.finalize(draft.id, now=NOW)
    # -30000 taxable, CGST/SGST -2700 each: total -35400 goes to the balance.
    assert invoice.total == -35400 and invoice.amount_due == 0 and invoice.status == "paid"
    assert await services.balances.balance(cus, "INR") == 35400


async def test_source_key_returns_the_same_draft_even_when_racing(services: Services) -> None:
    cus = await customer(services)
    key = f"subscription:sub_x:{NOW.isoformat()}"
    ids = await asyncio.gather(*(one_line_invoice(services, cus, source_key=key) for _ in range(5)))
    assert len(set(ids)) == 1


async def test_void_and_uncollectible(services: Services) -> None:
    cus = await customer(services, method=None)
    await services.balances.adjust(customer_id=cus, amount=1000, currency="INR")
    invoice = await services.invoices.finalize(
        await one_line_invoice(services, cus, collection_method="send_invoice"), now=NOW
    )
    assert invoice.applied_balance == 1000
    marked = await services.invoices.mark_uncollectible(invoice.id, now=NOW)
    assert marked.status == "uncollectible"
    voided = await services.invoices.void(invoice.id, now=NOW)
    assert voided.status == "void" and voided.number == invoice.number
    assert await services.balances.balance(cus, "INR") == 1000  # the credit came back
    with pytest.raises(IllegalTransition):
        await services.invoices.pay(invoice.id, now=NOW)
    with pytest.raises(IllegalTransition):
        await services.invoices.void(invoice.id, now=NOW)


async def test_bad_drafts_name_the_field(services: Services) -> None:
    cus = await customer(services)
    cases = [
        (DraftLine("x", -1, 100), "lines[0].quantity"),
        (DraftLine("x", 1, 100, kind="gift"), "lines[0].kind"),
        (DraftLine("x", 1, 100, discount_amount=101), "lines[0].discount_amount"),
        (DraftLine("x", 1, 100, price_id="price_missing"), "lines[0].price"),
    ]
    for line, param in cases:
        with pytest.raises((InvalidInput, NotFound)) as err:
            await services.invoices.create_draft(
                customer_id=cus, currency="INR", lines=[line], now=NOW
            )
        assert err.value.param == param
    with pytest.raises(InvalidInput) as currency:
        await services.invoices.create_draft(customer_id=cus, currency="ABC", lines=[], now=NOW)
    assert currency.value.param == "currency"


async def test_prices_supply_tax_facts(services: Services) -> None:
    cus = await customer(services, address=KA_ADDRESS)
    product = await services.catalog.create_product(name="Pro", tax_code="998314", tax_rate="18")
    from paystead.billing.catalog import Price

    price = await services.catalog.create_price(
        Price(
            id="",
            product_id=product.id,
            currency="INR",
            unit_amount=118000,
            tax_behavior="inclusive",
            created_at=NOW,
        )
    )
    draft = await services.invoices.create_draft(
        customer_id=cus,
        currency="INR",
        lines=[DraftLine("Pro", 1, 118000, price_id=price.id)],
        now=NOW,
    )
    line = draft.lines[0]
    assert (line.tax_code, line.tax_behavior, line.taxable_amount, line.tax_amount) == (
        "998314",
        "inclusive",
        100000,
        18000,
    )
    assert draft.total == 118000
    other = await services.catalog.create_price(
        Price(id="", product_id=product.id, currency="USD", unit_amount=100, created_at=NOW)
    )
    with pytest.raises(InvalidInput) as mismatch:
        await services.invoices.create_draft(
            customer_id=cus,
            currency="INR",
            lines=[DraftLine("Pro", 1, 100, price_id=other.id)],
            now=NOW,
        )
    assert mismatch.value.param == "lines[0].price"


async def test_thirty_concurrent_finalizations_take_numbers_1_to_30(services: Services) -> None:
    cus = await customer(services, method=None)
    ids = [
        await one_line_invoice(services, cus, collection_method="send_invoice") for _ in range(30)
    ]
    finalized = await asyncio.gather(*(services.invoices.finalize(i, now=NOW) for i in ids))
    numbers = sorted(int(str(f.number).rsplit("/", 1)[1]) for f in finalized)
    assert numbers == list(range(1, 31))


async def test_a_rolled_back_number_leaves_no_gap(services: Services) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with services.db.transaction() as conn:
            assert await next_number(conn, "INV", NOW) == "INV/26-27/00001"
            raise Boom  # e.g. a validation error after numbering
    cus = await customer(services, method=None)
    invoice = await services.invoices.finalize(
        await one_line_invoice(services, cus, collection_method="send_invoice"), now=NOW
    )
    assert invoice.number == "INV/26-27/00001"


async def test_financial_year_turns_at_midnight_ist_on_1_april(services: Services) -> None:
    last_moment = datetime(2027, 3, 31, 18, 29, 59, tzinfo=UTC)  # 23:59:59 IST
    assert fiscal_year(last_moment) == "26-27"
    assert fiscal_year(last_moment + timedelta(seconds=1)) == "27-28"
    async with services.db.transaction() as conn:
        assert await next_number(conn, "INV", last_moment) == "INV/26-27/00001"
        assert (
            await next_number(conn, "INV", last_moment + timedelta(seconds=1)) == "INV/27-28/00001"
        )
        assert await next_number(conn, "CN", last_moment) == "CN/26-27/00001"


async def test_credit_notes(services: Services) -> None:
    cus = await customer(services, method=None)
    open_inv = await services.invoices.finalize(
        await one_line_invoice(services, cus, collection_method="send_invoice"), now=NOW
    )
    # ₹118.00 off the amount due, tax reversed in proportion: 10000 taxable + 900 + 900.
    note = await services.credit_notes.create(
        invoice_id=open_inv.id, outcome="reduce_amount_due", amount=11800, now=NOW
    )
    assert note.number == "CN/26-27/00001"
    assert (note.subtotal, note.tax, note.total) == (10000, 1800, 11800)
    assert [(t.type, t.amount) for t in note.tax_lines] == [("CGST", 900), ("SGST", 900)]
    after = await services.invoices.get(open_inv.id)
    assert after.amount_due == 118000 - 11800 and after.amount_credited == 11800
    with pytest.raises(AmountExceedsRemaining):
        await services.credit_notes.create(
            invoice_id=open_inv.id, outcome="reduce_amount_due", amount=118000, now=NOW
        )
    # the rest clears it: the invoice counts as paid
    rest = await services.credit_notes.create(
        invoice_id=open_inv.id,
        outcome="reduce_amount_due",
        lines=[CreditLineRequest(line=open_inv.lines[0].id, amount=106200)],
        now=NOW,
    )
    assert rest.number == "CN/26-27/00002"
    assert (await services.invoices.get(open_inv.id)).status == "paid"
    with pytest.raises(AmountExceedsRemaining):
        await services.credit_notes.create(
            invoice_id=open_inv.id, outcome="credit_balance", amount=1, now=NOW
        )

    payer = await customer(services)
    paid = await services.invoices.finalize(await one_line_invoice(services, payer), now=NOW)
    refund_note = await services.credit_notes.create(
        invoice_id=paid.id, outcome="refund", amount=59000, now=NOW
    )
    assert refund_note.refund_id is not None and refund_note.status == "issued"
    refund = await services.payments.get_refund(refund_note.refund_id)
    assert refund.amount == 59000
    to_balance = await services.credit_notes.create(
        invoice_id=paid.id, outcome="credit_balance", amount=59000, now=NOW
    )
    assert to_balance.total == 59000
    assert await services.balances.balance(payer, "INR") == 59000
    with pytest.raises(AmountExceedsRemaining):
        await services.credit_notes.create(
            invoice_id=paid.id, outcome="credit_balance", amount=1, now=NOW
        )
    draft_id = await one_line_invoice(services, payer)
    with pytest.raises(Conflict):
        await services.credit_notes.create(
            invoice_id=draft_id, outcome="credit_balance", amount=1, now=NOW
        )
    async with services.db.transaction() as conn:
        assert await services.ledger.check(conn) == []


async def test_an_unsettled_earlier_payment_blocks_a_second_charge(services: Services) -> None:
    from paystead.money import Money
    from paystead.payments.model import CaptureMethod
    from paystead.payments.service import CreatePayment
    from paystead.platform.schema import invoices

    cus = await customer(services)
    invoice = await services.invoices.finalize(
        await one_line_invoice(services, cus, collection_method="send_invoice"), now=NOW
    )
    # An earlier attempt left its payment authorized but not captured (its answer is
    # not final): the invoice must wait for it rather than charge again.
    held = await services.payments.create(
        CreatePayment(Money(118000, "INR"), "pm_card_visa", CaptureMethod.MANUAL, customer_id=cus)
    )
    async with services.db.transaction() as conn:
        await conn.execute(
            invoices.update().where(invoices.c.id == invoice.id).values(payment_id=held.id)
        )
    with pytest.raises(Conflict):
        await services.invoices.pay(invoice.id, now=NOW)
    await services.payments.capture(held.id)
    paid = await services.invoices.pay(invoice.id, now=NOW)
    assert paid.status == "paid" and paid.amount_paid == 118000 and paid.payment_id == held.id
    assert await charges(services, cus) == [(118000, "succeeded")]


async def test_concurrent_retries_of_an_open_invoice_charge_once(services: Services) -> None:
    cus = await customer(services, method="pm_card_declined")
    invoice = await services.invoices.finalize(await one_line_invoice(services, cus), now=NOW)
    assert invoice.status == "open"
    await services.customers.update(cus, {"payment_method": "pm_card_visa"})
    results = await asyncio.gather(
        *(services.invoices.pay(invoice.id, now=NOW) for _ in range(4)), return_exceptions=True
    )
    for result in results:
        assert not isinstance(result, BaseException) or isinstance(result, Conflict), result
    assert (await services.invoices.get(invoice.id)).status == "paid"
    assert await charges(services, cus) == [(118000, "failed"), (118000, "succeeded")]
