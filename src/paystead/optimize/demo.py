"""The demo's running experiment: routing strategy, set up over the HTTP API.

``paystead simulate`` calls :func:`ensure_routing_experiment` before its traffic (unless
``--no-experiment``): flag ``payments.routing_strategy`` (``thompson`` today,
``lowest_cost`` the challenger) and experiment ``routing-strategy`` splitting them
50/50, started. The payment path evaluates that flag for every payment, so the demo's
own payments fill the results page ``/experiments/routing-strategy``. Anything already
there is left as it is.
"""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger(__name__)

FLAG = "payments.routing_strategy"
EXPERIMENT = "routing-strategy"


async def ensure_routing_experiment(client: httpx.AsyncClient) -> str | None:
    """Create and start the demo experiment if missing; its status, or None if the
    server refused (the traffic runs anyway)."""
    flag = await client.get(f"/v1/flags/{FLAG}")
    if flag.status_code == 404:
        made = await client.post(
            "/v1/flags",
            json={
                "key": FLAG,
                "type": "string",
                "variants": {"thompson": "thompson", "lowest_cost": "lowest_cost"},
                "default": {"variant": "thompson"},
                "reason": "demo: routing strategy experiment",
            },
        )
        if made.status_code != 201:
            log.warning("could not create flag %s: %s", FLAG, made.text)
            return None
    found = await client.get(f"/v1/experiments/{EXPERIMENT}")
    if found.status_code == 404:
        found = await client.post(
            "/v1/experiments",
            json={
                "key": EXPERIMENT,
                "flag_key": FLAG,
                "hypothesis": "Routing to the lowest-cost gateway keeps the payment success "
                "rate while cutting gateway fees",
                "variants": [
                    {"key": "thompson", "weight": 5000},
                    {"key": "lowest_cost", "weight": 5000},
                ],
                "primary_metric": "success_rate",
                "guardrails": ["error_rate", "latency", "average_order_value"],
            },
        )
    if found.status_code not in (200, 201):
        log.warning("could not set up experiment %s: %s", EXPERIMENT, found.text)
        return None
    status = str(found.json()["status"])
    if status == "draft":
        started = await client.post(f"/v1/experiments/{EXPERIMENT}/start")
        if started.status_code != 200:
            log.warning("could not start experiment %s: %s", EXPERIMENT, started.text)
            return None
        status = str(started.json()["status"])
    return status
