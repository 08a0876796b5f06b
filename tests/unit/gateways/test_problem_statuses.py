"""How the gateway layer's errors leave the API (api/problems.py)."""

from __future__ import annotations

import pytest

from paystead.api.problems import status_for
from paystead.errors import GatewayError, GatewayTransient, InvalidInput, PaysteadError
from paystead.gateways.base import GatewayOutcomeUnknown
from paystead.gateways.events import InvalidSignature, InvalidWebhookPayload
from paystead.gateways.resilience import CircuitOpen
from paystead.gateways.routing import NoGatewayAvailable


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidSignature("forged"), 400),
        (InvalidWebhookPayload("not JSON"), 400),
        (InvalidInput("another order", code="razorpay_payment_mismatch"), 422),
        (GatewayOutcomeUnknown("read timeout", code="gateway_timeout"), 502),
        (CircuitOpen("open", code="gateway_circuit_open"), 503),
        (NoGatewayAvailable("all open"), 503),
        (GatewayTransient("429", code="gateway_rate_limited"), 503),
        (GatewayError("bad key", code="gateway_authentication_failed"), 502),
    ],
)
def test_gateway_errors_map_to_statuses(error: PaysteadError, status: int) -> None:
    assert status_for(error) == status
