"""API keys: shown once, stored as a SHA-256 hash, looked up by a short public prefix.

Keys are 256 bits of randomness, so a fast hash is enough (no password stretching is
needed); the comparison is constant-time. Verified keys are cached in-process for a
few seconds so that the payment path does not pay a database round trip per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from paystead.errors import Unauthenticated
from paystead.events import catalog, outbox
from paystead.ids import new_id
from paystead.platform.db import Database
from paystead.platform.schema import api_keys

SECRET_PREFIX = "sk_"
_PREFIX_LENGTH = 14  # "sk_" + 11 random characters: public, indexed, unique


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(db: Database, name: str) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is never available again."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(id=new_id("key"), name=name)
    now = datetime.now(UTC)
    prefix = secret[:_PREFIX_LENGTH]
    async with db.transaction() as conn:
        await conn.execute(
            api_keys.insert().values(
                id=key.id, name=name, prefix=prefix, secret_hash=_hash(secret), created_at=now
            )
        )
        # Audited like any configuration change: who made which key, never its secret.
        audited = {"id": key.id, "object": "api_key", "name": name, "prefix": prefix}
        await outbox.record(conn, catalog.API_KEY_CREATED, audited, at=now)
    return key, secret


async def revoke_api_key(db: Database, key_id: str) -> bool:
    now = datetime.now(UTC)
    async with db.transaction() as conn:
        result = await conn.execute(
            api_keys.update()
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if result.rowcount:
            revoked = {"id": key_id, "object": "api_key", "revoked": int(now.timestamp())}
            await outbox.record(conn, catalog.API_KEY_REVOKED, revoked, at=now)
    return bool(result.rowcount)


class ApiKeyVerifier:
    def __init__(self, db: Database, cache_seconds: float):
        self.db = db
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        #: Running totals of cache lookups, read by telemetry (the cache-hit-rate KPI).
        self.hits = 0
        self.misses = 0

    async def verify(self, secret: str | None) -> ApiKey:
        if not secret or not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
            raise Unauthenticated("send a valid API key as 'Authorization: Bearer sk_...'")
        digest = _hash(secret)
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            self.hits += 1
            return cached[0]
        self.misses += 1
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(
                    sa.select(api_keys.c.id, api_keys.c.name, api_keys.c.secret_hash).where(
                        api_keys.c.prefix == secret[:_PREFIX_LENGTH],
                        api_keys.c.revoked_at.is_(None),
                    )
                )
            ).first()
        if row is None or not hmac.compare_digest(row.secret_hash, digest):
            raise Unauthenticated("the API key is not valid")
        key = ApiKey(id=row.id, name=row.name)
        if self.cache_seconds:
            self._cache[digest] = (key, time.monotonic() + self.cache_seconds)
        return key
