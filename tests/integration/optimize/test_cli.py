"""``paystead experiment report`` and ``paystead rollout ...`` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from openfeature.evaluation_context import EvaluationContext

from paystead.config import Settings
from paystead.money import Money
from paystead.optimize.experiments import NewExperiment
from paystead.optimize.flags.model import parse_definition
from paystead.optimize.rollouts import NewRollout
from paystead.payments.service import CreatePayment
from paystead.wiring import build_services

PAYSTEAD = str(Path(sys.executable).parent / "paystead")


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PAYSTEAD, *args],
        env={**os.environ, "PAYSTEAD_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_report_and_rollout_commands(database_url: str, tmp_path: Path) -> None:
    url = database_url
    services = build_services(Settings(database_url=url))
    try:
        flag = {"type": "string", "variants": {"a": "a", "b": "b"}, "default": {"variant": "a"}}
        await services.flags.create("checkout.copy", parse_definition(flag))
        await services.flags.create("checkout.form", parse_definition({"type": "boolean"}))
        await services.experiments.create(
            NewExperiment(
                key="copy-test",
                flag_key="checkout.copy",
                hypothesis="Shorter copy converts better",
                variants=[("a", 5000), ("b", 5000)],
            )
        )
        await services.experiments.start("copy-test")
        await services.exposures.refresh()
        for i in range(12):
            customer = await services.customers.create(email=f"k{i}@example.com", name="K")
            services.features.get_string_details(
                "checkout.copy", "a", EvaluationContext(targeting_key=customer.id)
            )
            await services.payments.create(
                CreatePayment(Money(5000, "INR"), "pm_card_visa", customer_id=customer.id)
            )
        assert await services.exposures.flush() == 12
        rollout = await services.rollouts.create(
            NewRollout("checkout.form", canary="on", control="off", min_sample=10_000)
        )
    finally:
        await services.close()

    html = _cli(url, "experiment", "report", "copy-test", "--output", str(tmp_path / "r.html"))
    assert html.returncode == 0, html.stderr
    page = (tmp_path / "r.html").read_text()
    assert "Experiment copy-test" in page and "Shorter copy converts better" in page
    assert "not enough data" in page  # 12 customers: nothing is tested yet
    pdf = _cli(
        url,
        "experiment",
        "report",
        "copy-test",
        "--format",
        "pdf",
        "--output",
        str(tmp_path / "r.pdf"),
    )
    assert pdf.returncode == 0, pdf.stderr
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    missing = _cli(url, "experiment", "report", "nope")
    assert missing.returncode == 1 and "no such experiment" in missing.stderr
    ticked = _cli(url, "rollout", "tick")
    assert ticked.returncode == 0, ticked.stderr
    assert f"{rollout.id}  hold" in ticked.stdout
    aborted = _cli(url, "rollout", "abort", rollout.id, "--reason", "not today")
    assert aborted.returncode == 0 and "aborted" in aborted.stdout
    shown = _cli(url, "rollout", "show", rollout.id)
    assert '"action": "abort"' in shown.stdout and "not today" in shown.stdout
