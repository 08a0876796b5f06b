"""The dashboard in headless Chromium (Debian's /usr/bin/chromium through Playwright):
it loads with live data, its charts render, the phase switcher works, the console stays
clean and an axe-core scan finds no WCAG 2.1 AA violations, on the operations and
executive views and on the billing view."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

from paystead.insights.simulate import simulate
from tests.e2e.serverproc import RunningServer, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(os.environ.get("PAYSTEAD_SCREENSHOT_DIR", "/tmp")) / "paystead-dashboard.png"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    db = tmp_path_factory.mktemp("dashboard") / "dashboard.db"
    with running_server(f"sqlite+aiosqlite:///{db}") as server:
        stats = asyncio.run(
            simulate(server.base_url, server.api_key, rate=500, duration=None, count=120, seed=3)
        )
        assert stats.payments["succeeded"] > 50
        yield server


def test_dashboard_in_a_real_browser(live: RunningServer) -> None:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (make install-dev does)"
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        response = page.goto(live.base_url + "/")
        assert response is not None and response.status == 200
        assert page.title().startswith("paystead")
        rows = page.locator("#scorecard tbody tr")
        assert rows.count() >= 3

        success_chart = page.locator('figure[data-kpi="payment_success_rate"]')
        assert int(success_chart.get_attribute("data-points") or 0) >= 1
        assert success_chart.locator("svg path").count() > 5  # a drawn line, axes and ticks
        assert page.locator("#gateways tbody tr").count() >= 1

        page.select_option("#phase", "standing")
        page.click("form button[type=submit]")
        page.wait_for_url("**phase=standing**")
        assert "standing" in page.locator("#scorecard-title").inner_text().lower()
        standing = page.locator('#scorecard tr[data-kpi="payment_success_rate"]')
        assert standing.get_attribute("data-status") in {"met", "at_risk", "breached"}

        page.click("text=Executive")
        assert page.locator(".headline").count() == 4
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        results = Axe().run(
            page,
            options={
                "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
            },
        )
        assert results.violations_count == 0, results.generate_report()

        # The billing view, reached from the shared navigation, passes the same scan.
        page.click("nav >> text=Billing")
        page.wait_for_url("**/billing")
        assert page.locator('nav a[aria-current="page"]').inner_text() == "Billing"
        assert page.locator("#subscription-statuses tbody tr").count() == 6
        assert page.locator('figure[data-kpi="mrr"] svg').count() == 1
        billing = Axe().run(
            page,
            options={
                "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
            },
        )
        assert billing.violations_count == 0, billing.generate_report()
        browser.close()
    assert errors == [], errors


def test_unknown_phase_is_a_clear_4xx(live: RunningServer) -> None:
    response = httpx.get(live.base_url + "/", params={"phase": "nope"})
    assert response.status_code == 422
    assert response.json()["param"] == "phase"
