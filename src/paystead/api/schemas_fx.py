"""Request and response bodies of ``/v1/exchange_rates`` (``fx/``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from paystead.api.schemas import CurrencyCode, Input, Output
from paystead.errors import InvalidInput
from paystead.fx.service import Rate, parse_rate


def _rate(value: str) -> str:
    try:
        return str(parse_rate(value))
    except InvalidInput as exc:
        raise ValueError(exc.detail) from None


class ExchangeRateCreate(Input):
    base: CurrencyCode
    quote: CurrencyCode
    #: 1 base = rate quote, a decimal written as a string ("83.2150"): never a float.
    rate: Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_rate)]
    date: dt.date


class ExchangeRateOut(Output):
    id: str
    object: Literal["exchange_rate"] = "exchange_rate"
    base: str
    quote: str
    rate: str
    date: str
    source: str
    recorded_by: str
    created: int
    updated: int


class ExchangeRateList(Output):
    object: Literal["list"] = "list"
    data: list[ExchangeRateOut]
    has_more: bool


class RateInForce(Output):
    """The rate that applies on ``requested_date``: stored, inverse or cross."""

    object: Literal["exchange_rate_quote"] = "exchange_rate_quote"
    base: str
    quote: str
    rate: str
    #: The day of the rate used (the latest on or before the requested date).
    date: str
    requested_date: str
    source: str
    #: How it was found: "direct", "inverse" or "cross".
    method: Literal["direct", "inverse", "cross", "identity"]
    via: str | None = None

    @classmethod
    def of(cls, found: Rate, requested: dt.date) -> RateInForce:
        return cls(
            base=found.base,
            quote=found.quote,
            rate=str(found.rate),
            date=found.day.isoformat(),
            requested_date=requested.isoformat(),
            source=found.source,
            method=found.method,
            via=found.via,
        )
