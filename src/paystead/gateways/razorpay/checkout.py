"""Razorpay Checkout's callback signature: HMAC-SHA256 of ``order_id|payment_id``.

Checkout runs in the customer's browser and hands the front end
``razorpay_payment_id``, ``razorpay_order_id`` and ``razorpay_signature``. The
signature is the hex HMAC-SHA256 of ``"{order_id}|{payment_id}"`` keyed with the API
**key secret**; verify it against the order id *we stored* (never the one the browser
sends), in constant time, before trusting the payment id.
"""

from __future__ import annotations

import hmac

from paystead.gateways.events import InvalidSignature, hmac_sha256_hex


def checkout_signature(order_id: str, payment_id: str, key_secret: str) -> str:
    return hmac_sha256_hex(key_secret, f"{order_id}|{payment_id}".encode())


def verify_checkout_signature(
    order_id: str, payment_id: str, signature: str, key_secret: str
) -> None:
    """Raise :class:`InvalidSignature` unless ``signature`` is Checkout's for this pair."""
    expected = checkout_signature(order_id, payment_id, key_secret)
    if not signature or not hmac.compare_digest(expected.encode(), signature.encode()):
        raise InvalidSignature(
            "razorpay_signature does not match this order and payment",
            param="razorpay_signature",
        )
