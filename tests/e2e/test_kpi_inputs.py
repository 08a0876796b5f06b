"""KPIs from outside the system arrive over the API or CSV, validated the same way, and
are measured by hand-checkable formulas."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from paystead.errors import InvalidInput
from paystead.insights.inputs import import_csv
from paystead.insights.measure import NoData, Window, measure
from paystead.wiring import Services

NOW = int(time.time())
HOUR = 3600


def window() -> Window:
    end = datetime.now(UTC) + timedelta(minutes=1)
    return Window(end - timedelta(days=1), end)


async def kpi(services: Services, key: str) -> Decimal | NoData:
    async with services.db.transaction() as conn:
        return await measure(conn, key, window(), "INR")


async def test_survey_answers_make_nps_and_csat(
    client: httpx.AsyncClient, services: Services
) -> None:
    assert isinstance(await kpi(services, "nps"), NoData)
    for score in [10, 9, 9, 10, 9, 10, 8, 7, 3, 6]:  # 6 promoters, 2 passives, 2 detractors
        response = await client.post("/v1/survey_responses", json={"kind": "nps", "score": score})
        assert response.status_code == 201, response.text
    for score in [5, 4, 4, 2]:
        await client.post("/v1/survey_responses", json={"kind": "csat", "score": score})
    assert await kpi(services, "nps") == Decimal(40)  # 60 % - 20 %
    assert await kpi(services, "csat") == Decimal(75)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/survey_responses", {"kind": "nps", "score": 11}, "score"),
        ("/v1/survey_responses", {"kind": "csat", "score": 0}, None),
        ("/v1/survey_responses", {"kind": "ces", "score": 3}, "kind"),
        ("/v1/support_tickets", {"external_id": "T-1", "opened_at": NOW, "resolved_at": NOW - 1}, None),
        ("/v1/marketing_spend", {"amount": 10.5, "currency": "INR", "period_start": NOW, "period_end": NOW + 1}, "amount"),
        ("/v1/marketing_spend", {"amount": 100, "currency": "XYZ", "period_start": NOW, "period_end": NOW + 1}, "currency"),
        ("/v1/kpi_entries", {"kpi": "payment_success_rate", "value": "99", "period_start": NOW, "period_end": NOW + 1}, "kpi"),
        ("/v1/kpi_entries", {"kpi": "manual_interventions", "value": "lots", "period_start": NOW, "period_end": NOW + 1}, "value"),
        ("/v1/releases", {"name": "", "kind": "feature"}, "name"),
    ],
)  # fmt: skip
async def test_bad_inputs_are_refused_and_leave_nothing(
    client: httpx.AsyncClient,
    services: Services,
    path: str,
    body: dict[str, object],
    param: str | None,
) -> None:
    response = await client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if param is not None:
        assert response.json()["param"] == param
    for key in (
        "nps",
        "support_ticket_volume",
        "customer_acquisition_cost",
        "manual_interventions",
        "feature_releases",
    ):
        assert isinstance(await kpi(services, key), NoData)


async def test_tickets_are_counted_once_and_resolved_later(
    client: httpx.AsyncClient, services: Services
) -> None:
    opened = NOW - 5 * HOUR
    for external_id in ["T-1", "T-2", "T-3"]:
        await client.post(
            "/v1/support_tickets", json={"external_id": external_id, "opened_at": opened}
        )
    again = await client.post(
        "/v1/support_tickets",
        json={"external_id": "T-1", "opened_at": opened, "resolved_at": opened + 2 * HOUR},
    )
    assert again.status_code == 201
    await client.post(
        "/v1/support_tickets",
        json={"external_id": "T-2", "opened_at": opened, "resolved_at": opened + 4 * HOUR},
    )
    assert await kpi(services, "support_ticket_volume") == Decimal(3)
    assert await kpi(services, "time_to_resolution") == Decimal("3.000")  # (2 h + 4 h) / 2


async def test_spend_entries_and_releases(
    client: httpx.AsyncClient, services: Services, api_key: str
) -> None:
    await client.post(
        "/v1/marketing_spend",
        json={
            "amount": 300000,
            "currency": "INR",
            "period_start": NOW - 2 * HOUR,
            "period_end": NOW - HOUR,
        },
    )
    assert isinstance(await kpi(services, "customer_acquisition_cost"), NoData)  # nobody acquired
    for name in ["A", "B", "C", "D"]:
        await client.post("/v1/customers", json={"email": f"{name}@example.com", "name": name})
    assert await kpi(services, "customer_acquisition_cost") == Decimal("750.00")  # ₹3,000 / 4

    for value in ["3", "4"]:
        await client.post(
            "/v1/kpi_entries",
            json={
                "kpi": "manual_interventions",
                "value": value,
                "period_start": NOW - HOUR,
                "period_end": NOW,
            },
        )
    await client.post(
        "/v1/kpi_entries",
        json={
            "kpi": "compliance_audit_time",
            "value": "12.5",
            "period_start": NOW - 2 * HOUR,
            "period_end": NOW - HOUR,
        },
    )
    await client.post(
        "/v1/kpi_entries",
        json={
            "kpi": "compliance_audit_time",
            "value": "9",
            "period_start": NOW - HOUR,
            "period_end": NOW,
        },
    )
    assert await kpi(services, "manual_interventions") == Decimal(7)  # counts add up
    assert await kpi(services, "compliance_audit_time") == Decimal(9)  # levels: the latest

    created = await client.post("/v1/releases", json={"name": "Smarter retries", "kind": "feature"})
    await client.post("/v1/releases", json={"name": "Hotfix", "kind": "fix"})
    assert created.json()["recorded_by"] == (await services.api_keys.verify(api_key)).id
    assert await kpi(services, "feature_releases") == Decimal(1)
    listed = (await client.get("/v1/releases")).json()["data"]
    assert [r["name"] for r in listed] == ["Smarter retries", "Hotfix"]


async def test_csv_import_is_all_or_nothing_and_names_the_bad_line(services: Services) -> None:
    good = "kind,score\nnps,10\nnps,0\ncsat,5\n"
    bad = "kind,score\nnps,10\nnps,12\n"
    now = datetime.now(UTC)
    with pytest.raises(InvalidInput) as excinfo:
        await import_csv(services.db, "surveys", bad, now)
    assert excinfo.value.detail.startswith("line 3: score:")
    assert isinstance(await kpi(services, "nps"), NoData)
    assert await import_csv(services.db, "surveys", good, now) == 3
    assert await kpi(services, "nps") == Decimal(0)  # one promoter, one detractor


async def test_every_input_is_an_audited_event(client: httpx.AsyncClient) -> None:
    await client.post("/v1/releases", json={"name": "Smarter retries"})
    await client.post("/v1/survey_responses", json={"kind": "csat", "score": 5})
    listed = (await client.get("/v1/events", params={"type": "kpi_input.recorded"})).json()
    kinds = sorted(e["data"]["object"]["kind"] for e in listed["data"])
    assert kinds == ["release_markers", "survey_responses"]
