"""Which URLs webhooks may be sent to: http(s) only, and never to the machine itself, the private
network or the cloud metadata service (server-side request forgery), unless
WEBHOOK_ALLOW_PRIVATE_TARGETS says so. The address rules are kb_import's (supportbot/fetch_targets.py).

Checked twice: when an endpoint is saved (the URL's shape, and its host when it is an address
literal), and before every request (every address the host resolves to then; the request goes
to a checked address, so a second DNS answer cannot redirect it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from supportbot.fetch_targets import IPAddress, Resolver, TargetRefused, address_refusal, system_resolve

DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


@dataclass(frozen=True)
class Target:
    parts: SplitResult
    host: str
    port: int
    addresses: list[IPAddress]


def _parts(url: str) -> tuple[SplitResult, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise TargetRefused("only http:// and https:// URLs with a host are allowed")
    if parts.username or parts.password:
        raise TargetRefused("credentials in the URL are not allowed (receivers verify the signature instead)")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise TargetRefused("invalid port") from None
    return parts, parts.hostname.lower(), port


def _refusal(address: IPAddress) -> str | None:
    reason = address_refusal(address=address, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)
    if reason and not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS and ("loopback" in reason or "private" in reason):
        reason += " (WEBHOOK_ALLOW_PRIVATE_TARGETS is off)"
    return reason


def endpoint_url_validate(url: str) -> None:
    """The admin form's check: what can be told without a DNS lookup (names are checked at send time)."""
    try:
        _parts_, host, _port = _parts(url)
    except TargetRefused as error:
        raise ValidationError(str(error)) from None
    if host in _LOOPBACK_NAMES:
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    reason = _refusal(address)
    if reason:
        raise ValidationError(f"refused: {reason}")


def target_resolve(url: str, *, resolve: Resolver = system_resolve) -> Target:
    """The URL's host and every address it resolves to, each one allowed; raises TargetRefused."""
    parts, host, port = _parts(url)
    bare = host.strip("[]")
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(bare)]
    except ValueError:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(bare, port)]
    if not addresses:
        raise TargetRefused(f"cannot resolve {host}: no addresses")
    for address in addresses:
        reason = _refusal(address)
        if reason:
            raise TargetRefused(f"refused to send to {host}: {reason}")
    return Target(parts=parts, host=host, port=port, addresses=addresses)
