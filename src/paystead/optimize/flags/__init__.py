"""Feature flags: definitions (``model``), evaluation with stable hashing
(``evaluate``), the audited store (``store``), the in-process snapshot (``cache``) and
the OpenFeature provider (``provider``). See ``docs/flags.md``."""

from __future__ import annotations

from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.provider.no_op_provider import NoOpProvider

from paystead.ids import new_id
from paystead.optimize.flags.cache import FlagCache
from paystead.optimize.flags.provider import PaysteadProvider
from paystead.optimize.flags.store import FlagStore

__all__ = ["FlagCache", "FlagStore", "PaysteadProvider", "features_client", "release_client"]


def features_client(cache: FlagCache) -> OpenFeatureClient:
    """An OpenFeature client over a fresh :class:`PaysteadProvider` on a domain of its
    own (no global provider: several ``Services`` may live in one process)."""
    domain = new_id("flags")
    api.set_provider(PaysteadProvider(cache), domain=domain)
    return api.get_client(domain=domain)


def release_client(client: OpenFeatureClient) -> None:
    """Detach the client's provider (and with it the snapshot) from the global registry."""
    if client.domain is not None:
        api.set_provider(NoOpProvider(), domain=client.domain)
