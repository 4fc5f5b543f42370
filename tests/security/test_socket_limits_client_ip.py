"""Which address a client's per-IP limits count under, behind 0..n trusted proxies."""

from __future__ import annotations

import pytest

from supportbot.client_ip import client_ip_limit_key, scope_client_ip


def scope(peer: str | None, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"client": [peer, 1234] if peer else None, "headers": headers}


@pytest.mark.parametrize(
    "hops, peer, forwarded, expected",
    [
        (0, "198.51.100.7", "203.0.113.9", "198.51.100.7"),  # no proxy: the header is the client's own words
        (1, "10.0.0.2", "203.0.113.9", "203.0.113.9"),
        (1, "10.0.0.2", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a forged entry further left is ignored
        (2, "10.0.0.2", "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        (1, "10.0.0.2", None, None),  # the proxy did not add it: unknown
        (2, "10.0.0.2", "203.0.113.9", None),  # fewer entries than proxies: unknown
        (1, "10.0.0.2", "unknown", None),  # not an address: unknown
        (0, None, None, None),  # no peer at all: unknown
        (0, "not-an-ip", None, None),
    ],
)
def test_the_client_address_is_the_trusted_entry_or_unknown(settings, hops, peer, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = hops
    assert scope_client_ip(scope(peer, forwarded)) == expected


@pytest.mark.parametrize(
    "address, key",
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # an IPv4 client seen through a dual-stack socket
    ],
)
def test_limits_count_ipv4_per_address_and_ipv6_per_64(address, key):
    assert client_ip_limit_key(address) == key


def test_a_proxy_that_adds_its_own_header_line_after_a_forged_one_is_the_line_read(settings):
    """HAProxy's `option forwardfor` appends a second X-Forwarded-For line rather than editing the
    client's: the client's forged line comes first and must not be the address counted."""
    settings.TRUSTED_PROXY_COUNT = 1
    forged_then_proxy = {
        "client": ["10.0.0.2", 1234],
        "headers": [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"203.0.113.9")],
    }
    assert scope_client_ip(forged_then_proxy) == "203.0.113.9"
