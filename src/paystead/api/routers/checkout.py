"""/checkout/{payment_id}: a tiny page that opens Razorpay Checkout for a payment.

Give the customer the link; the page loads ``checkout.js`` from Razorpay's CDN, opens
Checkout on the order we created (key id and order id are public by design), and posts
Checkout's answer to ``/checkout/{payment_id}/confirm``. That endpoint takes no API key:
what authenticates it is Razorpay's signature over our stored order id and the payment
id (only Razorpay, holding our key secret's counterpart, can produce it), checked
exactly as ``POST /v1/payments/{id}/confirm`` checks it. It answers with the payment's
status only. Payment ids are 128-bit ULIDs, so the page cannot be found by guessing.
"""

from __future__ import annotations

import html
import json
from typing import Literal

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from paystead.api.deps import ServicesDep
from paystead.api.schemas import ConfirmRequest, Output
from paystead.errors import InvalidInput
from paystead.money import Money
from paystead.payments.model import PaymentStatus

router = APIRouter(prefix="/checkout", tags=["checkout"], include_in_schema=False)

CHECKOUT_JS = "https://checkout.razorpay.com/v1/checkout.js"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pay {amount} to {merchant}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; }}
button {{ font-size: 1.1rem; padding: .6rem 1.6rem; cursor: pointer; }}
#status {{ margin-top: 1rem; }}
</style>
</head>
<body>
<main>
<h1>{merchant}</h1>
<p>{description}</p>
<p><strong>{amount}</strong></p>
<button id="pay" type="button">Pay</button>
<p id="status" role="status"></p>
</main>
<script src="{checkout_js}"></script>
<script>
const options = {options};
const status = document.getElementById("status");
options.handler = async function (answer) {{
  status.textContent = "Confirming…";
  const response = await fetch({confirm_url}, {{
    method: "POST",
    headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{
      razorpay_payment_id: answer.razorpay_payment_id,
      razorpay_order_id: answer.razorpay_order_id,
      razorpay_signature: answer.razorpay_signature
    }})
  }});
  const body = await response.json();
  status.textContent = response.ok
    ? "Payment " + body.status.replace("_", " ") + "."
    : (body.detail || "The payment could not be confirmed.");
  if (response.ok && body.status !== "requires_action") {{
    document.getElementById("pay").disabled = true;
  }}
}};
document.getElementById("pay").addEventListener("click", function () {{
  const checkout = new Razorpay(options);
  checkout.on("payment.failed", function (failure) {{
    status.textContent = failure.error.description || "The payment failed; try again.";
  }});
  checkout.open();
}});
</script>
</body>
</html>
"""

_DONE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{merchant}</title></head>
<body><main><h1>{merchant}</h1><p>Payment status: {status}.</p></main></body></html>
"""


def _js(value: object) -> str:
    """A JSON literal safe inside a ``<script>`` element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@router.get("/{payment_id}", response_class=HTMLResponse)
async def checkout_page(payment_id: str, services: ServicesDep) -> HTMLResponse:
    payment = await services.payments.get(payment_id)
    merchant = html.escape(services.settings.notify_merchant_name)
    action = payment.next_action or {}
    params = action.get("razorpay_checkout")
    if payment.status is not PaymentStatus.REQUIRES_ACTION or not isinstance(params, dict):
        status = html.escape(payment.status.value.replace("_", " "))
        return HTMLResponse(_DONE.format(merchant=merchant, status=status))
    options = {
        "key": params.get("key_id"),
        "amount": params.get("amount"),
        "currency": params.get("currency"),
        "order_id": params.get("order_id"),
        "name": services.settings.notify_merchant_name,
        "description": payment.description or "",
        "notes": {"paystead_payment_id": payment.id},
    }
    if params.get("method"):
        options["method"] = params["method"]
    page = _PAGE.format(
        merchant=merchant,
        description=html.escape(payment.description or ""),
        amount=html.escape(str(Money(payment.amount, payment.currency))),
        checkout_js=CHECKOUT_JS,
        options=_js(options),
        confirm_url=_js(f"/checkout/{payment.id}/confirm"),
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


class CheckoutStatus(Output):
    object: Literal["checkout_status"] = "checkout_status"
    status: PaymentStatus


@router.post("/{payment_id}/confirm", response_model=CheckoutStatus)
async def checkout_confirm(
    payment_id: str, body: ConfirmRequest, services: ServicesDep
) -> CheckoutStatus:
    params = body.action_params()
    if not params:
        raise InvalidInput("razorpay_payment_id is required", param="razorpay_payment_id")
    payment = await services.payments.confirm(payment_id, params=params)
    return CheckoutStatus(status=payment.status)
