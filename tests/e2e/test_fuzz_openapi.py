"""Schemathesis generates requests from our own OpenAPI document and fires them at a real
server: whatever it sends, the answer is never a 5xx, and every error is problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from paystead.api.app import create_app
from paystead.config import Settings
from tests.e2e.serverproc import RunningServer, running_server

schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.db"
    with running_server(f"sqlite+aiosqlite:///{db}") as running:
        yield running


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_makes_the_server_fail(case: schemathesis.Case, live: RunningServer) -> None:
    response = case.call(
        base_url=live.base_url, headers={"Authorization": f"Bearer {live.api_key}"}
    )
    assert response.status_code < 500, (case.method, case.path, case.body, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == ["application/problem+json"], response.text
        problem = response.json()
        assert {"type", "title", "status", "detail", "code"} <= problem.keys()
        assert problem["status"] == response.status_code
