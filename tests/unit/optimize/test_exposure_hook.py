"""The exposure hook's hot path: memory only, randomized answers only, bounded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagEvaluationDetails, FlagType
from openfeature.hook import HookContext
from sqlalchemy.ext.asyncio import create_async_engine

from paystead.optimize import exposures
from paystead.optimize.exposures import ExposureLog
from paystead.platform.db import Database

NOW = datetime(2026, 4, 1, tzinfo=UTC)


def _log() -> ExposureLog:
    # An engine that is never connected to: the hook must not touch the database.
    log = ExposureLog(Database(create_async_engine("sqlite+aiosqlite://")), lambda: NOW)
    log._active = {"f": ("exp-a", "rollout:rol_1:0")}
    return log


def _evaluate(log: ExposureLog, key: str | None, *, flag: str = "f", reason: str = "SPLIT") -> None:
    context = EvaluationContext(targeting_key=key, attributes={"payment_id": "pay_1"})
    hook_context = HookContext(flag, FlagType.STRING, "a", context)
    details = FlagEvaluationDetails(flag, "b", variant="b", reason=reason)
    log.after(hook_context, details, {})


def test_randomized_answers_are_buffered_once_per_experiment_and_subject() -> None:
    log = _log()
    _evaluate(log, "cus_1")
    _evaluate(log, "cus_1")
    _evaluate(log, "cus_2")
    assert log.pending == 4  # two subjects under the experiment and the rollout step
    rows = sorted(log._buffer.values(), key=lambda r: (r["experiment_key"], r["subject"]))
    assert rows[0] == {
        "experiment_key": "exp-a",
        "flag_key": "f",
        "variant": "b",
        "subject": "cus_1",
        "payment_id": "pay_1",
        "first_seen_at": NOW,
    }


@pytest.mark.parametrize(
    ("key", "flag", "reason"),
    [
        ("cus_1", "f", "TARGETING_MATCH"),
        ("cus_1", "f", "DISABLED"),
        ("cus_1", "f", "STATIC"),
        (None, "f", "SPLIT"),
        ("cus_1", "other", "SPLIT"),
    ],
)
def test_other_answers_are_not_exposures(key: str | None, flag: str, reason: str) -> None:
    log = _log()
    _evaluate(log, key, flag=flag, reason=reason)
    assert log.pending == 0


def test_a_full_buffer_drops_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exposures, "MAX_BUFFER", 3)
    log = _log()
    for i in range(5):
        _evaluate(log, f"cus_{i}")
    assert log.pending == 3 and log.dropped == 7
