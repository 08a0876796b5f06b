"""The optional Redis connection: state shared by every process when it is configured.

With ``PAYSTEAD_REDIS_URL`` set, the fraud velocity windows
(:mod:`paystead.risk.velocity_redis`), feature-flag change broadcasts
(:mod:`paystead.optimize.flags.broadcast`) and the leader leases of periodic jobs
(:mod:`paystead.platform.leader`) live in Redis, so N stateless API and worker processes
behave as one. Without it each process keeps its own, which is exact for the embedded
single-process SQLite setup.

Every key and channel starts with ``PAYSTEAD_REDIS_PREFIX`` (``paystead:``), so several
deployments or test runs can share one server. One Redis (or a Sentinel-managed
primary) is assumed, not a Cluster: the velocity script touches several keys at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from paystead.config import Settings


@dataclass(frozen=True, slots=True)
class SharedState:
    """A Redis client and the prefix every paystead key and channel starts with."""

    client: Redis
    prefix: str

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def close(self) -> None:
        await self.client.aclose()


def connect(settings: Settings) -> SharedState | None:
    """The shared state ``settings`` ask for (None without ``PAYSTEAD_REDIS_URL``).

    The client connects lazily (on first use), with short timeouts: a Redis outage
    must cost a payment milliseconds, not hang it.
    """
    if not settings.redis_url:
        return None
    client = Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=2.0,
        socket_timeout=2.0,
        health_check_interval=30,
        # CLIENT LIST shows which deployment a connection belongs to.
        client_name=settings.redis_prefix.rstrip(":").replace(" ", "_") or "paystead",
    )
    return SharedState(client=client, prefix=settings.redis_prefix)
