"""The canary's decision (``rollouts.decide``): promote, hold or roll back, and why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paystead.errors import InvalidInput
from paystead.optimize.analysis import Arm
from paystead.optimize.rollouts import Action, Guardrails, NewRollout, decide


def arm(
    name: str, payments: int, succeeded: int, *, errors: int = 0, latency: float = 200.0
) -> Arm:
    return Arm(
        name,
        0,
        payments=payments,
        succeeded=succeeded,
        errors=errors,
        latencies_ms=[latency] * payments,
    )


def run(control: Arm, canary: Arm, *, age: float = 600, last: bool = False, **kw: float) -> Action:
    return decide(
        control,
        canary,
        step_age=timedelta(seconds=age),
        min_step_seconds=300,
        min_sample=100,
        guardrails=Guardrails(**kw),
        last_step=last,
    ).action


def test_healthy_canary_is_promoted_then_completed() -> None:
    control, canary = arm("a", 1000, 900), arm("b", 200, 181)
    assert run(control, canary) is Action.PROMOTE
    assert run(control, canary, last=True) is Action.COMPLETE


def test_young_step_or_small_sample_holds() -> None:
    control, canary = arm("a", 1000, 900), arm("b", 200, 180)
    held = decide(
        control,
        canary,
        step_age=timedelta(seconds=60),
        min_step_seconds=300,
        min_sample=100,
        guardrails=Guardrails(),
        last_step=False,
    )
    assert held.action is Action.HOLD and "240 s left" in held.reason
    assert run(control, arm("b", 50, 45)) is Action.HOLD


def test_a_clearly_failing_canary_rolls_back_before_the_minimum_sample() -> None:
    """The mSPRT p-value is valid at every look, so a broken canary is stopped early."""
    decision = decide(
        arm("a", 500, 450),
        arm("b", 40, 5),
        step_age=timedelta(seconds=30),
        min_step_seconds=300,
        min_sample=100,
        guardrails=Guardrails(),
        last_step=False,
    )
    assert decision.action is Action.ROLLBACK
    assert "mSPRT" in decision.reason
    assert decision.metrics["canary"]["success_rate"] == pytest.approx(5 / 40)


def test_a_total_failure_against_a_perfect_control_rolls_back() -> None:
    assert run(arm("a", 300, 300), arm("b", 60, 0), age=10) is Action.ROLLBACK


def test_a_small_drop_is_caught_by_the_one_sided_test_once_the_sample_is_in() -> None:
    control, canary = arm("a", 5000, 4500), arm("b", 2000, 1740)  # 90% vs 87%
    decision = decide(
        control,
        canary,
        step_age=timedelta(seconds=600),
        min_step_seconds=300,
        min_sample=100,
        guardrails=Guardrails(tau2=1e-6),  # a mixing variance far off the effect
        last_step=False,
    )
    assert decision.action is Action.ROLLBACK
    assert "one-sided z-test" in decision.reason


def test_a_canary_that_is_better_is_never_rolled_back_for_it() -> None:
    assert run(arm("a", 1000, 800), arm("b", 1000, 950)) is Action.PROMOTE


def test_error_rate_and_latency_guardrails() -> None:
    control = arm("a", 1000, 900, errors=10)
    errors = arm("b", 500, 450, errors=40)  # 8% vs 1%, same success rate
    assert run(control, errors) is Action.ROLLBACK
    slow = arm("b", 500, 450, errors=5, latency=900.0)
    decision = decide(
        control,
        slow,
        step_age=timedelta(seconds=600),
        min_step_seconds=300,
        min_sample=100,
        guardrails=Guardrails(),
        last_step=False,
    )
    assert decision.action is Action.ROLLBACK and "p95 latency" in decision.reason
    assert run(control, arm("b", 500, 450, errors=5, latency=320.0)) is Action.PROMOTE


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("steps", (100, 500), "steps"),
        ("steps", (500, 100, 10_000), "steps"),
        ("steps", (10_000,), "steps"),
        ("canary", "a", "canary"),
        ("min_sample", 0, "min_sample"),
        ("guardrails", Guardrails(alpha=0.7), "guardrails.alpha"),
    ],
)
def test_bad_rollouts_name_the_field(field: str, value: object, param: str) -> None:
    values: dict[str, object] = {"flag_key": "f", "canary": "b", "control": "a", field: value}
    with pytest.raises(InvalidInput) as raised:
        NewRollout(**values).validate()  # type: ignore[arg-type]
    assert raised.value.param == param
