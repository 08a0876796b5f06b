"""``paystead serve --workers 2``: /metrics adds up both worker processes' figures
(prometheus-client's multi-process mode, a fresh directory per run)."""

from __future__ import annotations

import time

import httpx

from tests.e2e.serverproc import running_server
from tests.e2e.test_metrics import value


def _metrics(base: str) -> str:
    response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def test_metrics_aggregate_every_worker(database_url: str) -> None:
    with running_server(database_url, workers=2) as server:
        # both workers have started once each (a worker counts its own start)
        deadline = time.monotonic() + 20
        while value(_metrics(server.base_url), "paystead_process_starts_total") < 2:
            assert time.monotonic() < deadline, "the second worker never showed up in /metrics"
            time.sleep(0.2)

        before = _metrics(server.base_url)
        auth = {"Authorization": f"Bearer {server.api_key}"}
        # a new connection per request, so the kernel spreads them over both workers
        for _ in range(30):
            with httpx.Client(base_url=server.base_url, headers=auth, timeout=10) as http:
                response = http.get("/v1/payments", params={"limit": 1})
                assert response.status_code == 200
        after = _metrics(server.base_url)

        labels = {"method": "GET", "route": "/v1/payments", "status": "200"}
        delta = value(after, "paystead_http_requests_total", **labels) - value(
            before, "paystead_http_requests_total", **labels
        )
        assert delta == 30  # every request counted once, whichever worker served it
        assert value(after, "paystead_process_starts_total") == 2
