#!/usr/bin/env python3
"""Closed-loop load generator for the paystead payment path.

Each simulated client loops: ``POST /v1/payments`` (and, in ``manual`` mode,
``POST /v1/payments/{id}/capture``), each request with a fresh
``Idempotency-Key``. Only requests that *complete* inside the measurement
window (after ``--warmup``, for ``--duration`` seconds) are counted, so
connection set-up, cold caches and the tail of in-flight requests at the end do
not skew the rates. The run is bounded: no new payment starts after the window
closes, and anything still in flight is abandoned after ``--timeout`` seconds.

Every simulated client has its own one-connection ``httpx.AsyncClient`` (HTTP/1.1,
keep-alive), so there are ``--concurrency`` connections in all: httpcore's pool
does per-request work proportional to its size, and one shared pool of 64 made
this client ~8x slower (``--shared-pool`` keeps that variant for comparison).

This is a hand-run benchmark, not a test. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REQUEST_TYPES = ("create", "capture")
TRANSPORT_ERROR_BACKOFF_S = 0.05
# Extra time given to worker processes to start before the shared clock begins.
PROCESS_START_GRACE_S = 1.0


@dataclass(frozen=True)
class WorkerConfig:
    """Everything one worker process needs; picklable so it can cross a fork."""

    url: str
    api_key: str
    concurrency: int
    mode: str
    amount: int
    currency: str
    timeout: float
    shared_pool: bool
    # Shared CLOCK_MONOTONIC instants (system-wide on Linux) so that all worker
    # processes measure the same window.
    start_at: float
    window_start: float
    window_end: float


@dataclass
class WorkerResult:
    """Raw samples from one worker, merged by the parent; kept raw so percentiles are exact."""

    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {t: [] for t in REQUEST_TYPES}
    )
    errors: dict[str, Counter[str]] = field(
        default_factory=lambda: {t: Counter() for t in REQUEST_TYPES}
    )
    error_examples: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, Counter[str]] = field(
        default_factory=lambda: {t: Counter() for t in REQUEST_TYPES}
    )
    payments: int = 0
    cpu_seconds: float = 0.0
    abandoned: int = 0

    def merge(self, other: WorkerResult) -> None:
        """Fold another worker's samples into this one."""
        for t in REQUEST_TYPES:
            self.latencies[t].extend(other.latencies[t])
            self.errors[t].update(other.errors[t])
            self.statuses[t].update(other.statuses[t])
        for key, example in other.error_examples.items():
            self.error_examples.setdefault(key, example)
        self.payments += other.payments
        self.cpu_seconds += other.cpu_seconds
        self.abandoned += other.abandoned


class Worker:
    """One event loop's worth of simulated clients, each a sequential closed loop."""

    def __init__(self, cfg: WorkerConfig, clients: list[httpx.AsyncClient]) -> None:
        self.cfg = cfg
        self.clients = clients
        self.result = WorkerResult()
        self.create_body = {
            "amount": cfg.amount,
            "currency": cfg.currency,
            "payment_method": "pm_card_visa",
            "capture_method": cfg.mode,
            "description": "bench",
        }

    def _in_window(self, t: float) -> bool:
        return self.cfg.window_start <= t < self.cfg.window_end

    def _error(self, kind: str, code: str, detail: str, t: float) -> None:
        if self._in_window(t):
            self.result.errors[kind][code] += 1
        # Keep one example per error even during warmup: it is what you need to debug.
        self.result.error_examples.setdefault(f"{kind} {code}", detail[:300])

    async def _request(
        self, client: httpx.AsyncClient, kind: str, path: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Send one POST; return its JSON body on 2xx, record an error and return None otherwise."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        start = time.monotonic()
        try:
            response = await client.post(path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self._error(kind, type(exc).__name__, repr(exc), time.monotonic())
            # Connection refused etc. fail instantly; don't spin the CPU on them.
            await asyncio.sleep(TRANSPORT_ERROR_BACKOFF_S)
            return None
        end = time.monotonic()
        if not 200 <= response.status_code < 300:
            self._error(kind, str(response.status_code), response.text, end)
            return None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            self._error(kind, "invalid_json", response.text, end)
            return None
        if self._in_window(end):
            self.result.latencies[kind].append(end - start)
            self.result.statuses[kind][str(payload.get("status"))] += 1
        return payload

    async def _one_payment(self, client: httpx.AsyncClient) -> None:
        created = await self._request(client, "create", "/v1/payments", self.create_body)
        if created is None:
            return
        if self.cfg.mode == "manual":
            payment_id = created.get("id")
            if not isinstance(payment_id, str) or not payment_id:
                self._error("create", "missing_id", json.dumps(created), time.monotonic())
                return
            path = f"/v1/payments/{payment_id}/capture"
            if await self._request(client, "capture", path, {}) is None:
                return
        if self._in_window(time.monotonic()):
            self.result.payments += 1

    async def _client_loop(self, client: httpx.AsyncClient) -> None:
        while time.monotonic() < self.cfg.window_end:
            await self._one_payment(client)

    async def _cpu_meter(self) -> None:
        """Measure this process's CPU time over the window only (excludes set-up and tail)."""
        await asyncio.sleep(max(0.0, self.cfg.window_start - time.monotonic()))
        cpu_start = time.process_time()
        await asyncio.sleep(max(0.0, self.cfg.window_end - time.monotonic()))
        self.result.cpu_seconds = time.process_time() - cpu_start

    async def run(self) -> WorkerResult:
        """Run all clients until the window closes, then drain for at most ``timeout`` seconds."""
        await asyncio.sleep(max(0.0, self.cfg.start_at - time.monotonic()))
        meter = asyncio.create_task(self._cpu_meter())
        loops = [asyncio.create_task(self._client_loop(c)) for c in self.clients]
        drain_deadline = self.cfg.window_end + self.cfg.timeout + 1.0
        _, pending = await asyncio.wait(loops, timeout=max(0.0, drain_deadline - time.monotonic()))
        for task in pending:
            task.cancel()
        self.result.abandoned = len(pending)
        await asyncio.gather(*pending, return_exceptions=True)
        await meter
        return self.result


def _make_client(cfg: WorkerConfig, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=cfg.url,
        http1=True,
        http2=False,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(cfg.timeout),
        headers={"Authorization": f"Bearer {cfg.api_key}"},
    )


async def _run_worker_async(cfg: WorkerConfig) -> WorkerResult:
    # httpcore's pool scans every connection on each request, so one pool of 64 costs the
    # client far more CPU than 64 pools of 1 (encode/httpx#3215). Same sockets either way.
    if cfg.shared_pool:
        shared = _make_client(cfg, cfg.concurrency)
        clients = [shared] * cfg.concurrency
    else:
        clients = [_make_client(cfg, 1) for _ in range(cfg.concurrency)]
    try:
        return await Worker(cfg, clients).run()
    finally:
        await asyncio.gather(*(c.aclose() for c in set(clients)))


def run_worker(cfg: WorkerConfig) -> WorkerResult:
    """Process entry point: one asyncio loop per process."""
    return asyncio.run(_run_worker_async(cfg))


def _proc_tree_cpu_seconds(root_pid: int) -> float | None:
    """User+system CPU of a live process and all its descendants (Linux /proc), or None."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu: dict[int, float] = {}
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # process exited while we were scanning
        # comm (field 2) may contain spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        pid, ppid = int(entry), int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
        children.setdefault(ppid, []).append(pid)
    if root_pid not in cpu:
        return None
    total, stack = 0.0, [root_pid]
    while stack:
        pid = stack.pop()
        total += cpu.get(pid, 0.0)
        stack.extend(children.get(pid, ()))
    return total


class TreeCpuMeter(threading.Thread):
    """Samples other process trees' CPU at the window edges, from a side thread.

    Lets the reader see where the machine's cores went: client vs server vs database.
    """

    def __init__(self, pids: dict[str, int], window_start: float, window_end: float) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.window_start = window_start
        self.window_end = window_end
        self.seconds: dict[str, float | None] = dict.fromkeys(pids)

    def _sample(self) -> dict[str, float | None]:
        return {label: _proc_tree_cpu_seconds(pid) for label, pid in self.pids.items()}

    def run(self) -> None:
        time.sleep(max(0.0, self.window_start - time.monotonic()))
        before = self._sample()
        time.sleep(max(0.0, self.window_end - time.monotonic()))
        after = self._sample()
        for label in self.pids:
            start, end = before[label], after[label]
            if start is not None and end is not None:
                self.seconds[label] = end - start


def percentiles_ms(samples: list[float]) -> dict[str, float | int | None]:
    """p50/p95/p99/max over every sample (no histogram bucketing), in milliseconds."""
    if not samples:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ms = [s * 1000.0 for s in samples]
    if len(ms) == 1:
        p50 = p95 = p99 = ms[0]
    else:
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        p50, p95, p99 = cuts[49], cuts[94], cuts[98]
    return {"count": len(ms), "p50": p50, "p95": p95, "p99": p99, "max": max(ms)}


def split_concurrency(concurrency: int, processes: int) -> list[int]:
    """Spread clients over processes as evenly as possible (e.g. 64/3 -> 22, 21, 21)."""
    base, extra = divmod(concurrency, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


def preflight(url: str, timeout: float) -> str | None:
    """Fail fast with a clear message if nothing listens at ``url``; return an error or None."""
    try:
        httpx.get(f"{url.rstrip('/')}/healthz", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"cannot reach {url}: {exc!r}"
    return None


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Fork the worker processes, wait for them and merge their raw samples into a report."""
    grace = PROCESS_START_GRACE_S if args.processes > 1 else 0.0
    start_at = time.monotonic() + grace
    window_start = start_at + args.warmup
    window_end = window_start + args.duration
    configs = [
        WorkerConfig(
            url=args.url,
            api_key=args.api_key,
            concurrency=c,
            mode=args.mode,
            amount=args.amount,
            currency=args.currency,
            timeout=args.timeout,
            shared_pool=args.shared_pool,
            start_at=start_at,
            window_start=window_start,
            window_end=window_end,
        )
        for c in split_concurrency(args.concurrency, args.processes)
    ]
    watched = {"server": args.server_pid, "db": args.db_pid}
    meter = TreeCpuMeter(
        {label: pid for label, pid in watched.items() if pid is not None},
        window_start,
        window_end,
    )
    merged = WorkerResult()
    if args.processes == 1:
        meter.start()
        merged.merge(run_worker(configs[0]))
    else:
        # Fork the workers before starting the meter thread: forking a threaded process is fragile.
        with multiprocessing.Pool(processes=args.processes) as pool:
            meter.start()
            for result in pool.map(run_worker, configs, chunksize=1):
                merged.merge(result)
    meter.join(timeout=5.0)
    return build_report(args, merged, meter.seconds)


def _pct_of_core(cpu_seconds: float | None, duration: float) -> float | None:
    return None if cpu_seconds is None else 100.0 * cpu_seconds / duration


def build_report(
    args: argparse.Namespace, merged: WorkerResult, other_cpu: dict[str, float | None]
) -> dict[str, Any]:
    """Turn merged samples into the numbers we print (and emit as JSON)."""
    duration = args.duration
    types = REQUEST_TYPES if args.mode == "manual" else ("create",)
    ok_requests = sum(len(merged.latencies[t]) for t in types)
    errors = {t: dict(merged.errors[t]) for t in types if merged.errors[t]}
    cores = os.cpu_count() or 1
    return {
        "config": {
            "url": args.url,
            "mode": args.mode,
            "concurrency": args.concurrency,
            "processes": args.processes,
            "warmup_s": args.warmup,
            "duration_s": duration,
            "timeout_s": args.timeout,
            "shared_pool": args.shared_pool,
            "cpu_count": cores,
        },
        "payments": merged.payments,
        "payments_per_s": merged.payments / duration,
        "requests_ok": ok_requests,
        "requests_per_s": ok_requests / duration,
        "errors": errors,
        "errors_total": sum(sum(c.values()) for c in merged.errors.values()),
        "error_examples": merged.error_examples,
        "latency_ms": {t: percentiles_ms(merged.latencies[t]) for t in types},
        "statuses": {t: dict(merged.statuses[t]) for t in types},
        "client_cpu_s": merged.cpu_seconds,
        "client_cpu_pct_of_one_core": 100.0 * merged.cpu_seconds / duration,
        "server_cpu_s": other_cpu.get("server"),
        "server_cpu_pct_of_one_core": _pct_of_core(other_cpu.get("server"), duration),
        "db_cpu_s": other_cpu.get("db"),
        "db_cpu_pct_of_one_core": _pct_of_core(other_cpu.get("db"), duration),
        "abandoned_in_flight": merged.abandoned,
    }


def _fmt(value: float | int | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def format_report(report: dict[str, Any]) -> str:
    """Human-readable summary; the JSON form carries the same numbers."""
    cfg = report["config"]
    duration, cores = cfg["duration_s"], cfg["cpu_count"]
    lines = [
        f"paystead payments benchmark: mode={cfg['mode']} url={cfg['url']} "
        f"concurrency={cfg['concurrency']} processes={cfg['processes']} "
        f"warmup={cfg['warmup_s']:g}s duration={duration:g}s",
        f"completed payments : {report['payments']} ({report['payments_per_s']:.1f} payments/s)",
        f"successful requests: {report['requests_ok']} ({report['requests_per_s']:.1f} requests/s)",
        f"errors             : {report['errors_total']}",
    ]
    for kind, codes in report["errors"].items():
        for code, count in sorted(codes.items()):
            lines.append(f"  {kind:<8} {code:<22} {count}")
    if report["error_examples"]:
        lines.append("first error of each kind (warmup included):")
        for key, example in sorted(report["error_examples"].items()):
            lines.append(f"  {key}: {example[:160]!r}")
    lines.append(f"{'latency (ms)':<12} {'count':>8} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for kind, pct in report["latency_ms"].items():
        lines.append(
            f"  {kind:<10} {pct['count']:>8} {_fmt(pct['p50']):>8} {_fmt(pct['p95']):>8} "
            f"{_fmt(pct['p99']):>8} {_fmt(pct['max']):>8}"
        )
    statuses = "; ".join(
        f"{kind}: " + ", ".join(f"{s}={n}" for s, n in sorted(counts.items()))
        for kind, counts in report["statuses"].items()
        if counts
    )
    if statuses:
        lines.append(f"payment statuses   : {statuses}")
    lines.append(
        f"client CPU         : {report['client_cpu_s']:.1f} s in {duration:g} s = "
        f"{report['client_cpu_pct_of_one_core']:.0f}% of one core "
        f"({report['client_cpu_pct_of_one_core'] / cores:.0f}% of {cores} cores)"
    )
    for label, name in (("server", "server CPU"), ("db", "database CPU")):
        cpu, pct = report[f"{label}_cpu_s"], report[f"{label}_cpu_pct_of_one_core"]
        if cpu is not None:
            lines.append(
                f"{name:<19}: {cpu:.1f} s in {duration:g} s = {pct:.0f}% of one core "
                f"({pct / cores:.0f}% of {cores} cores)"
            )
    if report["abandoned_in_flight"]:
        lines.append(f"abandoned clients  : {report['abandoned_in_flight']} (timed out at the end)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """CLI options; the API key may come from PAYSTEAD_API_KEY so it stays out of `ps`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("PAYSTEAD_API_KEY"),
        help="secret API key (default: $PAYSTEAD_API_KEY)",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="total concurrent clients")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument(
        "--mode",
        choices=("manual", "automatic"),
        default="manual",
        help="manual: create + capture (2 requests/payment); automatic: create only (1)",
    )
    parser.add_argument("--processes", type=int, default=1, help="client processes to fork")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s")
    parser.add_argument(
        "--shared-pool",
        action="store_true",
        help="one httpx pool per process instead of one per client (slower client, see README)",
    )
    parser.add_argument("--amount", type=int, default=50000, help="amount in minor units")
    parser.add_argument("--currency", default="INR")
    parser.add_argument(
        "--server-pid",
        type=int,
        default=None,
        help="if given, also report this process tree's CPU over the window (Linux)",
    )
    parser.add_argument(
        "--db-pid",
        type=int,
        default=None,
        help="likewise for the database server (e.g. the PostgreSQL postmaster)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--json-out", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("--api-key (or PAYSTEAD_API_KEY) is required")
    if args.processes < 1 or args.concurrency < args.processes:
        parser.error("need 1 <= --processes <= --concurrency")
    if args.duration <= 0 or args.warmup < 0 or args.timeout <= 0:
        parser.error("need --duration > 0, --warmup >= 0, --timeout > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Exit 0 if any payment completed, 1 if none did, 2 if the server is unreachable."""
    args = parse_args(argv)
    problem = preflight(args.url, args.timeout)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    report = run_benchmark(args)
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0 if report["payments"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
