"""The payment service: each use case as one function over short transactions.

A gateway call never runs inside a database transaction (it may take seconds), so each
money-moving use case is two transactions around the call:

1. claim the idempotency key, check the rules, record the intent (a payment in
   ``processing``, a refund reservation) and commit;
2. call the gateway with an idempotency key derived from our own id;
3. record the answer: new status, ledger entry, balances and the idempotent response,
   all in one commit. The write is a compare-and-set on the status it started from:
   if an inbound webhook settled the payment meanwhile, the webhook's answer stands
   and is what this request returns (so nothing is posted twice).

If the process dies between 1 and 3, the payment stays ``processing`` (never guessed);
a retry with the same Idempotency-Key takes over the abandoned claim and resumes it, at
the gateway it was first sent to (stored in step 1) with the same gateway key.

Which gateway: a request may name one (``gateway``); otherwise the router picks among
the gateways configured for the payment's currency and method that accept its payment
method (:func:`~paystead.gateways.fallback.authorize_with_fallback`: success-rate
routing, one fallback on a retryable failure). Every attempt is kept on the payment as
``attempts``.

With an OpenFeature client (``features``), three flags decide per payment the routing
strategy, the retry policy and the fraud screening mode (:mod:`paystead.payments.flags`);
each attempt records them as ``flags``. Screening (:mod:`paystead.risk`) runs in the
transaction that moves the payment to ``processing``, before any gateway call: its
assessment is stored there, and in ``enforce`` mode a ``block`` fails the payment
(``fraud_suspected``) in that same transaction, so no gateway is called and the ledger
is untouched. Without a client the payment path is exactly as described above.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from openfeature.client import OpenFeatureClient
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.customers import repository as customers
from paystead.errors import (
    GatewayError,
    GatewayTransient,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from paystead.events import catalog, recorders
from paystead.gateways.base import (
    AuthorizeRequest,
    CompletesActions,
    Gateway,
    GatewayOutcomeUnknown,
    GatewayResult,
    Outcome,
)
from paystead.gateways.fallback import UNSETTLED, authorize_with_fallback
from paystead.gateways.routing import Router, RoutingDecision, RoutingTable, payment_method_family
from paystead.ids import new_id
from paystead.ledger.store import LedgerStore
from paystead.money import Money
from paystead.payments import flags as path_flags
from paystead.payments import repository as repo
from paystead.payments.accounting import accounts_for, capture_entry, refund_entry
from paystead.payments.model import (
    CaptureMethod,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from paystead.payments.settle import FAILURES, SUCCESSES, apply_authorization, apply_completion
from paystead.platform.batch import Batch
from paystead.platform.db import Database
from paystead.platform.idempotency import Idempotency, Lookup, NoIdempotency
from paystead.risk import store as risk_store
from paystead.risk.config import RiskConfig
from paystead.risk.rules import Mode
from paystead.risk.screening import FRAUD_SUSPECTED, Assessment, Screener, payment_facts

log = logging.getLogger(__name__)


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


def certainly_not_acted(error: GatewayError | None) -> bool:
    """A failure to get an answer that proves the gateway did nothing (connection
    refused, 429, 503, an open circuit): safe to report as a failure."""
    return isinstance(error, GatewayTransient) and not isinstance(error, GatewayOutcomeUnknown)


class PaymentService:
    def __init__(
        self,
        db: Database,
        gateways: Mapping[str, Gateway],
        ledger: LedgerStore,
        *,
        router: Router | None = None,
        default_gateway: str = "sandbox",
        clock: Callable[[], datetime] = utcnow,
        features: OpenFeatureClient | None = None,
        screener: Screener | None = None,
    ):
        self.db = db
        self.gateways = gateways
        self.ledger = ledger
        if router is None:
            default = (default_gateway,) if default_gateway in gateways else tuple(gateways)
            router = Router(RoutingTable(default=default), exploration=0.0)
        self.router = router
        self.clock = clock
        #: Flags for the payment path; ``None``: today's behaviour, no screening.
        self.features = features
        if screener is None and features is not None:
            screener = Screener(RiskConfig())
        self.screener = screener

    def _gateway(self, name: str | None) -> Gateway:
        gateway = self.gateways.get(name) if name is not None else None
        if gateway is None:
            raise InvalidInput(
                f"gateway {name!r} is not enabled", code="gateway_invalid", param="gateway"
            )
        return gateway

    def _refusing(self, payment_method: str, currency: str, method: str) -> tuple[str, ...]:
        """The candidates for this payment that refuse its payment method; raises the
        first refusal when every candidate refuses (so the error names the method)."""
        candidates = self.router.table.candidates(currency, method)
        refusing: list[str] = []
        first_error: InvalidInput | None = None
        for name in candidates:
            gateway = self.gateways.get(name)
            if gateway is None:
                refusing.append(name)
                continue
            try:
                gateway.check_payment_method(payment_method)
            except InvalidInput as exc:
                refusing.append(name)
                first_error = first_error or exc
        if len(refusing) == len(candidates):
            raise first_error or InvalidInput(
                f"no gateway is enabled for {currency} payments by {method}",
                code="gateway_unavailable_for_payment",
                param="currency",
            )
        return tuple(refusing)

    def _route(
        self,
        payment: Payment,
        refusing: Iterable[str],
        flags: path_flags.PathFlags = path_flags.TODAY,
    ) -> RoutingDecision:
        """The first gateway for ``payment`` (stored before the call, see the module doc)."""
        return self.router.choose(
            payment.currency,
            payment_method_family(payment.payment_method),
            amount=payment.money,
            forced=payment.gateway if payment.gateway_forced else None,
            unsupported=refusing,
            strategy=flags.routing_strategy,
        )

    # -- flags and fraud screening ----------------------------------------------------

    def _flags(self, payment: Payment) -> path_flags.PathFlags:
        if self.features is None:
            return path_flags.TODAY
        return path_flags.evaluate(self.features, payment)

    def _screening(self, flags: path_flags.PathFlags) -> Screener | None:
        """The screener when ``flags`` ask for screening."""
        return self.screener if flags.fraud_screening is not Mode.OFF else None

    async def _customer_email(
        self, conn: AsyncConnection, customer_id: str | None, screening: bool
    ) -> str | None:
        """Checks the customer exists; with screening, the same one statement also
        reads the email the rules look at."""
        if customer_id is None:
            return None
        if screening:
            return await risk_store.customer_email(conn, customer_id, param="customer")
        await customers.ensure_exists(conn, customer_id, param="customer")
        return None

    @staticmethod
    async def _customer_lookup(
        conn: AsyncConnection, lookup: Lookup | None, screening: bool
    ) -> str | None:
        """:meth:`_customer_email` for a lookup that rode with the idempotency claim."""
        if lookup is None:
            return None
        email = await lookup.run(conn)  # a no-op when the claim read it
        if email is None:
            raise NotFound("customer", lookup.params["b_id"], param="customer")
        return str(email) if screening else None

    async def _screen(
        self,
        conn: AsyncConnection | Batch,
        screener: Screener,
        payment: Payment,
        mode: Mode,
        email: str | None,
    ) -> Assessment:
        """Assess ``payment`` (now ``processing``) and store the assessment; a block in
        ``enforce`` mode fails the payment here (the caller saves it)."""
        facts = payment_facts(
            payment_id=payment.id,
            amount=payment.amount,
            currency=payment.currency,
            payment_method=payment.payment_method,
            customer_id=payment.customer_id,
            metadata=payment.metadata,
            email=email,
            config=screener.config,
        )
        assessment = await screener.screen(facts, mode, self.clock())
        await risk_store.insert(conn, assessment)
        if assessment.blocks:
            payment.failed(FRAUD_SUSPECTED, "The payment was blocked by fraud screening.")
        return assessment

    # -- create and confirm ---------------------------------------------------------

    async def create(self, cmd: CreatePayment, idem: Idempotency = _NO_IDEMPOTENCY) -> Payment:
        if cmd.amount.amount <= 0:
            raise InvalidInput("amount must be positive", code="amount_invalid", param="amount")
        method = payment_method_family(cmd.payment_method)
        refusing: tuple[str, ...] = ()
        if cmd.gateway is not None:
            self._gateway(cmd.gateway).check_payment_method(cmd.payment_method)
            allowed = self.router.table.allowed(cmd.amount.currency, method)
            if allowed is not None and cmd.gateway not in allowed:
                raise InvalidInput(
                    f"gateway {cmd.gateway!r} is not allowed for {cmd.amount.currency} "
                    f"payments by {method} (allowed: {', '.join(allowed)})",
                    code="gateway_not_allowed",
                    param="gateway",
                )
            provisional = cmd.gateway
        else:
            refusing = self._refusing(cmd.payment_method, cmd.amount.currency, method)
            provisional = next(
                name
                for name in self.router.table.candidates(cmd.amount.currency, method)
                if name not in refusing
            )
        now = self.clock()
        payment = Payment(
            id=new_id("pay"),
            amount=cmd.amount.amount,
            currency=cmd.amount.currency,
            payment_method=cmd.payment_method,
            capture_method=cmd.capture_method,
            status=PaymentStatus.REQUIRES_CONFIRMATION,
            gateway=provisional,
            gateway_forced=cmd.gateway is not None,
            customer_id=cmd.customer_id,
            description=cmd.description,
            metadata=cmd.metadata,
            created_at=now,
            updated_at=now,
        )
        flags = self._flags(payment) if cmd.confirm else path_flags.TODAY
        first = self._route(payment, refusing, flags) if cmd.confirm else None
        screener = self._screening(flags) if cmd.confirm else None
        assessment: Assessment | None = None
        # The customer's existence (and email) is read with the claim: one round trip.
        lookup = None if cmd.customer_id is None else risk_store.email_lookup(cmd.customer_id)
        async with self.db.transaction() as conn:
            resumed = await idem.begin(conn, payment.id, also=lookup)
            if resumed is not None:
                payment = await repo.get_payment(conn, resumed)
                flags = self._flags(payment)
                first = self._resumed(payment)
            else:
                email = await self._customer_lookup(conn, lookup, screener is not None)
                if first is not None:
                    payment.gateway = first.gateway
                    payment.start_confirmation()
                # The payment, its event and its assessment in one round trip
                # (PostgreSQL); each row is taken as the payment is now.
                batch = Batch()
                await repo.insert_payment(batch, payment)
                await recorders.payment_created(batch, payment)
                if screener is not None:
                    before = recorders.snapshot(payment)
                    assessment = await self._screen(
                        batch, screener, payment, flags.fraud_screening, email
                    )
                await batch.execute(conn)
                if assessment is not None and assessment.blocks:
                    await repo.save_payment(conn, payment)
                    await recorders.payment_changed(conn, payment, before)
            done = payment.status is not PaymentStatus.PROCESSING or first is None
            if done:
                await idem.complete(conn, payment)
        if screener is not None and assessment is not None:
            await screener.payment_recorded(assessment.facts)
        if done or first is None:
            return payment
        return await self._authorize(payment, idem, first, refusing, flags)

    def _resumed(self, payment: Payment) -> RoutingDecision:
        """A payment whose process died mid-authorization goes back to its gateway."""
        self._gateway(payment.gateway)  # still enabled, or 422 (nothing changes)
        decision = self.router.choose(
            payment.currency,
            payment_method_family(payment.payment_method),
            amount=payment.money,
            forced=payment.gateway,
        )
        return decision if payment.gateway_forced else replace(decision, reason="resumed")

    async def confirm(
        self,
        payment_id: str,
        idem: Idempotency = _NO_IDEMPOTENCY,
        params: Mapping[str, str] | None = None,
    ) -> Payment:
        """Confirm a ``requires_confirmation`` payment (routed now), or complete a
        payment waiting for its customer: with ``params`` (Razorpay Checkout's answer),
        or without (Stripe, after 3-D Secure: the gateway is asked how it went)."""
        if params or (await self.get(payment_id)).status is PaymentStatus.REQUIRES_ACTION:
            return await self._complete_action(payment_id, params or {}, idem)
        async with self.db.transaction() as conn:
            await idem.begin(conn, payment_id)
            payment = await repo.get_payment(conn, payment_id, lock=True)
            before = recorders.snapshot(payment)
            payment.start_confirmation()
            refusing: tuple[str, ...] = ()
            if not payment.gateway_forced:
                method = payment_method_family(payment.payment_method)
                refusing = self._refusing(payment.payment_method, payment.currency, method)
            flags = self._flags(payment)
            first = self._route(payment, refusing, flags)
            payment.gateway = first.gateway
            payment.updated_at = self.clock()
            screener = self._screening(flags)
            assessment: Assessment | None = None
            if screener is not None:
                email = await self._customer_email(conn, payment.customer_id, screening=True)
                assessment = await self._screen(
                    conn, screener, payment, flags.fraud_screening, email
                )
            await repo.save_payment(conn, payment)
            await recorders.payment_changed(conn, payment, before)
            if assessment is not None and assessment.blocks:
                await idem.complete(conn, payment)
        if screener is not None and assessment is not None:
            await screener.payment_recorded(assessment.facts)
            if assessment.blocks:
                return payment
        return await self._authorize(payment, idem, first, refusing, flags)

    async def _authorize(
        self,
        payment: Payment,
        idem: Idempotency,
        first: RoutingDecision,
        refusing: Iterable[str] = (),
        flags: path_flags.PathFlags = path_flags.TODAY,
    ) -> Payment:
        request = AuthorizeRequest(
            amount=payment.money,
            payment_method=payment.payment_method,
            capture=payment.capture_method is CaptureMethod.AUTOMATIC,
            idempotency_key=f"{payment.id}:authorize",
            description=payment.description,
            metadata={"paystead_payment_id": payment.id},
        )
        routed = await authorize_with_fallback(
            self.router,
            self.gateways,
            request,
            method=first.method,
            forced=payment.gateway if payment.gateway_forced else None,
            unsupported=refusing,
            first=first,
            strategy=flags.routing_strategy,
            max_attempts=flags.max_attempts,
        )
        before = recorders.snapshot(payment)
        offset = len(payment.attempts)
        if flags.evaluated:
            recorded = flags.to_dict()
            payment.attempts = [
                *payment.attempts,
                *(
                    {**a.to_dict(), "number": offset + a.number, "flags": recorded}
                    for a in routed.attempts
                ),
            ]
        else:
            payment.attempts = [
                *payment.attempts,
                *({**a.to_dict(), "number": offset + a.number} for a in routed.attempts),
            ]
        payment.gateway = routed.gateway
        entry = None
        if routed.result is not None:
            entry = apply_authorization(payment, routed.result)
        elif certainly_not_acted(routed.error):
            assert routed.error is not None
            payment.failed(routed.error.code, routed.error.detail)
        # else: no answer; the payment stays processing until a fetch or webhook settles it
        screener = self._screening(flags)
        if (
            screener is not None
            and payment.customer_id is not None
            and payment.status is PaymentStatus.FAILED
        ):
            await screener.payment_failed(payment.customer_id, payment.id)
        payment.updated_at = self.clock()
        await self.ledger.warm(self.db, accounts_for(payment.gateway, payment.currency))
        async with self.db.transaction() as conn:
            # The compare-and-set, the entry, the response and the event in one round
            # trip (PostgreSQL): the rest only if the payment was still processing. The
            # outbox event last in the batch (telemetry reads its parameters).
            batch = Batch()
            repo.save_payment_if(batch, payment, PaymentStatus.PROCESSING)
            staged = None
            if entry is not None:
                staged = await self.ledger.stage(conn, entry, batch, at=payment.updated_at)
            await idem.complete(batch, payment)
            await recorders.payment_changed(batch, payment, before)
            if not await batch.execute(conn):
                return await self._settled_meanwhile(conn, payment.id, idem)
            if staged is not None:
                await self.ledger.apply(conn, staged)  # last: hot rows
        return payment

    @staticmethod
    async def _settled_meanwhile(
        conn: AsyncConnection, payment_id: str, idem: Idempotency
    ) -> Payment:
        """Someone (an inbound webhook) settled the payment while we waited for the
        gateway: their answer stands, and is what this request returns."""
        current = await repo.get_payment(conn, payment_id)
        await idem.complete(conn, current)
        return current

    # -- customer actions (Razorpay Checkout) ------------------------------------------

    async def _complete_action(
        self, payment_id: str, params: Mapping[str, str], idem: Idempotency
    ) -> Payment:
        """Finish a payment with what the customer's checkout returned.

        Forged values are refused before anything changes (the signature is checked in
        the first transaction, which a refusal rolls back with its idempotency claim).
        """
        async with self.db.transaction() as conn:
            await idem.begin(conn, payment_id)
            payment = await repo.get_payment(conn, payment_id, lock=True)
            gateway = self._gateway(payment.gateway)
            if not isinstance(gateway, CompletesActions) or payment.status not in (
                PaymentStatus.REQUIRES_ACTION,
                PaymentStatus.REQUIRES_CAPTURE,
                PaymentStatus.PROCESSING,
                PaymentStatus.SUCCEEDED,
            ):
                raise IllegalTransition(
                    f"a {payment.gateway} payment in status {payment.status.value!r} has no "
                    "customer action to complete",
                    code="payment_confirm_not_allowed",
                )
            reference = payment.order_reference or payment.gateway_reference
            if reference is None or payment.capture_in_flight:
                raise IllegalTransition(
                    "this payment has no customer action to complete",
                    code="payment_confirm_not_allowed",
                )
            gateway.check_action(reference, params)
            automatic = payment.capture_method is CaptureMethod.AUTOMATIC
            if payment.status is PaymentStatus.SUCCEEDED or (
                payment.status is PaymentStatus.REQUIRES_CAPTURE and not automatic
            ):
                await idem.complete(conn, payment)  # already done (a webhook was faster)
                return payment
        await self.ledger.warm(self.db, accounts_for(payment.gateway, payment.currency))
        try:
            return await self.settle_action(
                payment,
                lambda: gateway.complete_action(
                    reference,
                    payment.money,
                    params,
                    capture=automatic,
                    idempotency_key=f"{payment.id}:confirm",
                ),
                idem,
            )
        except (InvalidInput, IllegalTransition, GatewayError, NotImplementedError):
            async with self.db.transaction() as conn:
                await idem.release(conn)
            raise

    async def settle_action(
        self,
        seen: Payment,
        call: Callable[[], Awaitable[GatewayResult]],
        idem: Idempotency = _NO_IDEMPOTENCY,
    ) -> Payment:
        """Run ``call`` (completing the customer's action at the gateway) and record its
        answer on the payment, if the payment is still where ``seen`` left it.

        No answer at all (``GatewayOutcomeUnknown``) moves the payment to ``processing``
        until a webhook settles it; any other error is raised with nothing changed.
        """
        try:
            result: GatewayResult | None = await call()
        except GatewayOutcomeUnknown:
            result = None
        async with self.db.transaction() as conn:
            payment = await repo.get_payment(conn, seen.id, lock=True)
            if payment.status is not seen.status:
                await idem.complete(conn, payment)
                return payment
            before = recorders.snapshot(payment)
            entry = None
            if result is not None:
                entry = apply_completion(payment, result)
                self.learn(payment, result.outcome)
            elif payment.status is PaymentStatus.REQUIRES_ACTION:
                payment.start_action_completion()
            payment.updated_at = self.clock()
            await repo.save_payment(conn, payment)
            await idem.complete(conn, payment)
            await recorders.payment_changed(conn, payment, before)
            if entry is not None:
                await self.ledger.post(conn, entry, at=payment.updated_at)
        return payment

    def learn(self, payment: Payment, outcome: Outcome) -> None:
        """Routing evidence for an authorization that settled after its first answer
        (Checkout, a webhook): recorded once, when its last attempt was still open."""
        if outcome not in SUCCESSES and outcome not in FAILURES:
            return
        last = payment.attempts[-1] if payment.attempts else None
        if last is None or "settled" in last:
            return
        if last.get("outcome") is not None and last["outcome"] not in UNSETTLED:
            return  # a final first answer: authorize_with_fallback counted it already
        last["settled"] = str(outcome)  # the attempt's final answer, counted once
        decision = last.get("decision") or {}
        self.router.record(
            payment.gateway,
            payment.currency,
            str(decision.get("method") or payment_method_family(payment.payment_method)),
            success=outcome in SUCCESSES,
        )

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
        error: GatewayError | None = None
        try:
            result: GatewayResult | None = await gateway.capture(
                payment.gateway_reference or payment.id,
                Money(take, payment.currency),
                idempotency_key=f"{payment.id}:capture",
            )
        except GatewayError as exc:
            result, error = None, exc
        entry = None
        before = recorders.snapshot(payment)
        if result is not None and result.outcome is Outcome.CAPTURED:
            payment.captured(take, result.reference)
            entry = capture_entry(payment, take, result.fee)
        elif result is not None and result.outcome in FAILURES:
            payment.capture_failed(result.failure_code, result.failure_message)
        elif certainly_not_acted(error):
            assert error is not None
            payment.capture_failed(error.code, error.detail)
        payment.updated_at = self.clock()
        async with self.db.transaction() as conn:
            if not await repo.save_payment(conn, payment, if_status=PaymentStatus.PROCESSING):
                return await self._settled_meanwhile(conn, payment.id, idem)
            await idem.complete(conn, payment)
            await recorders.payment_changed(
                conn, payment, before, back_to_requires_capture=catalog.PAYMENT_CAPTURE_FAILED
            )
            if entry is not None:
                await self.ledger.post(conn, entry, at=payment.updated_at)  # last: hot rows
        return payment

    async def cancel(self, payment_id: str, idem: Idempotency = _NO_IDEMPOTENCY) -> Payment:
        """Cancel before capture; an authorization is voided at the gateway first, outside
        any transaction. A gateway that cannot void (Razorpay) answers 409, nothing changed."""
        async with self.db.transaction() as conn:
            await idem.begin(conn, payment_id)
            payment = await repo.get_payment(conn, payment_id, lock=True)
            if payment.status is not PaymentStatus.REQUIRES_CAPTURE:
                before = recorders.snapshot(payment)
                payment.cancel()
                payment.updated_at = self.clock()
                await repo.save_payment(conn, payment)
                await idem.complete(conn, payment)
                await recorders.payment_changed(conn, payment, before)
                return payment
        gateway = self._gateway(payment.gateway)
        try:
            result = await gateway.void(
                payment.gateway_reference or payment.id, idempotency_key=f"{payment.id}:void"
            )
            if result.outcome is not Outcome.VOIDED:
                raise IllegalTransition(
                    f"the gateway refused to void: {result.failure_message}",
                    code="gateway_void_failed",
                )
        except NotImplementedError as exc:
            async with self.db.transaction() as conn:
                await idem.release(conn)
            raise IllegalTransition(
                f"{gateway.name} cannot cancel an authorized payment ({exc}); capture it or "
                "let the authorization lapse",
                code="payment_cancel_unsupported",
            ) from exc
        except (IllegalTransition, GatewayError):
            async with self.db.transaction() as conn:
                await idem.release(conn)
            raise
        async with self.db.transaction() as conn:
            payment = await repo.get_payment(conn, payment_id, lock=True)
            before = recorders.snapshot(payment)
            if payment.status is PaymentStatus.REQUIRES_CAPTURE:
                payment.cancel()
                payment.updated_at = self.clock()
                await repo.save_payment(conn, payment)
                await recorders.payment_changed(conn, payment, before)
            await idem.complete(conn, payment)
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
        error: GatewayError | None = None
        try:
            result: GatewayResult | None = await gateway.refund(
                payment.gateway_reference or payment.id,
                Money(refund.amount, refund.currency),
                idempotency_key=refund.id,
            )
        except GatewayError as exc:
            result, error = None, exc  # unknown: stays pending, reserved, until an answer
        if result is None and certainly_not_acted(error):
            assert error is not None
            result = GatewayResult(
                Outcome.FAILED, failure_code=error.code, failure_message=error.detail
            )
        async with self.db.transaction() as conn:
            if result is None or result.outcome not in (Outcome.REFUNDED, *FAILURES):
                refund.gateway_reference = (
                    result.reference if result is not None else None
                ) or refund.gateway_reference
                if not await repo.save_refund(conn, refund, if_status=RefundStatus.PENDING):
                    refund = await repo.get_refund(conn, refund.id)  # a webhook settled it
                await idem.complete(conn, refund)
                return refund
            return await self.settle_refund(conn, refund, result, idem)

    async def settle_refund(
        self,
        conn: AsyncConnection,
        refund: Refund,
        result: GatewayResult,
        idem: Idempotency = _NO_IDEMPOTENCY,
    ) -> Refund:
        """Record a refund's final answer in the caller's transaction, unless it was
        settled already (by a webhook, or the API call): then the stored one is returned."""
        succeeded = result.outcome is Outcome.REFUNDED
        payment = await repo.get_payment(conn, refund.payment_id, lock=True)  # first: lock order
        refund.status = RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED
        refund.gateway_reference = result.reference or refund.gateway_reference
        if not succeeded:
            refund.failure_code = result.failure_code
            refund.failure_message = result.failure_message
        refund.updated_at = payment.updated_at = self.clock()
        if not await repo.save_refund(conn, refund, if_status=RefundStatus.PENDING):
            current = await repo.get_refund(conn, refund.id)
            await idem.complete(conn, current)
            return current
        payment.settle_refund(refund.amount, succeeded)
        await repo.save_payment(conn, payment)
        await idem.complete(conn, refund)
        await recorders.refund_settled(conn, refund)
        if succeeded:
            await self.ledger.post(conn, refund_entry(payment, refund), at=refund.updated_at)
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
