"""Configuration: one pydantic-settings class, read from ``PAYSTEAD_*`` variables.

Nothing else in paystead reads ``os.environ``. Production swaps SQLite for PostgreSQL
by setting ``PAYSTEAD_DATABASE_URL`` alone.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYSTEAD_", env_file=None, extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./paystead.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://...",
    )
    database_pool_size: int = Field(default=20, ge=1)
    redis_url: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    #: Requests bodies larger than this get 413 before they are parsed.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    #: An in-flight idempotency key older than this is considered abandoned (crashed
    #: process) and may be taken over by a retry.
    idempotency_lock_seconds: int = Field(default=60, ge=1)
    #: Completed idempotency keys are kept at least this long (the IETF draft asks 24 h).
    idempotency_retention_hours: int = Field(default=48, ge=24)
    #: How long a verified API key stays in the in-process cache; a revoked key keeps
    #: working on a process for at most this long.
    api_key_cache_seconds: float = Field(default=30.0, ge=0)

    sandbox_latency_ms: int = Field(default=0, ge=0, description="added to every sandbox call")
    sandbox_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    sandbox_seed: int | None = None
    sandbox_delay_ms: int = Field(default=2000, ge=0, description="pm_card_delayed's delay")
    #: Sandbox fee, as gateways charge it: a percentage of the captured amount.
    sandbox_fee_percent: str = "2"

    # -- the optimization framework ------------------------------------------------
    #: When the system went live; phases and baselines count from here.
    launch_at: datetime | None = None
    #: A framework file replacing the shipped default (insights/framework.default.yaml).
    framework_file: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
