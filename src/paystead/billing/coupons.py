"""Coupons, promotion codes and redemptions; the discounts a subscription's period gets.

A :class:`Coupon` is the discount (``percent_off`` or ``amount_off`` + ``currency``;
``duration`` once, repeating for ``duration_in_periods``, or forever; ``redeem_by``,
``max_redemptions``, optionally limited to some products). A :class:`PromotionCode` is
a customer-facing code for a coupon (unique regardless of case, its own expiry, limit
and first-time-only flag). A :class:`Redemption` applies a coupon to one subscription,
once: ``(subscription_id, coupon_id)`` is unique, so a retried redemption returns the
first.

Limits hold under concurrency: ``times_redeemed`` grows only through
``UPDATE ... SET times_redeemed = times_redeemed + 1 WHERE times_redeemed <
max_redemptions`` in the redemption's transaction, so racing redemptions can never pass
the limit (the loser gets 409 ``coupon_max_redemptions`` and its insert rolls back).

``redeem_by``, ``expires_at``, ``active`` and the limits decide whether a coupon can be
*redeemed*; once redeemed it applies for its whole duration (as Stripe does). Periods are
counted by the subscription's period index (0 = first period); a redemption applies from
its ``start_period_index``. The values are in
:mod:`paystead.billing.coupon_model`, the discount math in :mod:`paystead.billing.discounts`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paystead.billing.coupon_model import (
    Coupon,
    Duration,
    PromotionCode,
    Redemption,
    check_terms,
    coupon_object,
    promotion_code_object,
    redemption_object,
)
from paystead.errors import Conflict, InvalidInput, NotFound
from paystead.events import catalog
from paystead.events.outbox import record
from paystead.ids import new_id
from paystead.money import currency as currency_of
from paystead.platform.db import Database, insert_ignoring_conflicts
from paystead.platform.idempotency import Idempotency, NoIdempotency
from paystead.platform.schema import (
    coupon_redemptions,
    coupons,
    customers,
    payments,
    promotion_codes,
)

__all__ = [
    "Coupon",
    "CouponService",
    "Duration",
    "PromotionCode",
    "Redemption",
    "check_terms",
]


def _coupon(row: Any) -> Coupon:
    m = row._mapping
    products = m["applies_to_products"]
    return Coupon(
        id=m["id"],
        name=m["name"],
        percent_off=Decimal(m["percent_off"]) if m["percent_off"] is not None else None,
        amount_off=m["amount_off"],
        currency=m["currency"],
        duration=Duration(m["duration"]),
        duration_in_periods=m["duration_in_periods"],
        redeem_by=m["redeem_by"],
        max_redemptions=m["max_redemptions"],
        times_redeemed=m["times_redeemed"],
        applies_to_products=tuple(products) if products is not None else None,
        created_at=m["created_at"],
    )


def _promotion_code(row: Any) -> PromotionCode:
    m = row._mapping
    return PromotionCode(
        id=m["id"],
        code=m["code"],
        coupon_id=m["coupon_id"],
        active=m["active"],
        expires_at=m["expires_at"],
        max_redemptions=m["max_redemptions"],
        times_redeemed=m["times_redeemed"],
        first_time_transaction=m["first_time_transaction"],
        created_at=m["created_at"],
    )


def _redemption(row: Any) -> Redemption:
    m = row._mapping
    return Redemption(
        id=m["id"],
        coupon_id=m["coupon_id"],
        promotion_code_id=m["promotion_code_id"],
        customer_id=m["customer_id"],
        subscription_id=m["subscription_id"],
        currency=m["currency"],
        start_period_index=m["start_period_index"],
        redeemed_at=m["redeemed_at"],
    )


def _count_up(table: sa.Table) -> sa.Update:
    """``times_redeemed + 1`` unless the limit is reached: the row lock decides races."""
    return (
        table.update()
        .where(
            table.c.id == sa.bindparam("b_id"),
            sa.or_(
                table.c.max_redemptions.is_(None),
                table.c.times_redeemed < table.c.max_redemptions,
            ),
        )
        .values(times_redeemed=table.c.times_redeemed + 1)
    )


_COUNT_UP_COUPON = _count_up(coupons)
_COUNT_UP_PROMOTION_CODE = _count_up(promotion_codes)


class CouponService:
    def __init__(self, db: Database, clock: Callable[[], datetime]):
        self.db = db
        self.clock = clock

    # -- coupons ---------------------------------------------------------------------

    async def create_coupon(
        self,
        *,
        duration: str,
        percent_off: Decimal | str | None = None,
        amount_off: int | None = None,
        currency: str | None = None,
        duration_in_periods: int | None = None,
        redeem_by: datetime | None = None,
        max_redemptions: int | None = None,
        applies_to_products: Sequence[str] | None = None,
        name: str | None = None,
        idem: Idempotency | None = None,
    ) -> Coupon:
        idem = idem or NoIdempotency()
        percent, code, kind = check_terms(
            percent_off=percent_off,
            amount_off=amount_off,
            currency=currency,
            duration=duration,
            duration_in_periods=duration_in_periods,
            max_redemptions=max_redemptions,
        )
        if applies_to_products is not None and not applies_to_products:
            raise InvalidInput(
                "applies_to_products lists at least one product", param="applies_to_products"
            )
        coupon = Coupon(
            id=new_id("coupon"),
            name=name,
            percent_off=percent,
            amount_off=amount_off if percent is None else None,
            currency=code,
            duration=kind,
            duration_in_periods=duration_in_periods,
            redeem_by=redeem_by,
            max_redemptions=max_redemptions,
            applies_to_products=tuple(applies_to_products) if applies_to_products else None,
            created_at=self.clock(),
        )
        async with self.db.transaction() as conn:
            resumed = await idem.begin(conn, coupon.id)
            if resumed is not None:
                coupon = await self._coupon(conn, resumed)
            else:
                await conn.execute(
                    coupons.insert().values(
                        id=coupon.id,
                        name=coupon.name,
                        percent_off=str(percent) if percent is not None else None,
                        amount_off=coupon.amount_off,
                        currency=coupon.currency,
                        duration=coupon.duration.value,
                        duration_in_periods=coupon.duration_in_periods,
                        redeem_by=coupon.redeem_by,
                        max_redemptions=coupon.max_redemptions,
                        times_redeemed=0,
                        applies_to_products=list(coupon.applies_to_products)
                        if coupon.applies_to_products
                        else None,
                        created_at=coupon.created_at,
                    )
                )
                await record(
                    conn, catalog.COUPON_CREATED, coupon_object(coupon), at=coupon.created_at
                )
            await idem.complete(conn, coupon)
        return coupon

    async def get_coupon(self, coupon_id: str) -> Coupon:
        async with self.db.transaction() as conn:
            return await self._coupon(conn, coupon_id)

    async def list_coupons(
        self, *, limit: int = 100, starting_after: str | None = None
    ) -> list[Coupon]:
        query = sa.select(coupons).order_by(coupons.c.id).limit(limit)
        if starting_after is not None:
            query = query.where(coupons.c.id > starting_after)
        async with self.db.transaction() as conn:
            return [_coupon(r) for r in await conn.execute(query)]

    @staticmethod
    async def _coupon(conn: AsyncConnection, coupon_id: str, *, param: str = "coupon") -> Coupon:
        row = (await conn.execute(sa.select(coupons).where(coupons.c.id == coupon_id))).first()
        if row is None:
            raise NotFound("coupon", coupon_id, param=param)
        return _coupon(row)

    # -- promotion codes -------------------------------------------------------------

    async def create_promotion_code(
        self,
        *,
        code: str,
        coupon_id: str,
        active: bool = True,
        expires_at: datetime | None = None,
        max_redemptions: int | None = None,
        first_time_transaction: bool = False,
        idem: Idempotency | None = None,
    ) -> PromotionCode:
        idem = idem or NoIdempotency()
        if max_redemptions is not None and max_redemptions < 1:
            raise InvalidInput("max_redemptions must be at least 1", param="max_redemptions")
        promo = PromotionCode(
            id=new_id("promo"),
            code=code,
            coupon_id=coupon_id,
            active=active,
            expires_at=expires_at,
            max_redemptions=max_redemptions,
            first_time_transaction=first_time_transaction,
            created_at=self.clock(),
        )
        async with self.db.transaction() as conn:
            resumed = await idem.begin(conn, promo.id)
            if resumed is not None:
                promo = await self._promotion_code(conn, id_=resumed)
            else:
                await self._coupon(conn, coupon_id)
                inserted = await conn.execute(
                    insert_ignoring_conflicts(
                        self.db.dialect,
                        promotion_codes,
                        {
                            "id": promo.id,
                            "code": code,
                            "code_key": code.upper(),
                            "coupon_id": coupon_id,
                            "active": active,
                            "expires_at": expires_at,
                            "max_redemptions": max_redemptions,
                            "times_redeemed": 0,
                            "first_time_transaction": first_time_transaction,
                            "created_at": promo.created_at,
                        },
                    ).returning(promotion_codes.c.id)
                )
                if inserted.first() is None:
                    raise Conflict(
                        f"the promotion code {code!r} exists (codes ignore case)",
                        code="promotion_code_taken",
                        param="code",
                    )
                await record(
                    conn,
                    catalog.PROMOTION_CODE_CREATED,
                    promotion_code_object(promo),
                    at=promo.created_at,
                )
            await idem.complete(conn, promo)
        return promo

    async def get_promotion_code(self, promotion_code_id: str) -> PromotionCode:
        async with self.db.transaction() as conn:
            return await self._promotion_code(conn, id_=promotion_code_id)

    async def list_promotion_codes(
        self,
        *,
        code: str | None = None,
        coupon_id: str | None = None,
        limit: int = 100,
        starting_after: str | None = None,
    ) -> list[PromotionCode]:
        query = sa.select(promotion_codes).order_by(promotion_codes.c.id).limit(limit)
        if code is not None:
            query = query.where(promotion_codes.c.code_key == code.upper())
        if coupon_id is not None:
            query = query.where(promotion_codes.c.coupon_id == coupon_id)
        if starting_after is not None:
            query = query.where(promotion_codes.c.id > starting_after)
        async with self.db.transaction() as conn:
            return [_promotion_code(r) for r in await conn.execute(query)]

    @staticmethod
    async def _promotion_code(
        conn: AsyncConnection, *, id_: str | None = None, code: str | None = None
    ) -> PromotionCode:
        where = (
            promotion_codes.c.id == id_
            if id_ is not None
            else promotion_codes.c.code_key == (code or "").upper()
        )
        row = (await conn.execute(sa.select(promotion_codes).where(where))).first()
        if row is None:
            raise NotFound("promotion_code", id_ or code or "", param="promotion_code")
        return _promotion_code(row)

    # -- redemption ------------------------------------------------------------------

    async def redeem(
        self,
        *,
        subscription_id: str,
        customer_id: str,
        currency: str,
        coupon: str | None = None,
        promotion_code: str | None = None,
        start_period_index: int = 0,
        now: datetime | None = None,
        conn: AsyncConnection | None = None,
    ) -> Redemption:
        """Apply a coupon (by id) or a promotion code (the customer-facing code, any case)
        to a subscription. With ``conn``, inside the caller's transaction (the
        subscription's own, so both commit or neither does); otherwise in its own.

        A second call for the same subscription and coupon returns the first redemption
        and counts nothing. Refused with 4xx naming ``coupon`` or ``promotion_code``:
        unknown, past ``redeem_by``/``expires_at``, inactive, at ``max_redemptions``
        (409), a first-time-only code for a returning customer, an ``amount_off`` coupon in
        another currency.
        """
        if (coupon is None) == (promotion_code is None):
            raise InvalidInput("give a coupon or a promotion_code", param="coupon")
        at = now or self.clock()
        if conn is not None:
            return await self._redeem(
                conn,
                subscription_id,
                customer_id,
                currency,
                coupon,
                promotion_code,
                start_period_index,
                at,
            )
        async with self.db.transaction() as own:
            return await self._redeem(
                own,
                subscription_id,
                customer_id,
                currency,
                coupon,
                promotion_code,
                start_period_index,
                at,
            )

    async def _redeem(
        self,
        conn: AsyncConnection,
        subscription_id: str,
        customer_id: str,
        currency: str,
        coupon_id: str | None,
        code: str | None,
        start_period_index: int,
        now: datetime,
    ) -> Redemption:
        promo: PromotionCode | None = None
        if code is not None:
            promo = await self._promotion_code(conn, code=code)
            if not promo.active:
                raise InvalidInput(
                    "the promotion code is not active",
                    code="promotion_code_inactive",
                    param="promotion_code",
                )
            if promo.expires_at is not None and now >= promo.expires_at:
                raise InvalidInput(
                    "the promotion code has expired",
                    code="promotion_code_expired",
                    param="promotion_code",
                )
            coupon_id = promo.coupon_id
        assert coupon_id is not None
        found = await self._coupon(conn, coupon_id)
        if found.redeem_by is not None and now >= found.redeem_by:
            raise InvalidInput(
                "the coupon can no longer be redeemed", code="coupon_expired", param="coupon"
            )
        code_ = currency_of(currency).code
        if found.currency is not None and found.currency != code_:
            raise InvalidInput(
                f"the coupon takes {found.currency} off; the subscription is in {code_}",
                code="currency_mismatch",
                param="coupon",
            )
        customer = await conn.execute(
            sa.select(customers.c.id).where(customers.c.id == customer_id)
        )
        if customer.first() is None:
            raise NotFound("customer", customer_id, param="customer")
        if (
            promo is not None
            and promo.first_time_transaction
            and await self._returning(conn, customer_id)
        ):
            raise InvalidInput(
                "the promotion code is for first-time customers only",
                code="promotion_code_first_time_only",
                param="promotion_code",
            )
        redemption = Redemption(
            id=new_id("cred"),
            coupon_id=found.id,
            promotion_code_id=promo.id if promo is not None else None,
            customer_id=customer_id,
            subscription_id=subscription_id,
            currency=code_,
            start_period_index=start_period_index,
            redeemed_at=now,
        )
        inserted = await conn.execute(
            insert_ignoring_conflicts(
                self.db.dialect,
                coupon_redemptions,
                {
                    "id": redemption.id,
                    "coupon_id": redemption.coupon_id,
                    "promotion_code_id": redemption.promotion_code_id,
                    "customer_id": customer_id,
                    "subscription_id": subscription_id,
                    "currency": code_,
                    "start_period_index": start_period_index,
                    "redeemed_at": now,
                },
            ).returning(coupon_redemptions.c.id)
        )
        if inserted.first() is None:
            row = (
                await conn.execute(
                    sa.select(coupon_redemptions).where(
                        coupon_redemptions.c.subscription_id == subscription_id,
                        coupon_redemptions.c.coupon_id == found.id,
                    )
                )
            ).one()
            return _redemption(row)
        if (await conn.execute(_COUNT_UP_COUPON, {"b_id": found.id})).rowcount != 1:
            raise Conflict(
                "the coupon has reached its max_redemptions",
                code="coupon_max_redemptions",
                param="coupon",
            )
        if promo is not None:
            counted = await conn.execute(_COUNT_UP_PROMOTION_CODE, {"b_id": promo.id})
            if counted.rowcount != 1:
                raise Conflict(
                    "the promotion code has reached its max_redemptions",
                    code="promotion_code_max_redemptions",
                    param="promotion_code",
                )
        await record(conn, catalog.COUPON_REDEMPTION_CREATED, redemption_object(redemption), at=now)
        return redemption

    @staticmethod
    async def _returning(conn: AsyncConnection, customer_id: str) -> bool:
        """A customer who redeemed a coupon before or has a succeeded payment."""
        redeemed = await conn.execute(
            sa.select(coupon_redemptions.c.id)
            .where(coupon_redemptions.c.customer_id == customer_id)
            .limit(1)
        )
        if redeemed.first() is not None:
            return True
        paid = await conn.execute(
            sa.select(payments.c.id)
            .where(payments.c.customer_id == customer_id, payments.c.amount_captured > 0)
            .limit(1)
        )
        return paid.first() is not None

    async def redemptions(self, subscription_id: str) -> list[Redemption]:
        async with self.db.transaction() as conn:
            rows = await conn.execute(
                sa.select(coupon_redemptions)
                .where(coupon_redemptions.c.subscription_id == subscription_id)
                .order_by(coupon_redemptions.c.redeemed_at, coupon_redemptions.c.id)
            )
            return [_redemption(r) for r in rows]

    # -- discounts -------------------------------------------------------------------

    async def discounts_for(
        self,
        *,
        subscription_id: str,
        period_index: int,
        amounts: list[int],
        currency: str,
        now: datetime,
        product_ids: Sequence[str | None] | None = None,
        conn: AsyncConnection | None = None,
    ) -> list[int]:
        """Per-line discounts (minor units, one per amount) for the subscription's period
        ``period_index`` (0 = first): every redemption whose duration covers the period, in
        the order redeemed, each on what the previous left. Zeros without one.

        ``now`` is accepted for the contract; a redeemed coupon applies for its duration
        whatever its ``redeem_by`` (expiry governs redeeming, not applying).
        ``product_ids`` (one per amount) matter only for coupons limited to products.
        With ``conn``, read in the caller's transaction.
        """
        del now
        total = [0] * len(amounts)
        if not amounts:
            return total
        query = (
            sa.select(coupons, coupon_redemptions.c.start_period_index)
            .select_from(
                coupon_redemptions.join(coupons, coupons.c.id == coupon_redemptions.c.coupon_id)
            )
            .where(coupon_redemptions.c.subscription_id == subscription_id)
            .order_by(coupon_redemptions.c.redeemed_at, coupon_redemptions.c.id)
        )
        if conn is not None:
            rows = (await conn.execute(query)).all()
        else:
            async with self.db.transaction() as own:
                rows = (await own.execute(query)).all()
        for row in rows:
            found = _coupon(row)
            if not found.applies_in(period_index, row.start_period_index):
                continue
            remaining = [a - d for a, d in zip(amounts, total, strict=True)]
            for i, d in enumerate(found.discounts(remaining, currency, product_ids)):
                total[i] += d
        return total
