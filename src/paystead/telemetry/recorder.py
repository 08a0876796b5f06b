"""The one place measurements go: Prometheus metrics and the per-minute rollups at once.

Prometheus metrics (names as ``GET /metrics`` shows them; durations use the bounds of
:mod:`paystead.telemetry.histogram`):

- ``paystead_http_requests_total`` and ``paystead_http_request_duration_seconds``
  {method, route, status}: ``route`` is the matched route's template
  (``/v1/payments/{payment_id}``), ``unmatched`` when none matched, never a raw path;
- ``paystead_payments_total`` {gateway, method, currency, channel, outcome}: each
  payment's first answer, ``outcome`` ``succeeded``, ``authorized`` (awaits capture) or
  ``failed``; ``method`` the family (``card``, ``upi``...), ``channel`` from the
  payment's ``metadata["channel"]`` (``web``, ``android``, ``ios``, else ``other``);
- ``paystead_db_statement_duration_seconds`` {operation};
- ``paystead_probe_total`` {result} and ``paystead_probe_duration_seconds``;
- ``paystead_cache_lookups_total`` {cache, result};
- ``paystead_process_starts_total``; gauges ``paystead_outbox_lag_seconds``,
  ``paystead_host_cpu_percent``, ``paystead_host_memory_percent``.

Under ``paystead serve --workers N`` prometheus-client runs in multi-process mode
(``PROMETHEUS_MULTIPROC_DIR``): each worker writes its values to files there and
``/metrics`` adds up every worker's. Otherwise each app has its own registry.

The hot path (:meth:`Telemetry.request`, :meth:`Telemetry.statement`) caches the
labelled children and rollup keys per label combination, so a request costs two
Prometheus updates and two or three dict updates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import prometheus_client as prom
from prometheus_client import CollectorRegistry, multiprocess

from paystead.telemetry import rollups as r
from paystead.telemetry.histogram import BOUNDS
from paystead.telemetry.rollups import RollupBuffer, labels

# No ``*_created`` series: they double the exposition and no query here uses them.
prom.disable_created_metrics()  # type: ignore[no-untyped-call]

CHANNELS = frozenset({"web", "android", "ios"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
#: A request in a process's first minute is a cold start.
COLD_SECONDS = 60.0
_STATUS_CLASS = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class _Request:
    """Per (method, route, status): the Prometheus children and rollup keys."""

    __slots__ = ("api", "count", "duration", "key")

    def __init__(self, count: Any, duration: Any, key: r.Key, api: r.Key | None):
        self.count = count
        self.duration = duration
        self.key = key
        self.api = api


class Telemetry:
    def __init__(self, *, clock: Callable[[], datetime], multiprocess_dir: str | None = None):
        self.clock = clock
        self.multiprocess = multiprocess_dir is not None
        self.registry = CollectorRegistry(auto_describe=True)
        if not self.multiprocess:
            prom.ProcessCollector(registry=self.registry)
            prom.PlatformCollector(registry=self.registry)
            prom.GCCollector(registry=self.registry)
        self.rollups = RollupBuffer(clock())
        reg = self.registry
        self._http_requests = prom.Counter(
            "paystead_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=reg,
        )
        self._http_duration = prom.Histogram(
            "paystead_http_request_duration_seconds",
            "HTTP request duration, first byte in to last byte out",
            ["method", "route", "status"],
            buckets=BOUNDS,
            registry=reg,
        )
        self._payments = prom.Counter(
            "paystead_payments",
            "Payments' first answers by gateway, method family, currency and channel",
            ["gateway", "method", "currency", "channel", "outcome"],
            registry=reg,
        )
        self._db_duration = prom.Histogram(
            "paystead_db_statement_duration_seconds",
            "Database statement duration (cursor execute)",
            ["operation"],
            buckets=BOUNDS,
            registry=reg,
        )
        self._probes = prom.Counter(
            "paystead_probe", "Synthetic end-to-end payment probes", ["result"], registry=reg
        )
        self._probe_duration = prom.Histogram(
            "paystead_probe_duration_seconds",
            "Synthetic probe duration",
            buckets=BOUNDS,
            registry=reg,
        )
        self._cache = prom.Counter(
            "paystead_cache_lookups", "Cache lookups", ["cache", "result"], registry=reg
        )
        self._deliveries = prom.Counter(
            "paystead_deliveries",
            "Webhook, email and SMS delivery attempts by channel and outcome",
            ["channel", "outcome"],
            registry=reg,
        )
        self._delivery_duration = prom.Histogram(
            "paystead_delivery_duration_seconds",
            "Delivery attempt duration by channel",
            ["channel"],
            buckets=BOUNDS,
            registry=reg,
        )
        self._starts = prom.Counter(
            "paystead_process_starts", "Serving processes started", registry=reg
        )
        self._outbox_lag = prom.Gauge(
            "paystead_outbox_lag_seconds",
            "Age of the oldest undelivered outbox event",
            registry=reg,
            multiprocess_mode="max",
        )
        self._cpu = prom.Gauge(
            "paystead_host_cpu_percent", "Host CPU use", registry=reg, multiprocess_mode="max"
        )
        self._memory = prom.Gauge(
            "paystead_host_memory_percent",
            "Host memory use",
            registry=reg,
            multiprocess_mode="max",
        )
        self._requests: dict[tuple[str, str, int], _Request] = {}
        self._statements: dict[str, tuple[Any, r.Key]] = {}
        self._cold_until: float | None = time.monotonic() + COLD_SECONDS
        self._cold_key: r.Key = (r.API_COLD_REQUESTS, labels())
        self._cache_seen: dict[str, tuple[int, int]] = {}
        self._starts.inc()
        self.rollups.add((r.PROCESS_STARTS, labels()))

    # -- the hot path ------------------------------------------------------------------

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        cached = self._requests.get((method, route, status))
        if cached is None:
            cached = self._request_series(method, route, status)
        cached.count.inc()
        cached.duration.observe(seconds)
        buffer = self.rollups
        buffer.observe(cached.key, seconds)
        if cached.api is not None:
            buffer.observe(cached.api, seconds)
            if self._cold_until is not None:
                if time.monotonic() < self._cold_until:
                    buffer.add(self._cold_key)
                else:
                    self._cold_until = None

    def _request_series(self, method: str, route: str, status: int) -> _Request:
        method_label = method if method in METHODS else "OTHER"
        code = str(status)
        api = None
        if route.startswith("/v1/"):
            api = (
                r.API_REQUEST_DURATION,
                labels(**{"class": _STATUS_CLASS.get(status // 100, "other")}),
            )
        series = _Request(
            self._http_requests.labels(method_label, route, code),
            self._http_duration.labels(method_label, route, code),
            (r.HTTP_REQUEST_DURATION, labels(method=method_label, route=route, status=code)),
            api,
        )
        self._requests[(method, route, status)] = series
        return series

    def statement(self, operation: str, seconds: float) -> None:
        cached = self._statements.get(operation)
        if cached is None:
            cached = self._statements[operation] = (
                self._db_duration.labels(operation),
                (r.DB_STATEMENT_DURATION, labels(op=operation)),
            )
        cached[0].observe(seconds)
        self.rollups.observe(cached[1], seconds)

    # -- everything else -----------------------------------------------------------------

    def payment(
        self, *, gateway: str, method: str, currency: str, channel: str, outcome: str
    ) -> None:
        channel = channel if channel in CHANNELS else "other"
        self._payments.labels(gateway, method, currency, channel, outcome).inc()
        self.rollups.add(
            (
                r.PAYMENTS,
                labels(
                    gateway=gateway,
                    method=method,
                    currency=currency,
                    channel=channel,
                    outcome=outcome,
                ),
            )
        )

    def delivery(self, channel: str, succeeded: bool, seconds: float) -> None:
        """One attempt to deliver a webhook, an email or an SMS (integration health)."""
        outcome = "succeeded" if succeeded else "failed"
        self._deliveries.labels(channel, outcome).inc()
        self._delivery_duration.labels(channel).observe(seconds)
        self.rollups.observe(
            (r.DELIVERY_DURATION, labels(channel=channel, outcome=outcome)), seconds
        )

    def probe(self, ok: bool, seconds: float) -> None:
        result = "ok" if ok else "failed"
        self._probes.labels(result).inc()
        self._probe_duration.observe(seconds)
        self.rollups.observe((r.PROBE_DURATION, labels(result=result)), seconds)

    def cache_totals(self, cache: str, hits: int, misses: int) -> None:
        """Record a cache's lookups since the last call, from its running totals."""
        seen_hits, seen_misses = self._cache_seen.get(cache, (0, 0))
        new_hits, new_misses = max(hits - seen_hits, 0), max(misses - seen_misses, 0)
        self._cache_seen[cache] = (hits, misses)
        if new_hits:
            self._cache.labels(cache, "hit").inc(new_hits)
            self.rollups.add((r.CACHE_LOOKUPS, labels(cache=cache, result="hit")), new_hits)
        if new_misses:
            self._cache.labels(cache, "miss").inc(new_misses)
            self.rollups.add((r.CACHE_LOOKUPS, labels(cache=cache, result="miss")), new_misses)

    def outbox_lag(self, seconds: float) -> None:
        self._outbox_lag.set(seconds)
        self.rollups.sample((r.OUTBOX_LAG, labels()), seconds)

    def host(self, cpu_percent: float, memory_percent: float) -> None:
        self._cpu.set(cpu_percent)
        self._memory.set(memory_percent)
        self.rollups.sample((r.HOST_CPU, labels()), cpu_percent)
        self.rollups.sample((r.HOST_MEMORY, labels()), memory_percent)

    # -- exposition ----------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The Prometheus text format: this app's registry, or every worker's files."""
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return prom.generate_latest(registry)
        return prom.generate_latest(self.registry)
