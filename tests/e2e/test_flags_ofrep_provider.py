"""The real ``openfeature-provider-ofrep`` client against a running ``paystead serve``:
the same flag evaluated over OFREP and in-process gives the same variant per subject,
and a change made by another process reaches the server within its refresh period."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.provider.no_op_provider import NoOpProvider

from paystead.config import Settings
from paystead.ids import new_id
from paystead.wiring import build_services
from tests.e2e.serverproc import RunningServer, cli, running_server

KEY = "payments.routing_strategy"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    db = Path(tmp_path_factory.mktemp("ofrep")) / "ofrep.db"
    with running_server(f"sqlite+aiosqlite:///{db}") as running:
        yield running


@pytest.fixture
def ofrep(live: RunningServer) -> Iterator[OpenFeatureClient]:
    domain = new_id("ofrep")
    api.set_provider(
        OFREPProvider(
            live.base_url, headers_factory=lambda: {"Authorization": f"Bearer {live.api_key}"}
        ),
        domain=domain,
    )
    try:
        yield api.get_client(domain=domain)
    finally:
        api.set_provider(NoOpProvider(), domain=domain)


def _in_process_variants(database_url: str, subjects: list[str]) -> list[str | None]:
    async def run() -> list[str | None]:
        services = build_services(Settings(database_url=database_url))
        try:
            await services.flags.refresh()
            return [
                services.features.get_string_details(
                    KEY, "none", EvaluationContext(targeting_key=s, attributes={"currency": "USD"})
                ).variant
                for s in subjects
            ]
        finally:
            await services.close()

    return asyncio.run(run())


def test_ofrep_and_in_process_agree_on_every_subject(
    live: RunningServer, ofrep: OpenFeatureClient
) -> None:
    created = httpx.post(
        f"{live.base_url}/v1/flags",
        headers={"Authorization": f"Bearer {live.api_key}"},
        json={
            "key": KEY,
            "type": "string",
            "variants": {"thompson": "thompson", "lowest_cost": "lowest_cost", "static": "s"},
            "off_variant": "thompson",
            "default": {"split": {"thompson": 3400, "lowest_cost": 3300, "static": 3300}},
            "rules": [
                {
                    "conditions": [{"attribute": "currency", "operator": "eq", "value": "INR"}],
                    "serve": {"variant": "static"},
                }
            ],
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    subjects = [f"cus_{i}" for i in range(60)]
    remote = []
    for s in subjects:
        details = ofrep.get_string_details(
            KEY, "none", EvaluationContext(targeting_key=s, attributes={"currency": "USD"})
        )
        assert details.reason == Reason.SPLIT, details
        remote.append(details.variant)
    local = _in_process_variants(live.env["PAYSTEAD_DATABASE_URL"], subjects)
    assert remote == local
    assert len(set(remote)) == 3  # the split really splits

    rule = ofrep.get_string_details(
        KEY, "none", EvaluationContext(targeting_key="cus_1", attributes={"currency": "INR"})
    )
    assert (rule.value, rule.variant, rule.reason) == ("s", "static", Reason.TARGETING_MATCH)
    missing = ofrep.get_string_details("no.such.flag", "fallback", EvaluationContext("cus_1"))
    assert (missing.value, missing.error_code) == ("fallback", ErrorCode.FLAG_NOT_FOUND)


def test_a_change_by_another_process_reaches_the_server(
    live: RunningServer, ofrep: OpenFeatureClient
) -> None:
    made = cli(live.env, "flags", "create", "checkout.kill_me", "--reason", "e2e")
    assert made.returncode == 0, made.stderr
    cli(live.env, "flags", "set-weights", "checkout.kill_me", "on=10000", "off=0")
    # the CLI wrote the database directly: the server learns it from its poll (2 s)
    deadline = time.monotonic() + 15
    while ofrep.get_boolean_value("checkout.kill_me", False, EvaluationContext("s")) is not True:
        assert time.monotonic() < deadline, "the server never saw the CLI's change"
        time.sleep(0.2)
    assert cli(live.env, "flags", "disable", "checkout.kill_me", "--reason", "kill").returncode == 0
    deadline = time.monotonic() + 15
    while True:
        details = ofrep.get_boolean_details("checkout.kill_me", True, EvaluationContext("s"))
        if details.reason == Reason.DISABLED:
            break
        assert time.monotonic() < deadline, "the kill switch never reached the server"
        time.sleep(0.2)
    assert details.value is False


def test_the_flags_page_in_a_real_browser(live: RunningServer) -> None:
    """After the two tests above: flags with a split and a disabled one, and their
    changes; the page renders them, links back to the dashboard and passes axe-core."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_dashboard import CHROMIUM, CHROMIUM_ARGS

    cli(live.env, "flags", "create", "page.check", "--reason", "page")
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1200})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        response = page.goto(live.base_url + "/flags")
        assert response is not None and response.status == 200
        assert page.locator("#flags tbody tr").count() >= 2
        row = page.locator('#flags tr[data-flag="page.check"]')
        assert row.get_attribute("data-enabled") == "true"
        assert page.locator("#flag-changes tbody tr").count() >= 3
        results = Axe().run(
            page,
            options={
                "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
            },
        )
        assert results.violations_count == 0, results.generate_report()
        page.click("text=Operations")
        page.wait_for_url("**/?view=operations")
        assert page.locator("nav a[href='/flags']").count() == 1
        browser.close()
    assert errors == [], errors
