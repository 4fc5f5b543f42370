"""Which hosts `kb_import` may fetch from: a URL given to it, or a redirect, must not reach the
machine itself, the private network or the cloud metadata service (server-side request forgery)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class TargetRefused(ValueError):
    """A host that may not be fetched from, or cannot be resolved; the message says why."""


@dataclass(frozen=True)
class TargetPolicy:
    """allow_private: loopback and private ranges are fine (an intranet help centre);
    private_hosts: `host` or `host:port` entries that alone may resolve to such addresses."""

    allow_private: bool = False
    private_hosts: frozenset[str] = frozenset()

    def allows_private(self, *, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        with_port = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return self.allow_private or bool({host, f"[{host}]", with_port} & self.private_hosts)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo), which is where it really goes."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def address_refusal(*, address: IPAddress, allow_private: bool) -> str | None:
    """Why this address may not be fetched from, or None. Link-local (169.254.169.254 is the
    cloud metadata service), unspecified, multicast and reserved addresses are always refused;
    loopback and private ones unless allowed."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(address=embedded, allow_private=allow_private)
            return f"{reason} (inside {address})" if reason else None
    if address.is_unspecified:
        return f"{address} is an unspecified address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_loopback:
        return None if allow_private else f"{address} is a loopback address"
    if address.is_reserved:
        return f"{address} is a reserved address"
    # is_global also leaves out shared (100.64/10), documentation and benchmark ranges.
    if address.is_private or not address.is_global:
        return None if allow_private else f"{address} is a private address"
    return None


def system_resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"cannot resolve {host}: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def target_addresses_check(
    *, host: str, port: int, policy: TargetPolicy, resolve: Resolver = system_resolve
) -> list[IPAddress]:
    """Every address the host resolves to, each one checked; one refused address refuses the
    host, since the connection could go to any of them."""
    bare = host.strip("[]")
    try:
        addresses: Sequence[IPAddress] = [ipaddress.ip_address(bare)]
    except ValueError:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(bare, port)]
    if not addresses:
        raise TargetRefused(f"cannot resolve {host}: no addresses")
    allow_private = policy.allows_private(host=bare, port=port)
    for address in addresses:
        reason = address_refusal(address=address, allow_private=allow_private)
        if reason:
            raise TargetRefused(
                f"refused to fetch from {host}: {reason}"
                + ("" if allow_private else " (KB_IMPORT_ALLOW_PRIVATE is off)")
            )
    return list(addresses)


def url_at_address(parts: SplitResult, *, address: IPAddress, port: int) -> str:
    """The URL with its host replaced by the checked address: the request connects there and
    nowhere else (the Host header and TLS server name are set by the caller)."""
    netloc = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
    return parts._replace(netloc=netloc, fragment="").geturl()


def is_ip_literal(host: str) -> bool:
    """An address written as the URL's host (brackets allowed): no TLS server name for it."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
