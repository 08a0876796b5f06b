"""The payment service: each use case as one function over short transactions.

A gateway call never runs inside a database transaction (it may take seconds), so each
money-moving use case is two transactions around the call:

1. claim the idempotency key, check the rules, record the intent (a payment in
   ``processing``, a refund reservation) and commit;
2. call the gateway with an idempotency key derived from our own id;
3. record the answer: new status, ledger entry, balances and the idempotent response,
   all in one commit.

If the process dies between 1 and 3, the payment stays ``processing`` (never guessed);
a retry with the same Idempotency-Key takes over the abandoned claim and resumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from paystead.customers import repository as customers
from paystead.errors import GatewayError, IllegalTransition, InvalidInput
from paystead.events import catalog, recorders
from paystead.gateways.base import AuthorizeRequest, Gateway, GatewayResult, Outcome
from paystead.ids import new_id
from paystead.ledger.model import JournalEntry
from paystead.ledger.store import LedgerStore
from paystead.money import Money
from paystead.payments import repository as repo
from paystead.payments.accounting import accounts_for, capture_entry, refund_entry
from paystead.payments.model import (
    CaptureMethod,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from paystead.platform.db import Database
from paystead.platform.idempotency import Idempotency, NoIdempotency


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CreatePayment:
    amount: Money
    payment_method: str
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    confirm: bool = True
    customer_id: str | None = None
    gateway: str | None = None
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CreateRefund:
    payment_id: str
    amount: int | None = None
    reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


_NO_IDEMPOTENCY = NoIdempotency()


class PaymentService:
    def __init__(
        self,
        db: Database,
        gateways: Mapping[str, Gateway],
        ledger: LedgerStore,
        *,
        default_gateway: str = "sandbox",
        clock: Callable[[], datetime] = utcnow,
    ):
        self.db = db
        self.gateways = gateways
        self.ledger = ledger
        self.default_gateway = default_gateway
        self.clock = clock

    def _gateway(self, name: str | None) -> Gateway:
        chosen = name or self.default_gateway
        gateway = self.gateways.get(chosen)
        if gateway is None:
            raise InvalidInput(
                f"gateway {chosen!r} is not enabled", code="gateway_invalid", param="gateway"
            )
        return gateway

    # -- create and confirm ---------------------------------------------------------

    async def create(self, cmd: CreatePayment, idem: Idempotency = _NO_IDEMPOTENCY) -> Payment:
        gateway = self._gateway(cmd.gateway)
        gateway.check_payment_method(cmd.payment_method)
        if cmd.amount.amount <= 0:
            raise InvalidInput("amount must be positive", code="amount_invalid", param="amount")
        now = self.clock()
        payment = Payment(
            id=new_id("pay"),
            amount=cmd.amount.amount,
            currency=cmd.amount.currency,
            payment_method=cmd.payment_method,
            capture_method=cmd.capture_method,
            status=PaymentStatus.REQUIRES_CONFIRMATION,
            gateway=gateway.name,
            customer_id=cmd.customer_id,
            description=cmd.description,
            metadata=cmd.metadata,
            created_at=now,
            updated_at=now,
        )
        async with self.db.transaction() as conn:
            resumed = await idem.begin(conn, payment.id)
            if resumed is not None:
                payment = await repo.get_payment(conn, resumed)
            else:
                if cmd.customer_id is not None:
                    await customers.ensure_exists(conn, cmd.customer_id, param="customer")
                if cmd.confirm:
                    payment.start_confirmation()
                await repo.insert_payment(conn, payment)
                await recorders.payment_created(conn, payment)
            if payment.status is not PaymentStatus.PROCESSING:
                await idem.complete(conn, payment)
                return payment
        await self.ledger.warm(self.db, accounts_for(gateway.name, payment.currency))
        return await self._authorize(gateway, payment, idem)

    async def confirm(self, payment_id: str, idem: Idempotency = _NO_IDEMPOTENCY) -> Payment:
        async with self.db.transaction() as conn:
            await idem.begin(conn, payment_id)
            payment = await repo.get_payment(conn, payment_id, lock=True)
            gateway = self._gateway(payment.gateway)
            before = recorders.snapshot(payment)
            payment.start_confirmation()
            payment.updated_at = self.clock()
            await repo.save_payment(conn, payment)
            await recorders.payment_changed(conn, payment, before)
        await self.ledger.warm(self.db, accounts_for(gateway.name, payment.currency))
        return await self._authorize(gateway, payment, idem)

    async def _authorize(self, gateway: Gateway, payment: Payment, idem: Idempotency) -> Payment:
        request = AuthorizeRequest(
            amount=payment.money,
            payment_method=payment.payment_method,
            capture=payment.capture_method is CaptureMethod.AUTOMATIC,
            idempotency_key=f"{payment.id}:authorize",
            description=payment.description,
        )
        try:
            result: GatewayResult | None = await gateway.authorize(request)
        except GatewayError:
            result = None  # no answer: the payment stays processing until one comes
        async with self.db.transaction() as conn:
            before = recorders.snapshot(payment)
            entry = self._apply_authorization(payment, result) if result is not None else None
            await repo.save_payment(conn, payment)
            await idem.complete(conn, payment)
            await recorders.payment_changed(conn, payment, before)
            if entry is not None:
                await self.ledger.post(conn, entry, at=payment.updated_at)  # last: hot rows
        return payment

    def _apply_authorization(self, payment: Payment, result: GatewayResult) -> JournalEntry | None:
        """Move the payment by the gateway's answer; returns the entry to post, if any."""
        entry = None
        if result.outcome is Outcome.CAPTURED:
            payment.captured(payment.amount, result.reference)
            entry = capture_entry(payment, payment.amount, result.fee)
        elif result.outcome is Outcome.AUTHORIZED:
            payment.authorized(result.reference)
        elif result.outcome in (Outcome.DECLINED, Outcome.FAILED):
            payment.gateway_reference = result.reference or payment.gateway_reference
            payment.failed(result.failure_code, result.failure_message)
        elif result.outcome is Outcome.PENDING:
            payment.gateway_reference = result.reference or payment.gateway_reference
        else:
            raise GatewayError(f"unexpected authorization outcome {result.outcome}")
        payment.updated_at = self.clock()
        return entry

    # -- capture and cancel ---------------------------------------------------------

    async def capture(
        self, payment_id: str, amount: int | None = None, idem: Idempotency = _NO_IDEMPOTENCY
    ) -> Payment:
        async with self.db.transaction() as conn:
            await idem.begin(conn, payment_id)
            payment = await repo.get_payment(conn, payment_id, lock=True)
            before = recorders.snapshot(payment)
            take = payment.start_capture(amount)
            payment.updated_at = self.clock()
            await repo.save_payment(conn, payment)
            await recorders.payment_changed(conn, payment, before)
        gateway = self._gateway(payment.gateway)
        await self.ledger.warm(self.db, accounts_for(gateway.name, payment.currency))
        try:
            result: GatewayResult | None = await gateway.capture(
                payment.gateway_reference or payment.id,
                Money(take, payment.currency),
                idempotency_key=f"{payment.id}:capture",
            )
        except GatewayError:
            result = None
        entry = None
        before = recorders.snapshot(payment)
        if result is not None and result.outcome is Outcome.CAPTURED:
            payment.captured(take, result.reference)
            entry = capture_entry(payment, take, result.fee)
        elif result is not None and result.outcome in (Outcome.DECLINED, Outcome.FAILED):
            payment.capture_failed(result.failure_code, result.failure_message)
        payment.updated_at = self.clock()
        async with self.db.transaction() as conn:
            await repo.save_payment(conn, payment)
            await idem.complete(conn, payment)
            await recorders.payment_changed(
                conn, payment, before, back_to_requires_capture=catalog.PAYMENT_CAPTURE_FAILED
            )
            if entry is not None:
                await self.ledger.post(conn, entry, at=payment.updated_at)  # last: hot rows
        return payment

    async def cancel(self, payment_id: str, idem: Idempotency = _NO_IDEMPOTENCY) -> Payment:
        """Cancel before capture; an authorization is voided at the gateway first."""
        async with self.db.transaction() as conn:
            await idem.begin(conn, payment_id)
            payment = await repo.get_payment(conn, payment_id, lock=True)
            had_authorization = payment.status is PaymentStatus.REQUIRES_CAPTURE
            before = recorders.snapshot(payment)
            payment.cancel()
            if had_authorization:
                gateway = self._gateway(payment.gateway)
                result = await gateway.void(
                    payment.gateway_reference or payment.id,
                    idempotency_key=f"{payment.id}:void",
                )
                if result.outcome is not Outcome.VOIDED:
                    raise IllegalTransition(
                        f"the gateway refused to void: {result.failure_message}",
                        code="gateway_void_failed",
                    )
            payment.updated_at = self.clock()
            await repo.save_payment(conn, payment)
            await idem.complete(conn, payment)
            await recorders.payment_changed(conn, payment, before)
        return payment

    # -- refunds --------------------------------------------------------------------

    async def refund(self, cmd: CreateRefund, idem: Idempotency = _NO_IDEMPOTENCY) -> Refund:
        now = self.clock()
        async with self.db.transaction() as conn:
            refund_id = new_id("re")
            resumed = await idem.begin(conn, refund_id)
            if resumed is not None:
                refund = await repo.get_refund(conn, resumed)
                payment = await repo.get_payment(conn, refund.payment_id)
                if refund.status is not RefundStatus.PENDING:
                    await idem.complete(conn, refund)
                    return refund
            else:
                payment = await repo.get_payment(conn, cmd.payment_id, lock=True, param="payment")
                take = payment.reserve_refund(cmd.amount)
                refund = Refund(
                    id=refund_id,
                    payment_id=payment.id,
                    amount=take,
                    currency=payment.currency,
                    status=RefundStatus.PENDING,
                    reason=cmd.reason,
                    metadata=cmd.metadata,
                    created_at=now,
                    updated_at=now,
                )
                payment.updated_at = now
                await repo.save_payment(conn, payment)
                await repo.insert_refund(conn, refund)
                await recorders.refund_created(conn, refund)
        gateway = self._gateway(payment.gateway)
        await self.ledger.warm(self.db, accounts_for(gateway.name, payment.currency))
        try:
            result: GatewayResult | None = await gateway.refund(
                payment.gateway_reference or payment.id,
                Money(refund.amount, refund.currency),
                idempotency_key=refund.id,
            )
        except GatewayError:
            result = None  # stays pending, its amount reserved, until an answer comes
        async with self.db.transaction() as conn:
            if result is not None and result.outcome in (
                Outcome.REFUNDED,
                Outcome.DECLINED,
                Outcome.FAILED,
            ):
                succeeded = result.outcome is Outcome.REFUNDED
                payment = await repo.get_payment(conn, refund.payment_id, lock=True)
                payment.settle_refund(refund.amount, succeeded)
                payment.updated_at = refund.updated_at = self.clock()
                refund.gateway_reference = result.reference
                if succeeded:
                    refund.status = RefundStatus.SUCCEEDED
                else:
                    refund.status = RefundStatus.FAILED
                    refund.failure_code = result.failure_code
                    refund.failure_message = result.failure_message
                await repo.save_payment(conn, payment)
                await repo.save_refund(conn, refund)
                await idem.complete(conn, refund)
                await recorders.refund_settled(conn, refund)
                if succeeded:
                    await self.ledger.post(
                        conn, refund_entry(payment, refund), at=refund.updated_at
                    )
            else:
                await idem.complete(conn, refund)
        return refund

    # -- reads ----------------------------------------------------------------------

    async def get(self, payment_id: str) -> Payment:
        async with self.db.transaction() as conn:
            return await repo.get_payment(conn, payment_id)

    async def list(
        self, filters: repo.PaymentFilter, *, limit: int, starting_after: str | None
    ) -> tuple[list[Payment], bool]:
        async with self.db.transaction() as conn:
            return await repo.list_payments(
                conn, filters, limit=limit, starting_after=starting_after
            )

    async def get_refund(self, refund_id: str) -> Refund:
        async with self.db.transaction() as conn:
            return await repo.get_refund(conn, refund_id)
