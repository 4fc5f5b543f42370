"""The client's IP address, for per-IP limits. X-Forwarded-For is read only as far as
TRUSTED_PROXY_COUNT proxies appended to it: anything further left is client-controlled."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def _from_forwarded(forwarded: str | None, peer: str | None) -> str | None:
    hops = settings.TRUSTED_PROXY_COUNT
    if hops and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if len(addresses) >= hops:
            return addresses[-hops]
    return peer


def request_client_ip(request: Any) -> str | None:
    return _from_forwarded(request.META.get("HTTP_X_FORWARDED_FOR"), request.META.get("REMOTE_ADDR"))


def scope_client_ip(scope: dict[str, Any]) -> str | None:
    forwarded = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"), None)
    client = scope.get("client")
    return _from_forwarded(forwarded, client[0] if client else None)
