"""The Razorpay connector: ``client`` (HTTP), ``transformers`` (pure mapping),
``webhooks`` and ``checkout`` (signatures), ``gateway`` (the interface)."""

from paystead.gateways.razorpay.client import DEFAULT_API_URL, RazorpayAPIError, RazorpayClient
from paystead.gateways.razorpay.gateway import PAYMENT_METHODS, RazorpayGateway

__all__ = [
    "DEFAULT_API_URL",
    "PAYMENT_METHODS",
    "RazorpayAPIError",
    "RazorpayClient",
    "RazorpayGateway",
]
