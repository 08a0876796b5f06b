"""The one exception tree of paystead.

Every error the domain raises on purpose derives from :class:`PaysteadError` and carries
a stable machine-readable ``code`` (and ``param`` when one input field is to blame).
Domain errors know nothing of HTTP; ``paystead.api.problems`` maps each family to a
status code and renders RFC 9457 problem details.

    PaysteadError
    ├── InvalidInput            a value is wrong on its face          -> 422
    │   ├── InvalidAmount
    │   ├── UnknownCurrency
    │   ├── CurrencyMismatch
    │   ├── (code razorpay_payment_mismatch: Checkout's payment is not for our order)
    │   ├── gateways.events.InvalidSignature       webhook or Checkout signature -> 400
    │   └── gateways.events.InvalidWebhookPayload  not the documented JSON      -> 400
    ├── NotFound                an id that does not exist            -> 404
    ├── Conflict                the object's state forbids the action -> 409
    │   ├── IllegalTransition
    │   ├── AmountExceedsRemaining
    │   └── IdempotencyKeyInUse      a duplicate while the first is in flight
    ├── IdempotencyKeyReused    same key, different request          -> 422
    ├── Unauthenticated         missing or wrong API key             -> 401
    ├── LedgerImbalance         a journal entry that does not sum to zero (a bug)
    └── GatewayError            talking to a payment gateway failed   -> 502
        └── GatewayTransient    the gateway certainly did not act: safe to retry with the
            │                   same key, or fall back to another gateway  -> 503
            ├── gateways.base.GatewayOutcomeUnknown   it may have acted (read timeout,
            │                   500/502/504): retry on the same gateway only -> 502
            ├── gateways.resilience.CircuitOpen       the breaker refused the call
            └── gateways.routing.NoGatewayAvailable   every candidate is open or tried

The gateway-layer classes live beside the code that raises them (``paystead.gateways``
imports this module, never the reverse); ``api/problems.py`` maps them.
"""

from __future__ import annotations


class PaysteadError(Exception):
    code = "error"
    title = "Error"

    def __init__(self, detail: str, *, code: str | None = None, param: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.param = param


class InvalidInput(PaysteadError):
    code = "parameter_invalid"
    title = "Invalid parameter"


class InvalidAmount(InvalidInput):
    code = "amount_invalid"

    def __init__(self, detail: str, *, param: str | None = "amount"):
        super().__init__(detail, param=param)


class UnknownCurrency(InvalidInput):
    code = "currency_invalid"

    def __init__(self, currency: object, *, param: str | None = "currency"):
        super().__init__(f"{currency!r} is not an ISO 4217 currency with minor units", param=param)


class CurrencyMismatch(InvalidInput):
    code = "currency_mismatch"

    def __init__(self, left: str, right: str):
        super().__init__(f"cannot combine {left} with {right}", param="currency")


class NotFound(PaysteadError):
    code = "resource_missing"
    title = "No such object"

    def __init__(self, kind: str, object_id: str, *, param: str | None = None):
        super().__init__(f"no such {kind}: {object_id!r}", param=param)
        self.kind = kind
        self.object_id = object_id


class Conflict(PaysteadError):
    code = "conflict"
    title = "Conflict with the object's state"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class AmountExceedsRemaining(Conflict):
    code = "amount_exceeds_remaining"


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    title = "A request with this idempotency key is still being processed"


class IdempotencyKeyReused(PaysteadError):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"


class Unauthenticated(PaysteadError):
    code = "unauthenticated"
    title = "Authentication required"


class LedgerImbalance(PaysteadError):
    code = "ledger_imbalance"
    title = "Journal entry does not balance"


class GatewayError(PaysteadError):
    code = "gateway_error"
    title = "Payment gateway error"


class GatewayTransient(GatewayError):
    code = "gateway_unavailable"
