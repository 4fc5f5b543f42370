"""Rate limiting: the per-connection token bucket (conversations/lib/rate_limit.py), on a clock the test
moves, and the key the per-IP limits count a client under."""

from __future__ import annotations

import pytest

from conversations.lib import rate_limit
from conversations.lib.rate_limit import TokenBucket


class FakeClock:
    """Stands in for the `time` module inside rate_limit: only `monotonic` is read there."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(rate_limit, "time", fake)
    return fake


def test_it_allows_a_burst_up_to_its_capacity_then_refuses(clock):
    bucket = TokenBucket(capacity=3, refill_per_second=1)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() > 0


def test_it_says_how_long_until_the_next_token(clock):
    bucket = TokenBucket(capacity=2, refill_per_second=0.5)
    bucket.take(), bucket.take()
    assert bucket.take() == pytest.approx(2.0)
    clock.advance(1.5)
    assert bucket.take() == pytest.approx(0.5)


def test_it_refills_with_time_at_its_rate(clock):
    bucket = TokenBucket(capacity=5, refill_per_second=2)
    for _ in range(5):
        bucket.take()
    clock.advance(1.0)  # two tokens back
    assert [bucket.take() for _ in range(3)][:2] == [0.0, 0.0]
    assert bucket.tokens < 1


def test_it_never_refills_past_its_capacity(clock):
    bucket = TokenBucket(capacity=2, refill_per_second=10)
    clock.advance(3600)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, pytest.approx(0.1)]


def test_a_refused_take_costs_nothing(clock):
    """A flood of refused frames must not push the next allowed one further away."""
    bucket = TokenBucket(capacity=1, refill_per_second=1)
    bucket.take()
    for _ in range(50):
        bucket.take()
    clock.advance(1.0)
    assert bucket.take() == 0.0


def test_it_counts_fractions_of_a_token(clock):
    bucket = TokenBucket(capacity=1, refill_per_second=4)
    bucket.take()
    clock.advance(0.1)  # 0.4 of a token
    assert bucket.take() == pytest.approx(0.15)
    clock.advance(0.15)
    assert bucket.take() == 0.0


# The per-IP limits of guardrails/limits.py live in Redis; what is pure of them is the key a
# client is counted under, which decides whether a client can dodge a limit by changing address.


def test_an_ipv6_client_is_counted_by_its_slash_64_and_an_ipv4_mapped_one_as_ipv4():
    from guardrails.verification_limits import network_key
    from supportbot.client_ip import client_ip_limit_key

    assert client_ip_limit_key("2001:db8:1:2:aaaa::1") == client_ip_limit_key("2001:db8:1:2:bbbb::9")
    assert client_ip_limit_key("2001:db8:1:2::1") != client_ip_limit_key("2001:db8:1:3::1")
    assert client_ip_limit_key("::ffff:192.0.2.10") == client_ip_limit_key("192.0.2.10") == "192.0.2.10"
    assert network_key("2001:db8:1:2:aaaa::1") == network_key("2001:db8:1:2::7") == "2001:db8:1:2::/64"
    assert network_key("192.0.2.10") == "192.0.2.10"
