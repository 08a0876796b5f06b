"""JSON log lines and which outbox events count as a payment's outcome (no I/O)."""

from __future__ import annotations

import json
import logging

from paystead.events.context import RequestContext, bound
from paystead.telemetry.database import _classify, payment_outcome
from paystead.telemetry.logs import JsonFormatter


def test_json_log_lines_carry_the_request_id_and_extras() -> None:
    record = logging.LogRecord(
        "paystead.x", logging.WARNING, __file__, 1, "paid %s", ("pay_1",), None
    )
    record.payment = "pay_1"
    with bound(RequestContext(request_id="req_abc", actor="key_1")):
        line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "paid pay_1"
    assert (line["level"], line["logger"]) == ("warning", "paystead.x")
    assert (line["request_id"], line["actor"], line["payment"]) == ("req_abc", "key_1", "pay_1")
    assert line["time"].endswith("+00:00")
    outside = json.loads(JsonFormatter().format(record))
    assert "request_id" not in outside


def test_a_payment_counts_once_at_its_first_answer() -> None:
    data = {
        "object": "payment",
        "gateway": "sandbox",
        "payment_method": "pm_upi_success",
        "currency": "INR",
        "capture_method": "automatic",
        "metadata": {"channel": "android"},
    }
    assert payment_outcome(data, "payment.succeeded") == {
        "gateway": "sandbox",
        "method": "upi",
        "currency": "INR",
        "channel": "android",
        "outcome": "succeeded",
    }
    assert payment_outcome(data, "payment.failed")["outcome"] == "failed"  # type: ignore[index]
    assert payment_outcome(data, "payment.created") is None
    manual = {**data, "capture_method": "manual"}
    assert payment_outcome(manual, "payment.requires_capture")["outcome"] == "authorized"  # type: ignore[index]
    assert payment_outcome(manual, "payment.succeeded") is None  # a capture, not an answer
    probe = {**data, "metadata": {"synthetic": "probe"}}
    assert payment_outcome(probe, "payment.succeeded") is None
    assert payment_outcome({**data, "metadata": {}}, "payment.failed")["channel"] == "other"  # type: ignore[index]


def test_statements_are_labelled_by_their_first_keyword() -> None:
    assert _classify("SELECT 1") == ("select", None)
    assert _classify("  INSERT INTO events (id, type) VALUES (?, ?)") == ("insert", "")
    assert _classify("INSERT INTO payments (id) VALUES (?)") == ("insert", None)
    assert _classify("BEGIN IMMEDIATE") == ("begin", None)
    assert _classify("PRAGMA foreign_keys=ON") == ("other", None)


def test_a_batch_is_labelled_by_its_last_write() -> None:
    batched = (
        "WITH w0 AS \n(INSERT INTO journal_entries (id) VALUES ($3::VARCHAR)), \n"
        "w1 AS \n(UPDATE idempotency_keys SET state=$4::VARCHAR WHERE idempotency_keys.id"
        " = $5::BIGINT)\n INSERT INTO events (id, type) VALUES ($1::VARCHAR, $2::VARCHAR)"
    )
    assert _classify(batched) == ("insert", "m_")
    events_first = (
        "WITH w0 AS \n(INSERT INTO events (id) VALUES ($1::VARCHAR))\n"
        " INSERT INTO payments (id) VALUES ($2::VARCHAR)"
    )
    assert _classify(events_first) == ("insert", None)
