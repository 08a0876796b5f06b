"""Database engine and transactions, for SQLite (embedded default) and PostgreSQL.

Every money-moving write runs inside ``async with db.transaction() as conn``: one
database transaction that commits on success and rolls back on any exception.

SQLite allows one writer at a time. Its default deferred transactions deadlock when
two readers both try to upgrade to writers, so every transaction here starts with
``BEGIN IMMEDIATE`` and waits (``busy_timeout``) for the write lock instead; WAL mode
lets readers proceed meanwhile. PostgreSQL uses row locks (``SELECT ... FOR UPDATE``)
and unique constraints, which SQLite's single writer makes unnecessary there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from paystead.config import Settings


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=10000",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(settings: Settings) -> AsyncEngine:
    url = sa.make_url(settings.database_url)
    json = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60, **json)
        _install_sqlite_hooks(engine)
        return engine
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database: {url.get_backend_name()}")
    return create_async_engine(
        url,
        # No overflow: an overflow connection is opened for one checkout and closed
        # again, and under load that churn costs more than waiting for a pooled one.
        pool_size=settings.database_pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        pool_timeout=30,
        **json,
    )


class Database:
    """The engine plus the one way to open a unit of work."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(create_engine(settings))

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()


def insert_ignoring_conflicts(dialect: str, table: sa.Table, values: dict[str, Any]) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the dialect at hand.

    The unique constraint decides who wins a race; the loser gets no row back.
    """
    if dialect == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing()
    return sqlite.insert(table).values(values).on_conflict_do_nothing()
