"""/v1/exchange_rates over HTTP, and ``paystead fx import`` as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from paystead.platform.migrate import upgrade

ECB_DAILY = "Date, USD, JPY, INR, \n03 June 2021, 1.2187, 133.81, 88.7145, \n"


async def test_manual_rate_round_trip_and_lookup(client: httpx.AsyncClient) -> None:
    body = {"base": "usd", "quote": "INR", "rate": "83.2150", "date": "2026-04-01"}
    created = await client.post(
        "/v1/exchange_rates", json=body, headers={"Idempotency-Key": "fx-1"}
    )
    assert created.status_code == 201, created.text
    rate = created.json()
    assert (rate["object"], rate["base"], rate["quote"], rate["rate"], rate["date"]) == (
        "exchange_rate",
        "USD",
        "INR",
        "83.2150",
        "2026-04-01",
    )
    assert rate["source"] == "manual"
    replay = await client.post("/v1/exchange_rates", json=body, headers={"Idempotency-Key": "fx-1"})
    assert replay.json() == rate and replay.headers.get("Idempotent-Replayed") == "true"

    listed = (await client.get("/v1/exchange_rates", params={"base": "USD"})).json()
    assert [r["id"] for r in listed["data"]] == [rate["id"]]
    assert (await client.get("/v1/exchange_rates", params={"base": "EUR"})).json()["data"] == []
    await client.post("/v1/exchange_rates", json={**body, "rate": "84", "date": "2026-04-06"})
    in_force = await client.get(
        "/v1/exchange_rates", params={"base": "USD", "quote": "INR", "date": "2026-04-05"}
    )
    assert [(r["date"], r["rate"]) for r in in_force.json()["data"]] == [("2026-04-01", "83.2150")]
    everything = (await client.get("/v1/exchange_rates", params={"limit": 1})).json()
    assert everything["data"][0]["date"] == "2026-04-06" and everything["has_more"] is True
    assert (await client.get("/v1/exchange_rates", params={"date": "2026-03-31"})).json()[
        "data"
    ] == []

    # In force two days later, and the inverse.
    found = await client.get(
        "/v1/exchange_rates/rate", params={"base": "USD", "quote": "INR", "date": "2026-04-03"}
    )
    assert found.status_code == 200, found.text
    assert (found.json()["rate"], found.json()["date"], found.json()["method"]) == (
        "83.2150",
        "2026-04-01",
        "direct",
    )
    inverse = await client.get(
        "/v1/exchange_rates/rate", params={"base": "INR", "quote": "USD", "date": "2026-04-03"}
    )
    assert inverse.json()["method"] == "inverse"
    assert inverse.json()["rate"] == "0.0120170642312"  # 1 / 83.2150 to 12 digits

    missing = await client.get(
        "/v1/exchange_rates/rate", params={"base": "USD", "quote": "INR", "date": "2026-03-31"}
    )
    assert missing.status_code == 404
    assert (missing.json()["code"], missing.json()["param"]) == ("exchange_rate_missing", "date")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"base": "USD", "quote": "INR", "rate": "abc", "date": "2026-04-01"}, "rate"),
        ({"base": "USD", "quote": "INR", "rate": "-1", "date": "2026-04-01"}, "rate"),
        ({"base": "USD", "quote": "INR", "rate": "0", "date": "2026-04-01"}, "rate"),
        ({"base": "USD", "quote": "INR", "rate": "1e999", "date": "2026-04-01"}, "rate"),
        ({"base": "USD", "quote": "INR", "rate": "NaN", "date": "2026-04-01"}, "rate"),
        ({"base": "USD", "quote": "INR", "rate": 83.2, "date": "2026-04-01"}, "rate"),
        ({"base": "USX", "quote": "INR", "rate": "83", "date": "2026-04-01"}, "base"),
        ({"base": "USD", "quote": "INR", "rate": "83", "date": "2026-13-01"}, "date"),
        ({"base": "USD", "quote": "USD", "rate": "1", "date": "2026-04-01"}, "quote"),
        ({"base": "USD", "rate": "83", "date": "2026-04-01"}, "quote"),
        ({"base": "USD", "quote": "INR", "rate": "83", "date": "2026-04-01", "x": 1}, "x"),
    ],
)
async def test_bad_rates_are_refused_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], param: str
) -> None:
    response = await client.post("/v1/exchange_rates", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["param"] == param


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"base": "USD", "quote": "INR", "date": "yesterday"}, "date"),
        ({"base": "US", "quote": "INR"}, "base"),
        ({"base": "USD", "quote": "QQQ"}, "quote"),
        ({"quote": "INR"}, "base"),
    ],
)
async def test_bad_lookups_are_refused_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, str], param: str
) -> None:
    response = await client.get("/v1/exchange_rates/rate", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["param"] == param


def test_cli_imports_the_ecb_file_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fx.db'}"
    upgrade(url)
    rates = tmp_path / "eurofxref.csv"
    rates.write_text(ECB_DAILY)
    env = {**os.environ, "PAYSTEAD_DATABASE_URL": url}
    paystead = str(Path(sys.executable).parent / "paystead")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [paystead, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    first = run("fx", "import", str(rates))
    assert first.returncode == 0, first.stderr
    assert "imported 3 new rate(s); 0 already present" in first.stdout
    again = run("fx", "import", str(rates))
    assert "imported 0 new rate(s); 3 already present" in again.stdout
    cross = run("fx", "rate", "USD", "JPY", "--date", "2021-06-04")
    assert cross.returncode == 0, cross.stderr
    assert "1 USD = 109.797325018 JPY (2021-06-03, ecb, cross via EUR)" in cross.stdout
    rates.write_text("Date, USD,\n03 June 2021, n/a?,\n")
    bad = run("fx", "import", str(rates))
    assert bad.returncode == 1 and "error (USD)" in bad.stderr
