"""The client's IP address, for per-IP limits.

X-Forwarded-For is read only as far as TRUSTED_PROXY_COUNT proxies appended to it: anything further
left is client-controlled. When the address cannot be known (the proxies promised by
TRUSTED_PROXY_COUNT did not add theirs, the value is not an IP address, the server has no peer
address) the answer is None, and every per-IP limit refuses: unknown clients fail closed.

Limits are keyed on `client_ip_limit_key`: one IPv4 address, or the /64 an IPv6 address lies in,
since a single IPv6 subscriber usually holds a whole /64 and could otherwise rotate addresses
freely.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings

IPV6_LIMIT_PREFIX = 64


def _valid(address: str | None) -> str | None:
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def _from_forwarded(forwarded: str | None, peer: str | None) -> str | None:
    hops = settings.TRUSTED_PROXY_COUNT
    if not hops:
        return _valid(peer)
    addresses = [a.strip() for a in (forwarded or "").split(",") if a.strip()]
    if len(addresses) < hops:
        return None  # the trusted proxies did not all append: what is there is client-controlled
    return _valid(addresses[-hops])


def request_client_ip(request: Any) -> str | None:
    return _from_forwarded(request.META.get("HTTP_X_FORWARDED_FOR"), request.META.get("REMOTE_ADDR"))


def scope_client_ip(scope: Mapping[str, Any]) -> str | None:
    # Every X-Forwarded-For line, joined in order as HTTP does (RFC 9110 5.3): a proxy that adds its
    # own line after a client-sent one must still be the one read from the right.
    lines = [v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"x-forwarded-for"]
    forwarded = ",".join(lines) if lines else None
    client = scope.get("client")
    return _from_forwarded(forwarded, client[0] if client else None)


def client_ip_limit_key(client_ip: str) -> str:
    """The key a client's per-IP limits count under: the IPv4 address, or the IPv6 /64."""
    address = ipaddress.ip_address(client_ip)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_LIMIT_PREFIX), strict=False))
    return str(address)
