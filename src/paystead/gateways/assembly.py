"""Gateways, breakers and the router, built from :class:`~paystead.config.Settings`.

``wiring.py`` (the composition root) calls :func:`build_gateway_stack` once per
process. A gateway whose keys are set is enabled; each enabled gateway is wrapped in a
:class:`~paystead.gateways.resilience.GuardedGateway` with its own breaker, and the
router's default order is the real gateways (Razorpay, then Stripe) or, when none is
configured, the sandbox. The sandbox stays callable by name (``gateway: "sandbox"``)
unless ``PAYSTEAD_SANDBOX_ENABLED=false``, which leaves it out altogether.
``PAYSTEAD_ROUTING_RULES`` restricts and orders the gateways per currency and method.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

import httpx
from pydantic import SecretStr

from paystead.config import Settings
from paystead.gateways.base import Gateway
from paystead.gateways.http import Timeouts
from paystead.gateways.razorpay import RazorpayGateway
from paystead.gateways.resilience import BreakerConfig, CircuitBreaker, GuardedGateway
from paystead.gateways.routing import FeeSchedule, Router, RoutingRule, RoutingTable
from paystead.gateways.sandbox import SandboxGateway
from paystead.gateways.stripe import StripeGateway


@dataclass
class GatewayStack:
    #: Every enabled gateway by name, behind its breaker.
    gateways: dict[str, GuardedGateway]
    breakers: dict[str, CircuitBreaker]
    router: Router
    #: The unguarded connectors, for their extra calls (``RazorpayGateway.confirm``).
    connectors: dict[str, Gateway] = field(default_factory=dict)

    async def aclose(self) -> None:
        for connector in self.connectors.values():
            if isinstance(connector, RazorpayGateway | StripeGateway):
                await connector.aclose()


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def build_connectors(
    settings: Settings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> dict[str, Gateway]:
    """The sandbox (when enabled) and every gateway whose keys are set, unguarded."""
    transports = transports or {}
    timeouts = Timeouts(
        connect=settings.gateway_connect_timeout_seconds,
        read=settings.gateway_read_timeout_seconds,
    )
    connectors: dict[str, Gateway] = {}
    if settings.sandbox_enabled:
        connectors["sandbox"] = SandboxGateway(
            latency_ms=settings.sandbox_latency_ms,
            failure_rate=settings.sandbox_failure_rate,
            seed=settings.sandbox_seed,
            delay_ms=settings.sandbox_delay_ms,
            fee_percent=Decimal(settings.sandbox_fee_percent),
        )
    if settings.razorpay_enabled:
        assert settings.razorpay_key_id is not None
        connectors["razorpay"] = RazorpayGateway(
            key_id=settings.razorpay_key_id,
            key_secret=_secret(settings.razorpay_key_secret),
            api_url=settings.razorpay_api_url,
            timeouts=timeouts,
            refund_speed=settings.razorpay_refund_speed,
            transport=transports.get("razorpay"),
        )
    if settings.stripe_enabled:
        connectors["stripe"] = StripeGateway(
            secret_key=_secret(settings.stripe_secret_key),
            api_url=settings.stripe_api_url,
            timeouts=timeouts,
            transport=transports.get("stripe"),
        )
    return connectors


class RoutingConfigError(ValueError):
    """``PAYSTEAD_ROUTING_RULES`` names a gateway that is not enabled (fails startup)."""


def routing_rules(settings: Settings, enabled: Collection[str]) -> tuple[RoutingRule, ...]:
    """``PAYSTEAD_ROUTING_RULES`` as routing rules, every name checked against the
    enabled gateways (a typo or a gateway without keys fails startup, loudly)."""
    rules = []
    for index, rule in enumerate(settings.routing_rules):
        unknown = [name for name in rule.gateways if name not in enabled]
        if unknown:
            raise RoutingConfigError(
                f"PAYSTEAD_ROUTING_RULES[{index}] ({rule.currency}/{rule.method}) names "
                f"{', '.join(repr(n) for n in unknown)}, not an enabled gateway "
                f"(enabled: {', '.join(sorted(enabled)) or 'none'})"
            )
        rules.append(RoutingRule(rule.currency, rule.method, tuple(rule.gateways)))
    return tuple(rules)


def build_gateway_stack(
    settings: Settings,
    *,
    table: RoutingTable | None = None,
    connectors: dict[str, Gateway] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> GatewayStack:
    connectors = connectors if connectors is not None else build_connectors(settings)
    config = BreakerConfig(
        failure_threshold=settings.breaker_failure_threshold,
        failure_ratio=settings.breaker_failure_ratio,
        window_seconds=settings.breaker_window_seconds,
        cooldown_seconds=settings.breaker_cooldown_seconds,
        half_open_probes=settings.breaker_half_open_probes,
    )
    breakers = {name: CircuitBreaker(name, config, clock=clock) for name in connectors}
    guarded = {name: GuardedGateway(gw, breakers[name]) for name, gw in connectors.items()}
    real = tuple(name for name in ("razorpay", "stripe") if name in connectors)
    fallback = tuple(name for name in connectors if name not in real)
    rules = routing_rules(settings, connectors)
    if table is None:
        table = RoutingTable(default=real or fallback, rules=rules)
    elif rules:
        table = replace(table, rules=rules)
    router = Router(
        table,
        breakers=breakers,
        fees=FeeSchedule.from_settings(settings.gateway_fee_percent, settings.gateway_fee_fixed),
        window_seconds=settings.routing_window_seconds,
        exploration=settings.routing_exploration,
        cost_tie_margin=settings.routing_cost_tie_margin,
        rng=random.Random(settings.routing_seed),
        clock=clock,
    )
    return GatewayStack(guarded, breakers, router, dict(connectors))
