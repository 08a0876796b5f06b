"""A Razorpay settlement report against payments made through the fake Razorpay:
matched, amount mismatch, missing on either side, other lines; the settlement fee's
difference posted to the ledger once; the run stored and listed over the API; the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from paystead.platform.migrate import upgrade
from paystead.wiring import Services
from tests.fakes.razorpay import FakeRazorpay
from tests.fakes.server import LiveServer
from tests.integration.gateways.wired.conftest import browser_checkout

HEADER = (
    "entity_id,type,debit,credit,amount,currency,fee,tax,on_hold,settled,created_at,"
    "settled_at,settlement_id,posted_at,credit_type,description,notes,payment_id,"
    "settlement_utr,order_id,order_receipt,method,card_network,card_issuer,card_type,dispute_id"
)


def line(
    entity: str, kind: str, amount: int, fee: int, at: int, *, payment: str = "", order: str = ""
) -> str:
    credit, debit = (amount - fee, 0) if kind == "payment" else (0, amount)
    return (
        f"{entity},{kind},{debit},{credit},{amount},INR,{fee},{fee // 6},0,1,{at},{at},"
        f"setl_TEST1,{at},default,,[],{payment},utr1,{order},,card,Visa,HDFC,debit,"
    )


async def paid(api: httpx.AsyncClient, server_url: str, amount: int = 50_000) -> tuple[dict, str]:
    created = (
        await api.post(
            "/v1/payments",
            json={"amount": amount, "currency": "INR", "payment_method": "razorpay_checkout"},
        )
    ).json()
    answer = await browser_checkout(
        server_url, created["next_action"]["razorpay_checkout"]["order_id"]
    )
    confirmed = (await api.post(f"/v1/payments/{created['id']}/confirm", json=answer)).json()
    assert confirmed["status"] == "succeeded"
    return confirmed, answer["razorpay_payment_id"]


async def test_a_settlement_report_is_matched_fees_posted_once_and_discrepancies_listed(
    api: httpx.AsyncClient, razorpay_server: tuple[FakeRazorpay, LiveServer], wired: Services
) -> None:
    fake, server = razorpay_server
    matched, rzp_matched = await paid(api, server.url)
    short, rzp_short = await paid(api, server.url)
    unreported, _ = await paid(api, server.url)
    refund = (
        await api.post("/v1/refunds", json={"payment": matched["id"], "amount": 10_000})
    ).json()
    posted_fee = fake.payments[rzp_matched]["fee"]
    now = int(time.time())
    report = "\n".join(
        [
            HEADER,
            line(
                rzp_matched,
                "payment",
                50_000,
                posted_fee + 20,
                now - 60,
                order=matched["attempts"][0]["reference"],
            ),
            line(rzp_short, "payment", 40_000, 800, now - 50),
            line("pay_NotOurs000001", "payment", 9_900, 200, now - 40),
            line(refund["gateway_reference"], "refund", 10_000, 0, now + 60, payment=rzp_matched),
            line("adj_Fee000000001", "adjustment", 500, 0, now),
        ]
    ).encode()

    run = await wired.reconciliation.run("razorpay", "recon-1.csv", report)
    assert run.summary == {
        "lines": 5,
        "matched": 2,
        "amount_mismatch": 1,
        "missing_ours": 1,
        "missing_gateway": 1,
        "other": 1,
        "fees_posted": {"INR": 20},  # the mismatched line's fee is left to a person
    }
    listed = (await api.get(f"/v1/reconciliation_runs/{run.id}")).json()
    assert listed["summary"] == run.summary
    found = {
        (d["outcome"], d["payment"] or d["gateway_reference"]) for d in listed["discrepancies"]
    }
    assert found == {
        ("amount_mismatch", short["id"]),
        ("missing_ours", "pay_NotOurs000001"),
        ("missing_gateway", unreported["id"]),
        ("other", "adj_Fee000000001"),
    }
    mismatch = next(d for d in listed["discrepancies"] if d["outcome"] == "amount_mismatch")
    assert (mismatch["expected_amount"], mismatch["reported_amount"]) == (50_000, 40_000)
    # The fee difference is a balanced entry on the payment; the ledger still checks out.
    entries = (await api.get("/v1/ledger/entries", params={"payment": matched["id"]})).json()
    [adjustment] = [e for e in entries["data"] if e["kind"] == "settlement.fee"]
    assert adjustment["reference"] == f"razorpay:{rzp_matched}"
    assert {(p["account"], p["amount"]) for p in adjustment["postings"]} == {
        ("processing_fees", 20),
        ("gateway_clearing:razorpay", -20),
    }
    assert (await api.get("/v1/ledger/check")).json()["ok"] is True
    # Importing the same report again finds the fees posted already.
    again = await wired.reconciliation.run("razorpay", "recon-1.csv", report)
    assert again.summary["fees_posted"] == {} and again.summary["matched"] == 2
    assert (await api.get("/v1/reconciliation_runs/rcn_nope")).status_code == 404


def test_the_cli_prints_the_summary_and_refuses_a_malformed_report(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    report = tmp_path / "balance.csv"
    report.write_text(
        "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,"
        "source_id,charge_id,payment_intent_id\n"
        "txn_1,2026-04-01 10:00:00,usd,20.00,0.88,19.12,charge,ch_1,ch_1,pi_1\n"
        "txn_2,2026-04-01 11:00:00,usd,-3.00,0.00,-3.00,payout,po_1,,\n"
    )
    env = {**os.environ, "PAYSTEAD_DATABASE_URL": url}
    paystead = [str(Path(sys.executable).parent / "paystead")]
    done = subprocess.run(
        [*paystead, "reconcile", str(report), "--gateway", "stripe"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "2 line(s) from stripe" in done.stdout
    assert "missing_ours     1" in done.stdout and "other            1" in done.stdout
    assert "! missing_ours: payment pi_1" in done.stdout
    report.write_text("not,a,report\n1,2,3\n")
    bad = subprocess.run(
        [*paystead, "reconcile", str(report), "--gateway", "stripe"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "lacks the column" in bad.stderr
