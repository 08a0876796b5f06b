"""Which URLs a webhook endpoint may have.

HTTPS only; plain HTTP is allowed to loopback addresses alone, and only when
``PAYSTEAD_WEBHOOK_ALLOW_HTTP_LOOPBACK`` is set (tests and local development). No
credentials in the URL, no fragment, and an IP literal must be a public address
(no private, link-local, loopback or reserved ranges: a webhook must not become a way
to reach the platform's own network). Names that resolve to private addresses are not
checked here; run deliveries through an egress proxy for that.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from paystead.errors import InvalidInput

MAX_URL_LENGTH = 2048
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def _invalid(detail: str) -> InvalidInput:
    return InvalidInput(detail, code="url_invalid", param="url")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    address = _ip(host)
    if address is not None:
        return address.is_loopback
    return host.lower().rstrip(".") in _LOOPBACK_NAMES or host.lower().endswith(".localhost")


def validate_url(url: str, *, allow_http_loopback: bool = False) -> str:
    """Return ``url`` if an endpoint may have it; raise :class:`InvalidInput` if not."""
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise _invalid("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _invalid(f"the URL is malformed: {exc}") from None
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise _invalid("the URL must be absolute, https://host/...")
    if parts.username is not None or parts.password is not None:
        raise _invalid("the URL must not carry credentials")
    if parts.fragment:
        raise _invalid("the URL must not have a fragment")
    if port == 0:
        raise _invalid("the URL's port must be 1 to 65535")
    loopback = is_loopback(host)
    if parts.scheme == "http" and not (loopback and allow_http_loopback):
        raise _invalid("the URL must use https")
    address = _ip(host)
    if loopback:
        if not allow_http_loopback:
            raise _invalid("the URL must not point at this machine")
    elif address is not None and not address.is_global:
        raise _invalid("the URL must not point at a private or reserved address")
    return url
