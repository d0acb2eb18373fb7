"""RateLimit: `check` limits every call, `fail` only failures (and their audit records across
all addresses); IPv6 addresses count per /64; a burst cannot overshoot; addresses that left
the window are forgotten, swept now and then rather than on every call."""

from __future__ import annotations

import threading

import pytest
from fastapi import HTTPException

from citywatch.web.api.uploads import Failure, RateLimit, address_key


def test_a_failure_limit_counts_only_failures_and_says_once_when_it_is_crossed() -> None:
    limit = RateLimit(per_window=2, window_s=60)
    assert [limit.fail("a", now=now).failure for now in (5, 10)] == [Failure.AUDIT] * 2
    crossing = limit.fail("a", now=20)
    assert (crossing.failure, crossing.address_crossed) == (Failure.REFUSED, True)
    refused = crossing.refusal()
    assert (refused.status_code, refused.headers) == (429, {"Retry-After": "46"})
    again = limit.fail("a", now=21)
    assert (again.failure, again.address_crossed) == (Failure.REFUSED, False)
    assert limit.fail("b", now=20).failure is Failure.AUDIT  # another address is not refused
    # the first failure has left the window: room for one more, refused failures extend nothing
    assert limit.fail("a", now=65).failure is Failure.AUDIT
    late = limit.fail("a", now=66)
    assert (late.failure, late.address_crossed) == (Failure.REFUSED, False)  # same window
    assert limit.fail("a", now=200).failure is Failure.AUDIT


@pytest.mark.parametrize(
    ("client", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("unknown", "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_addresses_are_counted_by_key(client: str, key: str) -> None:
    assert address_key(client) == key


def test_ipv6_addresses_in_one_64_share_a_budget() -> None:
    limit = RateLimit(per_window=3, window_s=60)
    for n in range(3):
        assert limit.fail(f"2001:db8:0:7::{n + 1:x}", now=0).failure is Failure.AUDIT
    assert limit.fail("2001:db8:0:7:dead:beef:0:1", now=1).failure is Failure.REFUSED
    assert limit.fail("2001:db8:0:8::1", now=1).failure is Failure.AUDIT  # the next /64
    shared = RateLimit(per_window=3)  # `check` counts the same way
    for n in range(3):
        shared.check(f"2001:db8::{n + 1}", now=0)
    with pytest.raises(HTTPException):
        shared.check("2001:db8::ffff", now=0)


def test_failures_are_audited_up_to_a_budget_across_all_addresses() -> None:
    limit = RateLimit(per_window=3, window_s=60, audited_per_window=5)
    verdicts = [limit.fail(f"10.0.0.{n}", now=0) for n in range(8)]
    assert [v.failure for v in verdicts] == [Failure.AUDIT] * 5 + [Failure.UNAUDITED] * 3
    assert [v.everyone_crossed for v in verdicts] == [False] * 5 + [True, False, False]
    # an address still reaches its own limit (429), but its crossing is not recorded either
    for _ in range(2):
        assert limit.fail("10.0.0.7", now=1).failure is Failure.UNAUDITED
    crossing = limit.fail("10.0.0.7", now=2)
    assert (crossing.failure, crossing.address_crossed, crossing.everyone_crossed) == (
        Failure.REFUSED,
        False,
        False,
    )
    assert limit.fail("10.0.1.1", now=61).failure is Failure.AUDIT  # a new window
    assert limit.fail("10.0.0.7", now=120).failure is Failure.AUDIT


def test_a_concurrent_burst_does_not_overshoot() -> None:
    limit = RateLimit(per_window=10, window_s=60, audited_per_window=15)
    start = threading.Barrier(8)
    verdicts = []

    def burst(n: int) -> None:
        start.wait()
        for _ in range(10):
            verdicts.append(limit.fail(f"10.0.0.{n % 2}", now=0))

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counted = sum(v.failure is not Failure.REFUSED for v in verdicts)
    records = sum(v.failure is Failure.AUDIT or v.address_crossed for v in verdicts)
    assert (len(verdicts), counted, records) == (80, 20, 15)  # each limit exactly, never more
    assert sum(v.everyone_crossed for v in verdicts) == 1


def test_addresses_that_left_the_window_are_forgotten_at_the_next_sweep() -> None:
    limit = RateLimit(per_window=5, window_s=60, sweep_every_s=100)
    for n in range(100):
        limit.check(f"10.0.0.{n}", now=0)  # the first call sweeps; the next sweep is at 100
    limit.check("10.0.1.1", now=61)
    assert len(limit._calls) == 101  # not scanned on every call
    limit.check("10.0.1.2", now=100)
    assert list(limit._calls) == ["10.0.1.1", "10.0.1.2"]


def test_a_key_is_locked_by_its_failures_until_the_oldest_leaves_the_window() -> None:
    accounts = RateLimit(per_window=3, window_s=60)
    assert [accounts.strike("sam", now=t) for t in (0, 10, 20)] == [False, False, True]  # the lock: once
    assert accounts.locked("sam", now=30) == 31  # refused until the failure at 0 is 60 s old
    assert accounts.locked("sue", now=30) == 0  # another key has its own count
    assert accounts.locked("2001:db8::1", now=30) == 0  # a key is taken as given, never as an address
    assert accounts.locked("sam", now=60) == 0
    assert accounts.strike("sam", now=61) is True  # the fourth failure in 60 s locks it again, said once
