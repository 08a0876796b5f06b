"""Shared fixtures: real databases (SQLite files and a throwaway PostgreSQL database).

Tests that take the ``backend`` fixture run twice, once per database. PostgreSQL must
be reachable on 127.0.0.1:5432 (``.ci/run`` starts it): an unreachable server fails
the run rather than skipping, so a green run always means both backends were tested.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from paystead.api.app import create_app
from paystead.config import Settings
from paystead.platform.apikeys import create_api_key
from paystead.platform.migrate import upgrade
from paystead.platform.schema import metadata
from paystead.wiring import Services, build_services

PG_ADMIN_DSN = os.environ.get(
    "PAYSTEAD_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for the whole run, migrated once, dropped at the end."""
    name = f"paystead_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_postgres(url: str) -> None:
    dbname = url.rsplit("/", 1)[1]
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={dbname}") as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'paystead.db'}"
        upgrade(url)
        return url
    url = str(request.getfixturevalue("postgres_url"))
    _truncate_postgres(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, api_key_cache_seconds=30)


class FrozenClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 4, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    built = build_services(settings)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def app(settings: Settings, services: Services) -> FastAPI:
    return create_app(settings, services)


@pytest.fixture
async def api_key(services: Services) -> str:
    _key, secret = await create_api_key(services.db, "tests")
    return secret


@pytest.fixture
async def client(app: FastAPI, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the app in-process, authenticated."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://paystead.test",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as http:
        yield http
