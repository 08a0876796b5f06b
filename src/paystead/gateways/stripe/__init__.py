"""The Stripe connector: ``client`` (HTTP), ``transformers`` (pure mapping),
``webhooks`` (signatures), ``gateway`` (the interface)."""

from paystead.gateways.stripe.client import DEFAULT_API_URL, StripeAPIError, StripeClient
from paystead.gateways.stripe.gateway import StripeGateway

__all__ = ["DEFAULT_API_URL", "StripeAPIError", "StripeClient", "StripeGateway"]
