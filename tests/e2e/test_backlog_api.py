"""/v1/backlog over HTTP: create, rank, update, ship, measure, delete; bad input -> 4xx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from paystead.platform.migrate import upgrade

IDEA = {
    "title": "Cache BIN lookups",
    "hypothesis": "A cache cuts p95 latency of payment creation",
    "target_kpi": "payment_success_rate",
    "impact": 7,
    "effort": 2,
    "confidence": 8,
    "reach": 100,
}


async def test_backlog_lifecycle(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/backlog", json=IDEA, headers={"Idempotency-Key": "bl-1"})
    assert created.status_code == 201, created.text
    cache = created.json()
    assert (cache["ice"], cache["rice"], cache["quadrant"], cache["status"]) == (
        504,
        "2800.00",
        "quick_win",
        "idea",
    )
    again = await client.post("/v1/backlog", json=IDEA, headers={"Idempotency-Key": "bl-1"})
    assert again.json()["id"] == cache["id"]
    big = {**IDEA, "title": "Smarter routing model", "impact": 9, "effort": 9, "confidence": 5}
    big["reach"] = 5000
    ai = (await client.post("/v1/backlog", json=big)).json()
    assert ai["quadrant"] == "strategic_project"

    by_ice = (await client.get("/v1/backlog")).json()
    assert [i["id"] for i in by_ice["data"]] == [cache["id"], ai["id"]]
    by_rice = (await client.get("/v1/backlog", params={"rank": "rice"})).json()
    assert [i["id"] for i in by_rice["data"]] == [ai["id"], cache["id"]]

    updated = await client.post(
        f"/v1/backlog/{cache['id']}",
        json={"status": "testing", "experiment_key": "bin-cache", "effort": 3},
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["status"], updated.json()["ice"]) == ("testing", 448)

    shipped = await client.post(f"/v1/backlog/{cache['id']}/ship", json={})
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped" and shipped.json()["release"].startswith("rel_")
    releases = (await client.get("/v1/releases")).json()["data"]
    assert [(r["name"], r["kind"]) for r in releases] == [("Cache BIN lookups", "experiment")]
    detail = (await client.get(f"/v1/backlog/{cache['id']}")).json()
    assert detail["measured"]["kpi"] == "payment_success_rate"
    assert detail["measured"]["verdict"] == "unknown"  # released this instant: no window yet

    twice = await client.post(f"/v1/backlog/{cache['id']}/ship", json={})
    assert twice.status_code == 409
    assert (await client.delete(f"/v1/backlog/{cache['id']}")).status_code == 409
    gone = await client.delete(f"/v1/backlog/{ai['id']}")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert (await client.get(f"/v1/backlog/{ai['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"impact": 0}, "impact"),
        ({"effort": 11}, "effort"),
        ({"confidence": "5"}, "confidence"),
        ({"target_kpi": "happiness"}, "target_kpi"),
        ({"reach": -5}, "reach"),
        ({"status": "shipped"}, "status"),
        ({"title": ""}, "title"),
        ({"flag_key": "no spaces allowed"}, "flag_key"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_items_are_refused_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, object], param: str
) -> None:
    response = await client.post("/v1/backlog", json={**IDEA, **change})
    assert response.status_code == 422, response.text
    assert response.json()["param"] == param


async def test_missing_fields_and_objects(client: httpx.AsyncClient) -> None:
    body = {k: v for k, v in IDEA.items() if k != "hypothesis"}
    response = await client.post("/v1/backlog", json=body)
    assert (response.status_code, response.json()["param"]) == (422, "hypothesis")
    assert (await client.get("/v1/backlog/bli_nope")).status_code == 404
    assert (await client.get("/v1/backlog", params={"rank": "wsjf"})).json()["param"] == "rank"
    assert (await client.get("/v1/backlog", params={"status": "done"})).json()["param"] == (
        "status"
    )
    item = (await client.post("/v1/backlog", json=IDEA)).json()
    bad = await client.post(f"/v1/backlog/{item['id']}/ship", json={"release": "rel_nope"})
    assert (bad.status_code, bad.json()["param"]) == (404, "release")
    wrong = await client.post(f"/v1/backlog/{item['id']}", json={"target_kpi": "nope"})
    assert (wrong.status_code, wrong.json()["param"]) == (422, "target_kpi")


async def test_the_backlog_page_shows_the_matrix_and_the_ranking(
    client: httpx.AsyncClient,
) -> None:
    quick = (await client.post("/v1/backlog", json=IDEA)).json()
    avoid = {**IDEA, "title": "Rewrite in another language", "impact": 2, "effort": 10}
    slow = (await client.post("/v1/backlog", json=avoid)).json()
    shipped = {**IDEA, "title": "Clearer decline messages", "impact": 5, "effort": 1}
    done = (await client.post("/v1/backlog", json=shipped)).json()
    await client.post(f"/v1/backlog/{done['id']}/ship", json={"release_name": "Decline copy"})

    page = await client.get("/backlog")
    assert page.status_code == 200
    html = page.text
    quick_win = html.split('data-quadrant="quick_win"')[1].split("</div>")[0]
    assert "Cache BIN lookups" in quick_win and "Quick wins (1)" in quick_win
    avoid_cell = html.split('data-quadrant="avoid"')[1].split("</div>")[0]
    assert "Rewrite in another language" in avoid_cell
    assert (
        "Clearer decline messages" not in html.split('id="backlog"')[0]
    )  # shipped: off the matrix
    table = html.split('id="backlog"')[1]
    order = [table.index(f'data-item="{i}"') for i in (quick["id"], done["id"], slow["id"])]
    assert order == sorted(order)  # ICE 504, 400, 16
    assert "released" in table and "not shipped" in table
    rice = await client.get("/backlog", params={"rank": "rice"})
    assert "Ranked by RICE" in rice.text
    assert (await client.get("/backlog", params={"rank": "nope"})).status_code == 422


def test_cli_add_list_ship(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'backlog.db'}"
    upgrade(url)
    env = {**os.environ, "PAYSTEAD_DATABASE_URL": url}
    paystead = str(Path(sys.executable).parent / "paystead")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [paystead, "backlog", *args], env=env, capture_output=True, text=True, timeout=60
        )

    added = run(
        "add", "Cache BIN lookups", "--hypothesis", "faster", "--kpi", "payment_success_rate",
        "--impact", "7", "--effort", "2", "--confidence", "8", "--reach", "100",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    item_id = added.stdout.split("\t")[0]
    assert "ICE 504\tRICE 2800.00\tQuick wins" in added.stdout
    bad = run("add", "x", "--hypothesis", "y", "--kpi", "nope", "--impact", "1", "--effort", "1",
              "--confidence", "1")  # fmt: skip
    assert bad.returncode == 1 and "error (target_kpi)" in bad.stderr
    assert run("list").stdout.startswith(item_id)
    shipped = run("ship", item_id, "--name", "BIN cache")
    assert (
        shipped.returncode == 0
        and "\tshipped\t" in shipped.stdout
        and "release rel_" in shipped.stdout
    )
    shown = run("show", item_id)
    assert "payment_success_rate: before" in shown.stdout
