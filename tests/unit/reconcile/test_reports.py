"""Settlement reports as the gateways document them, parsed into lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paystead.errors import InvalidInput
from paystead.money import Money
from paystead.reconcile.reports import parse, parse_razorpay, parse_stripe

RAZORPAY = """entity_id,type,debit,credit,amount,currency,fee,tax,on_hold,settled,created_at,settled_at,settlement_id,posted_at,credit_type,description,notes,payment_id,settlement_utr,order_id,order_receipt,method,card_network,card_issuer,card_type,dispute_id
pay_DEXrnipqTmWVGE,payment,0,97100,100000,INR,2900,442,0,1,1567685711,1567708200,setl_DEXsvYTKO6IsX8,1567708200,default,,[],,1568176960vxp0rj,order_DEXrmdVTGXNCoq,rcpt_1,card,Visa,HDFC,debit,
rfnd_DEXyvLq2XtfqwJ,refund,20000,0,20000,INR,0,0,0,1,1567686121,1567708200,setl_DEXsvYTKO6IsX8,1567708200,default,,[],pay_DEXrnipqTmWVGE,1568176960vxp0rj,,,card,,,,
adj_DEXyz1,adjustment,500,0,500,INR,0,0,0,1,1567686200,1567708200,setl_DEXsvYTKO6IsX8,1567708200,default,chargeback fee,[],,,,,,,,,
"""

STRIPE = """balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,reporting_category,source_id,description,charge_id,payment_intent_id,automatic_payout_id
txn_1Mc1,2026-04-01 10:00:00,2026-04-03 00:00:00,usd,20.00,0.88,19.12,charge,ch_3Mc1,,ch_3Mc1,pi_3Mc1,po_1
txn_1Mc2,2026-04-01 11:00:00,2026-04-03 00:00:00,usd,-5.00,0.00,-5.00,refund,re_3Mc2,,ch_3Mc1,pi_3Mc1,po_1
txn_1Mc3,2026-04-01 12:00:00,2026-04-03 00:00:00,jpy,1500,62,1438,charge,ch_3Mc3,,ch_3Mc3,pi_3Mc3,po_1
txn_1Mc4,2026-04-01 13:00:00,2026-04-03 00:00:00,usd,-15.00,0.00,-15.00,dispute,dp_1,,ch_3Mc1,pi_3Mc1,po_1
"""


def test_razorpay_recon_lines() -> None:
    payment, refund, adjustment = parse_razorpay(RAZORPAY)
    assert (payment.kind, payment.reference, payment.order_reference) == (
        "payment",
        "pay_DEXrnipqTmWVGE",
        "order_DEXrmdVTGXNCoq",
    )
    assert (payment.amount, payment.fee) == (Money(100_000, "INR"), Money(2_900, "INR"))
    assert payment.settlement_id == "setl_DEXsvYTKO6IsX8"
    assert payment.occurred_at == datetime.fromtimestamp(1567685711, UTC)
    assert (refund.kind, refund.reference, refund.payment_reference) == (
        "refund",
        "rfnd_DEXyvLq2XtfqwJ",
        "pay_DEXrnipqTmWVGE",
    )
    assert refund.amount == Money(20_000, "INR")
    assert (adjustment.kind, adjustment.matchable) == ("adjustment", False)


def test_stripe_balance_transactions_in_major_units() -> None:
    charge, refund, yen, dispute = parse_stripe(STRIPE)
    assert (charge.kind, charge.reference, charge.amount, charge.fee) == (
        "payment",
        "pi_3Mc1",
        Money(2_000, "USD"),
        Money(88, "USD"),
    )
    assert charge.occurred_at == datetime(2026, 4, 1, 10, tzinfo=UTC)
    assert (refund.kind, refund.reference, refund.payment_reference, refund.amount) == (
        "refund",
        "re_3Mc2",
        "pi_3Mc1",
        Money(500, "USD"),
    )
    assert (yen.amount, yen.fee) == (Money(1_500, "JPY"), Money(62, "JPY"))  # exponent 0
    assert dispute.kind == "dispute" and not dispute.matchable


@pytest.mark.parametrize(
    ("gateway", "text", "message"),
    [
        ("razorpay", "entity_id,type,amount\npay_1,payment,100\n", "lacks the column"),
        ("razorpay", "entity_id,type,amount,currency,fee\npay_1,payment,1.5,INR,0\n", "line 2"),
        ("razorpay", "entity_id,type,amount,currency,fee\npay_1,payment,100,XXX,0\n", "line 2"),
        (
            "stripe",
            "balance_transaction_id,currency,gross,fee,reporting_category\ntxn_1,usd,1.005,0,charge\n",
            "more decimals",
        ),
        (
            "stripe",
            "balance_transaction_id,currency,gross,fee,reporting_category\ntxn_1,usd,abc,0,charge\n",
            "not a number",
        ),
        ("paypal", "", "unknown gateway"),
    ],
)
def test_malformed_reports_are_refused_with_the_line(gateway: str, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse(gateway, text)
