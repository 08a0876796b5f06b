"""The composition root: builds every service from :class:`~paystead.config.Settings`.

The API, the CLI and the tests all get their services here, so there is one place
where a database, a gateway or a clock is chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from paystead.config import Settings
from paystead.customers.service import CustomerService
from paystead.gateways.base import Gateway
from paystead.gateways.sandbox import SandboxGateway
from paystead.ledger.store import LedgerStore
from paystead.payments.service import PaymentService, utcnow
from paystead.platform.apikeys import ApiKeyVerifier
from paystead.platform.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    ledger: LedgerStore
    payments: PaymentService
    customers: CustomerService
    api_keys: ApiKeyVerifier
    clock: Callable[[], datetime]

    async def close(self) -> None:
        await self.db.dispose()


def build_gateways(settings: Settings) -> dict[str, Gateway]:
    sandbox = SandboxGateway(
        latency_ms=settings.sandbox_latency_ms,
        failure_rate=settings.sandbox_failure_rate,
        seed=settings.sandbox_seed,
        delay_ms=settings.sandbox_delay_ms,
        fee_percent=Decimal(settings.sandbox_fee_percent),
    )
    return {sandbox.name: sandbox}


def build_services(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    gateways: dict[str, Gateway] | None = None,
) -> Services:
    db = Database.from_settings(settings)
    ledger = LedgerStore()
    return Services(
        settings=settings,
        db=db,
        ledger=ledger,
        payments=PaymentService(db, gateways or build_gateways(settings), ledger, clock=clock),
        customers=CustomerService(db, clock),
        api_keys=ApiKeyVerifier(db, settings.api_key_cache_seconds),
        clock=clock,
    )
