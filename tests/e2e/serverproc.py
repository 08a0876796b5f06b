"""Run the real ``paystead`` CLI and server as subprocesses, on loopback, for e2e tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PAYSTEAD = str(Path(sys.executable).parent / "paystead")


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    api_key: str
    env: dict[str, str]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PAYSTEAD, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(database_url: str, *, workers: int = 1) -> Iterator[RunningServer]:
    """Migrate, create an API key and serve with ``workers`` processes until the block ends."""
    env = {**os.environ, "PAYSTEAD_DATABASE_URL": database_url, "PAYSTEAD_LOG_LEVEL": "warning"}
    migrated = cli(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    created = cli(env, "apikey", "create", "--name", "e2e")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("sk_") and "\n" not in secret
    port = _free_port()
    proc = subprocess.Popen(
        [PAYSTEAD, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "server exited during start-up"
            assert time.monotonic() < deadline, "server did not start in 30 s"
            time.sleep(0.2)
        yield RunningServer(base, secret, env)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
