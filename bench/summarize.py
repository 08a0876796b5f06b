#!/usr/bin/env python3
"""Print run.sh's closing summary table from the JSON reports that payments.py wrote.

Kept out of run.sh so it stays typed and linted. Usage:
``summarize.py RESULTS_DIR "sqlite postgresql"``; reads ``result-<db>-<mode>.json``
and ``pgbench.tps`` from RESULTS_DIR.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

MODES = ("manual", "automatic")


def _p50_p99(report: dict[str, Any], kind: str) -> str:
    pct = report["latency_ms"].get(kind)
    if not pct or not pct["count"]:
        return "-"
    return f"{pct['p50']:.1f}/{pct['p99']:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _read_tps(path: Path) -> float | None:
    try:
        return float(path.read_text().strip())
    except (OSError, ValueError):
        return None


def summarize(results: Path, databases: list[str]) -> str:
    """One row per (database, mode), then pgbench TPS and the paystead/pgbench ratio."""
    header = (
        f"{'database':<11}{'mode':<10}{'pay/s':>8}{'req/s':>8}{'errors':>7}"
        f"{'create p50/p99 ms':>19}{'capture p50/p99 ms':>20}"
        f"{'client CPU':>11}{'server CPU':>11}{'db CPU':>8}"
    )
    lines = ["", header, "-" * len(header)]
    automatic_pg: float | None = None
    for db in databases:
        for mode in MODES:
            path = results / f"result-{db}-{mode}.json"
            if not path.exists():
                lines.append(f"{db:<11}{mode:<10}  (no result: see the log above)")
                continue
            r = json.loads(path.read_text())
            lines.append(
                f"{db:<11}{mode:<10}{r['payments_per_s']:>8.1f}{r['requests_per_s']:>8.1f}"
                f"{r['errors_total']:>7}{_p50_p99(r, 'create'):>19}{_p50_p99(r, 'capture'):>20}"
                f"{_pct(r['client_cpu_pct_of_one_core']):>11}"
                f"{_pct(r['server_cpu_pct_of_one_core']):>11}"
                f"{_pct(r.get('db_cpu_pct_of_one_core')):>8}"
            )
            if db == "postgresql" and mode == "automatic":
                automatic_pg = r["payments_per_s"]
    lines.append(
        f"(CPU % is of one core over the measured window; this machine has {os.cpu_count()} "
        "cores; db CPU is PostgreSQL's, SQLite runs inside the server)"
    )
    tps = _read_tps(results / "pgbench.tps")
    if tps is not None:
        lines.append(f"pgbench TPC-B (scale 8, 8 clients, 2 threads, TCP): {tps:.1f} TPS")
        if automatic_pg is not None and tps > 0:
            lines.append(
                "paystead automatic-capture payments/s on PostgreSQL / pgbench TPS: "
                f"{automatic_pg:.1f} / {tps:.1f} = {automatic_pg / tps:.3f}"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Entry point; argv is [results_dir, space-separated databases]."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(summarize(Path(argv[0]), argv[1].split()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
