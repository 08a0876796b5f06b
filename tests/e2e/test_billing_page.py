"""``GET /billing``: the dashboard's billing view over real subscriptions made through the
services on test clocks (a paying one, one in dunning, one in USD), on both databases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import httpx

from paystead.billing.catalog import Price, Recurring
from paystead.billing.subscription_service import ItemInput
from paystead.wiring import Services


async def plan(services: Services, amount: int, code: str = "INR") -> Price:
    product = await services.catalog.create_product(name=f"Plan {amount}", tax_rate="0")
    return await services.catalog.create_price(
        Price(
            id="",
            product_id=product.id,
            currency=code,
            created_at=services.clock(),
            unit_amount=amount,
            recurring=Recurring(),
        )
    )


async def subscribe(services: Services, clock: str, price: Price, method: str) -> str:
    customer = await services.customers.create(
        email="a@example.com", name="A", payment_method=method, test_clock=clock
    )
    sub = await services.subscriptions.create(customer=customer.id, items=[ItemInput(price.id)])
    return sub.id


VOID = frozenset({"meta", "link", "input", "br", "img", "hr"})


class Page(HTMLParser):
    """Just enough of the DOM: each element's attributes and text, found by id, and the
    cells of a table's body rows (the standard library's parser, no extra dependency)."""

    def __init__(self, html: str):
        super().__init__()
        self.open: list[dict[str, object]] = []
        self.by_id: dict[str, dict[str, object]] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        node: dict[str, object] = {"tag": tag, "attrs": dict(attrs), "text": []}
        self.open.append(node)
        if (ident := dict(attrs).get("id")) is not None:
            self.by_id[ident] = node
        table = self._table()
        if tag == "tr" and table is not None and self._inside("tbody"):
            self.rows.setdefault(table, []).append([])
        if tag in ("th", "td") and table is not None and self._inside("tbody"):
            self.rows[table][-1].append("")

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.open.pop()["tag"] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for node in self.open:
            node["text"].append(data)  # type: ignore[attr-defined]
        table = self._table()
        if table is not None and self._inside("th", "td") and self._inside("tbody"):
            self.rows[table][-1][-1] += data

    def _inside(self, *tags: str) -> bool:
        return any(n["tag"] in tags for n in self.open)

    def _table(self) -> str | None:
        for node in reversed(self.open):
            if node["tag"] == "table":
                return str(node["attrs"].get("id"))  # type: ignore[attr-defined]
        return None

    def text(self, ident: str) -> str:
        return " ".join("".join(self.by_id[ident]["text"]).split())  # type: ignore[arg-type]

    def attr(self, ident: str, name: str) -> str | None:
        return self.by_id[ident]["attrs"].get(name)  # type: ignore[attr-defined, no-any-return]

    def cells(self, table: str) -> list[list[str]]:
        return [[" ".join(c.split()) for c in row] for row in self.rows.get(table, [])]


async def test_billing_view(client: httpx.AsyncClient, services: Services) -> None:
    empty = Page((await client.get("/billing")).text)
    assert "no subscriptions yet" in empty.text("mrr-now")

    now = services.clock()
    # A paying INR customer for 39 days (its first renewal is paid), a USD one, and one
    # whose card declines on a clock two days old: past due, one retry made.
    paying = await services.test_clocks.create(frozen_time=now - timedelta(days=40))
    await subscribe(services, paying.id, await plan(services, 99_900), "pm_card_visa")
    await subscribe(services, paying.id, await plan(services, 1_000, "USD"), "pm_card_visa")
    await services.test_clocks.advance(paying.id, frozen_time=now - timedelta(days=1))
    dunning = await services.test_clocks.create(frozen_time=now - timedelta(days=2))
    late = await subscribe(services, dunning.id, await plan(services, 50_000), "pm_card_declined")
    await services.test_clocks.advance(dunning.id, frozen_time=now - timedelta(minutes=1))

    response = await client.get("/billing")
    assert response.status_code == 200
    assert '<a href="/billing" aria-current="page">Billing</a>' in response.text
    page = Page(response.text)
    mrr_now = page.text("mrr-now")
    assert "no USD → INR rate" in mrr_now
    assert page.cells("mrr-lines") == [
        ["INR", "2", "1,499.00 INR", "1 INR = 1 INR (identity, " + now.date().isoformat() + ")",
         "1,499.00 INR"],
        ["USD", "1", "10.00 USD", "no rate", "—"],
    ]  # fmt: skip

    await services.fx.record("USD", "INR", Decimal("83.25"), now.date() - timedelta(days=40))
    page = Page((await client.get("/billing")).text)
    # 99,900 + 50,000 paise (past due still counts) + $10.00 x 83.25 = 83,250 paise.
    mrr_now = page.text("mrr-now")
    assert "2,331.50 INR" in mrr_now
    assert page.cells("mrr-lines")[1][3].startswith("1 USD = 83.25 INR (direct")
    assert page.attr("mrr-trend", "data-points") == "2"

    statuses = dict(page.cells("subscription-statuses"))
    assert (statuses["active"], statuses["past_due"], statuses["canceled"]) == ("2", "1", "0")
    groups = page.cells("invoice-groups")
    assert ["past due", "INR", "1", "500.00 INR", "500.00 INR"] in groups
    assert ["paid", "INR", "2", "1,998.00 INR", "0.00 INR"] in groups
    assert ["paid", "USD", "2", "20.00 USD", "0.00 USD"] in groups
    (row,) = page.cells("dunning")
    assert row[0] == late and row[4] == "1"
    recent = page.cells("recent-invoices")
    assert len(recent) == 5 and all(r[0] for r in recent)
    assert sorted(r[1] for r in recent) == ["open", "paid", "paid", "paid", "paid"]
