"""The payment state machine, captures, refund reservations and their journal entries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from paystead.errors import AmountExceedsRemaining, Conflict, IllegalTransition, InvalidAmount
from paystead.ledger.model import (
    AccountRef,
    JournalEntry,
    gateway_clearing,
    merchant_revenue,
    processing_fees,
    refunds_issued,
)
from paystead.money import Money
from paystead.payments.accounting import accounts_for, capture_entry, refund_entry
from paystead.payments.model import (
    CaptureMethod,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)

S = PaymentStatus
NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def make_payment(
    status: PaymentStatus = S.REQUIRES_CONFIRMATION,
    *,
    amount: int = 10_000,
    captured: int = 0,
    currency: str = "INR",
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC,
) -> Payment:
    return Payment(
        id="pay_test",
        amount=amount,
        currency=currency,
        payment_method="pm_card_visa",
        capture_method=capture_method,
        status=status,
        gateway="sandbox",
        created_at=NOW,
        updated_at=NOW,
        amount_captured=captured,
    )


def succeeded(captured: int = 10_000, amount: int = 10_000) -> Payment:
    return make_payment(S.SUCCEEDED, amount=amount, captured=captured)


# --------------------------------------------------------------------------- state machine

ACTIONS: dict[str, Callable[[Payment], object]] = {
    "confirm": lambda p: p.start_confirmation(),
    "authorize": lambda p: p.authorized("ch_1"),
    "capture": lambda p: p.captured(p.amount, "ch_1"),
    "fail": lambda p: p.failed("card_declined", "The card was declined."),
    "start_capture": lambda p: p.start_capture(None),
    "capture_failed": lambda p: p.capture_failed("processing_error", "retry"),
    "cancel": lambda p: p.cancel(),
    "require_action": lambda p: p.requires_action(
        "order_1", "order_1", {"type": "razorpay_checkout", "razorpay_checkout": {}}
    ),
    "complete_action": lambda p: p.start_action_completion(),
}

# From the diagram in payments/model.py, written out by hand.
ALLOWED_MOVES: dict[tuple[PaymentStatus, str], PaymentStatus] = {
    (S.REQUIRES_CONFIRMATION, "confirm"): S.PROCESSING,
    (S.REQUIRES_CONFIRMATION, "cancel"): S.CANCELED,
    (S.PROCESSING, "authorize"): S.REQUIRES_CAPTURE,
    (S.PROCESSING, "capture"): S.SUCCEEDED,
    (S.PROCESSING, "fail"): S.FAILED,
    (S.PROCESSING, "require_action"): S.REQUIRES_ACTION,
    (S.REQUIRES_ACTION, "complete_action"): S.PROCESSING,
    # A webhook may settle a payment waiting for its customer; a failed attempt in the
    # customer's hands never fails it (they may pay again).
    (S.REQUIRES_ACTION, "authorize"): S.REQUIRES_CAPTURE,
    (S.REQUIRES_ACTION, "capture"): S.SUCCEEDED,
    (S.REQUIRES_ACTION, "cancel"): S.CANCELED,
    (S.REQUIRES_CAPTURE, "start_capture"): S.PROCESSING,
    (S.REQUIRES_CAPTURE, "cancel"): S.CANCELED,
}

# The stable error code an illegal action reports, whatever the current status.
ILLEGAL_CODES = {
    "confirm": "payment_confirm_not_allowed",
    "authorize": "payment_authorize_not_allowed",
    "capture": "payment_capture_not_allowed",
    "fail": "payment_fail_not_allowed",
    "start_capture": "payment_capture_not_allowed",
    "capture_failed": "illegal_transition",
    "cancel": "payment_cancel_not_allowed",
    "require_action": "payment_require_action_not_allowed",
    "complete_action": "payment_complete_action_not_allowed",
}

ALL_PAIRS = [(status, action) for status in PaymentStatus for action in ACTIONS]


def test_the_status_set_is_the_documented_one() -> None:
    assert {s.value for s in PaymentStatus} == {
        "requires_confirmation",
        "processing",
        "requires_action",
        "requires_capture",
        "succeeded",
        "failed",
        "canceled",
    }


@pytest.mark.parametrize(
    ("status", "action"), [p for p in ALL_PAIRS if p in ALLOWED_MOVES], ids=str
)
def test_allowed_transition_moves_to_documented_status(status: PaymentStatus, action: str) -> None:
    payment = make_payment(status)
    ACTIONS[action](payment)
    assert payment.status is ALLOWED_MOVES[(status, action)]


@pytest.mark.parametrize(
    ("status", "action"), [p for p in ALL_PAIRS if p not in ALLOWED_MOVES], ids=str
)
def test_illegal_transition_is_refused_with_stable_code(status: PaymentStatus, action: str) -> None:
    payment = make_payment(status)
    with pytest.raises(IllegalTransition) as excinfo:
        ACTIONS[action](payment)
    assert excinfo.value.code == ILLEGAL_CODES[action]
    assert isinstance(excinfo.value, Conflict)
    assert payment.status is status  # nothing changed
    assert payment.amount_captured == 0


@pytest.mark.parametrize("status", [S.SUCCEEDED, S.FAILED, S.CANCELED])
def test_terminal_statuses_allow_nothing(status: PaymentStatus) -> None:
    for action in ACTIONS:
        payment = make_payment(status)
        with pytest.raises(IllegalTransition):
            ACTIONS[action](payment)


def test_happy_path_automatic_capture() -> None:
    payment = make_payment()
    payment.start_confirmation()
    payment.captured(10_000, "ch_1")
    assert payment.status is S.SUCCEEDED
    assert payment.amount_captured == 10_000
    assert payment.gateway_reference == "ch_1"
    assert payment.refundable == 10_000


def test_happy_path_manual_capture() -> None:
    payment = make_payment(capture_method=CaptureMethod.MANUAL)
    payment.start_confirmation()
    payment.authorized("ch_1")
    assert payment.status is S.REQUIRES_CAPTURE
    assert payment.amount_captured == 0
    assert payment.start_capture(None) == 10_000
    payment.captured(10_000, None)  # no new reference: the authorization's is kept
    assert payment.status is S.SUCCEEDED
    assert payment.gateway_reference == "ch_1"
    assert payment.amount_captured == 10_000


def test_failure_records_code_and_message() -> None:
    payment = make_payment(S.PROCESSING)
    payment.failed("card_declined", "The card was declined.")
    assert payment.status is S.FAILED
    assert payment.failure_code == "card_declined"
    assert payment.failure_message == "The card was declined."
    assert payment.amount_captured == 0


def test_money_property() -> None:
    assert make_payment(amount=500, currency="jpy").money == Money(500, "JPY")


# --------------------------------------------------------------------------- capture


def test_start_capture_full_by_default() -> None:
    payment = make_payment(S.REQUIRES_CAPTURE)
    assert payment.start_capture(None) == 10_000
    assert payment.status is S.PROCESSING
    assert payment.capturing == 10_000


@pytest.mark.parametrize("amount", [1, 4_000, 9_999, 10_000])
def test_start_capture_partial_or_exact(amount: int) -> None:
    payment = make_payment(S.REQUIRES_CAPTURE)
    assert payment.start_capture(amount) == amount
    assert payment.status is S.PROCESSING
    assert payment.capturing == amount
    payment.captured(amount, "ch_1")
    assert payment.amount_captured == amount
    assert payment.refundable == amount


@pytest.mark.parametrize("amount", [10_001, 20_000])
def test_start_capture_over_the_authorized_amount_is_refused(amount: int) -> None:
    payment = make_payment(S.REQUIRES_CAPTURE)
    with pytest.raises(AmountExceedsRemaining) as excinfo:
        payment.start_capture(amount)
    assert excinfo.value.code == "capture_exceeds_authorized"
    assert excinfo.value.param == "amount"
    assert payment.status is S.REQUIRES_CAPTURE
    assert payment.capturing is None


@pytest.mark.parametrize("amount", [0, -1, -10_000])
def test_start_capture_needs_a_positive_amount(amount: int) -> None:
    payment = make_payment(S.REQUIRES_CAPTURE)
    with pytest.raises(InvalidAmount):
        payment.start_capture(amount)
    assert payment.status is S.REQUIRES_CAPTURE
    assert payment.capturing is None


def test_capture_failed_returns_to_requires_capture_and_can_retry() -> None:
    payment = make_payment(S.REQUIRES_CAPTURE)
    payment.start_capture(6_000)
    payment.capture_failed("processing_error", "The gateway could not process the card.")
    assert payment.status is S.REQUIRES_CAPTURE
    assert payment.failure_code == "processing_error"
    assert payment.amount_captured == 0
    # The authorization is still capturable, and a later success clears the failure.
    assert payment.start_capture(None) == 10_000
    payment.captured(10_000, "ch_2")
    assert payment.status is S.SUCCEEDED
    assert payment.failure_code is None
    assert payment.failure_message is None
    assert payment.gateway_reference == "ch_2"


# --------------------------------------------------------------------------- refunds


@pytest.mark.parametrize(
    "status", [S.REQUIRES_CONFIRMATION, S.PROCESSING, S.REQUIRES_CAPTURE, S.FAILED, S.CANCELED]
)
@pytest.mark.parametrize("amount", [None, 100])
def test_refund_only_on_succeeded_payments(status: PaymentStatus, amount: int | None) -> None:
    payment = make_payment(status, captured=10_000)
    with pytest.raises(IllegalTransition) as excinfo:
        payment.reserve_refund(amount)
    assert excinfo.value.code == "payment_not_refundable"
    assert payment.amount_refund_pending == 0


def test_refund_of_a_succeeded_payment_with_nothing_captured_is_refused() -> None:
    payment = succeeded(captured=0)
    with pytest.raises(IllegalTransition) as excinfo:
        payment.reserve_refund(None)
    assert excinfo.value.code == "payment_not_refundable"


def test_default_refund_reserves_everything_left() -> None:
    payment = succeeded()
    assert payment.reserve_refund(None) == 10_000
    assert payment.amount_refund_pending == 10_000
    assert payment.amount_refunded == 0
    assert payment.refundable == 0
    with pytest.raises(AmountExceedsRemaining) as excinfo:
        payment.reserve_refund(None)
    assert excinfo.value.code == "payment_fully_refunded"
    assert payment.amount_refund_pending == 10_000


def test_default_refund_after_partial_refunds_takes_the_rest() -> None:
    payment = succeeded()
    payment.reserve_refund(3_000)
    payment.settle_refund(3_000, succeeded=True)
    payment.reserve_refund(2_000)  # still pending
    assert payment.reserve_refund(None) == 5_000
    assert payment.amount_refund_pending == 7_000
    assert payment.amount_refunded == 3_000


def test_partial_refunds_reserve_cumulatively() -> None:
    payment = succeeded()
    assert payment.reserve_refund(3_000) == 3_000
    assert payment.reserve_refund(3_000) == 3_000
    assert payment.amount_refund_pending == 6_000
    assert payment.refundable == 4_000
    with pytest.raises(AmountExceedsRemaining) as excinfo:
        payment.reserve_refund(4_001)
    assert excinfo.value.code == "refund_exceeds_captured"
    assert excinfo.value.param == "amount"
    assert payment.amount_refund_pending == 6_000  # the refused one reserved nothing
    assert payment.reserve_refund(4_000) == 4_000
    assert payment.refundable == 0


def test_refund_is_bounded_by_the_captured_not_the_authorized_amount() -> None:
    payment = succeeded(captured=4_000, amount=10_000)
    with pytest.raises(AmountExceedsRemaining):
        payment.reserve_refund(4_001)
    assert payment.reserve_refund(None) == 4_000


@pytest.mark.parametrize("amount", [0, -1, -500])
def test_refund_amount_must_be_positive(amount: int) -> None:
    payment = succeeded()
    with pytest.raises(InvalidAmount):
        payment.reserve_refund(amount)
    assert payment.amount_refund_pending == 0


def test_settle_refund_success_moves_pending_to_refunded() -> None:
    payment = succeeded()
    payment.reserve_refund(2_500)
    payment.settle_refund(2_500, succeeded=True)
    assert payment.amount_refund_pending == 0
    assert payment.amount_refunded == 2_500
    assert payment.refundable == 7_500
    assert payment.status is S.SUCCEEDED  # refunds never change the payment's status


def test_settle_refund_failure_releases_the_reservation() -> None:
    payment = succeeded()
    payment.reserve_refund(10_000)
    payment.settle_refund(10_000, succeeded=False)
    assert payment.amount_refund_pending == 0
    assert payment.amount_refunded == 0
    assert payment.refundable == 10_000
    assert payment.reserve_refund(None) == 10_000  # the released amount is refundable again


def test_interleaved_settlements() -> None:
    payment = succeeded()
    payment.reserve_refund(1_000)
    payment.reserve_refund(2_000)
    payment.reserve_refund(3_000)
    payment.settle_refund(2_000, succeeded=False)
    payment.settle_refund(3_000, succeeded=True)
    assert (payment.amount_refunded, payment.amount_refund_pending) == (3_000, 1_000)
    assert payment.refundable == 6_000
    payment.settle_refund(1_000, succeeded=True)
    assert (payment.amount_refunded, payment.amount_refund_pending) == (4_000, 0)


class RefundMachine(RuleBasedStateMachine):
    """Random reservations and settlements against an independent model of the payment."""

    def __init__(self) -> None:
        super().__init__()
        self.payment = succeeded()
        self.outstanding: list[int] = []  # amounts reserved and not yet settled
        self.refunded = 0

    @initialize(captured=st.integers(1, 1_000_000))
    def capture(self, captured: int) -> None:
        self.payment = succeeded(captured=captured, amount=captured)

    def _left(self) -> int:
        return self.payment.amount_captured - self.refunded - sum(self.outstanding)

    @rule(amount=st.one_of(st.none(), st.integers(-10, 1_100_000)))
    def reserve(self, amount: int | None) -> None:
        left = self._left()
        wanted = left if amount is None else amount
        if wanted <= 0 or wanted > left:
            with pytest.raises((AmountExceedsRemaining, InvalidAmount)):
                self.payment.reserve_refund(amount)
        else:
            assert self.payment.reserve_refund(amount) == wanted
            self.outstanding.append(wanted)

    @rule(fraction=st.floats(0, 1, exclude_max=True))
    def reserve_some_of_what_is_left(self, fraction: float) -> None:
        left = self._left()
        wanted = 1 + int(fraction * left)
        if left > 0:
            assert self.payment.reserve_refund(wanted) == wanted
            self.outstanding.append(wanted)

    @precondition(lambda self: self.outstanding)
    @rule(index=st.integers(0, 10_000), ok=st.booleans())
    def settle(self, index: int, ok: bool) -> None:
        amount = self.outstanding.pop(index % len(self.outstanding))
        self.payment.settle_refund(amount, succeeded=ok)
        if ok:
            self.refunded += amount

    @invariant()
    def bounded(self) -> None:
        p = self.payment
        assert p.amount_refunded >= 0
        assert p.amount_refund_pending >= 0
        assert 0 <= p.amount_refunded + p.amount_refund_pending <= p.amount_captured
        assert p.refundable >= 0

    @invariant()
    def matches_model(self) -> None:
        assert self.payment.amount_refunded == self.refunded
        assert self.payment.amount_refund_pending == sum(self.outstanding)
        assert self.payment.refundable == self._left()
        assert self.payment.status is S.SUCCEEDED


TestRefundReservations = RefundMachine.TestCase


@given(
    captured=st.integers(1, 10**9),
    requests=st.lists(st.integers(1, 10**9), max_size=30),
)
def test_refund_requests_in_sequence_never_exceed_captured(
    captured: int, requests: list[int]
) -> None:
    payment = succeeded(captured=captured, amount=captured)
    accepted = 0
    for amount in requests:
        try:
            payment.reserve_refund(amount)
        except AmountExceedsRemaining:
            assert accepted + amount > captured
        else:
            accepted += amount
        assert accepted == payment.amount_refund_pending <= captured


# --------------------------------------------------------------------------- accounting


def _net(entry: JournalEntry) -> dict[AccountRef, int]:
    totals: dict[AccountRef, int] = defaultdict(int)
    for posting in entry.postings:
        totals[posting.account] += posting.amount
    return dict(totals)


def test_capture_entry_without_fee() -> None:
    payment = succeeded()
    entry = capture_entry(payment, 10_000, None)
    assert entry.kind == "payment.capture"
    assert entry.reference == payment.id
    assert entry.payment_id == payment.id
    assert _net(entry) == {
        gateway_clearing("sandbox", "INR"): 10_000,
        merchant_revenue("INR"): -10_000,
    }
    assert sum(p.amount for p in entry.postings) == 0
    assert entry.description is not None and "100.00 INR" in entry.description


def test_capture_entry_with_fee() -> None:
    payment = succeeded()
    entry = capture_entry(payment, 10_000, Money(200, "INR"))
    assert len(entry.postings) == 4
    assert sum(p.amount for p in entry.postings) == 0
    assert _net(entry) == {
        gateway_clearing("sandbox", "INR"): 10_000 - 200,
        merchant_revenue("INR"): -10_000,
        processing_fees("INR"): 200,
    }


def test_capture_entry_with_zero_fee_posts_no_fee() -> None:
    entry = capture_entry(succeeded(), 10_000, Money(0, "INR"))
    assert processing_fees("INR") not in _net(entry)
    assert len(entry.postings) == 2


def test_capture_entry_books_the_captured_amount_not_the_authorized_one() -> None:
    payment = succeeded(captured=4_000, amount=10_000)
    entry = capture_entry(payment, 4_000, Money(80, "INR"))
    assert _net(entry) == {
        gateway_clearing("sandbox", "INR"): 3_920,
        merchant_revenue("INR"): -4_000,
        processing_fees("INR"): 80,
    }


def test_refund_entry() -> None:
    payment = succeeded()
    refund = Refund(
        id="re_test",
        payment_id=payment.id,
        amount=2_500,
        currency="INR",
        status=RefundStatus.SUCCEEDED,
        created_at=NOW,
        updated_at=NOW,
    )
    entry = refund_entry(payment, refund)
    assert entry.kind == "refund"
    assert entry.reference == "re_test"
    assert entry.payment_id == payment.id
    assert _net(entry) == {
        refunds_issued("INR"): 2_500,
        gateway_clearing("sandbox", "INR"): -2_500,
    }


def test_entries_touch_only_the_payment_accounts() -> None:
    payment = make_payment(S.SUCCEEDED, captured=5_000, amount=5_000, currency="JPY")
    refund = Refund(
        id="re_1",
        payment_id=payment.id,
        amount=1_000,
        currency="JPY",
        status=RefundStatus.PENDING,
        created_at=NOW,
        updated_at=NOW,
    )
    allowed = set(accounts_for("sandbox", "JPY"))
    assert len(allowed) == 4
    assert all(a.currency == "JPY" for a in allowed)
    for entry in (capture_entry(payment, 5_000, Money(100, "JPY")), refund_entry(payment, refund)):
        assert set(_net(entry)) <= allowed
