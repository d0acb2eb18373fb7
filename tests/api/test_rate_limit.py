"""RateLimit as a limit on failures: checked before an attempt without counting it, counted
only when the attempt fails; and it forgets addresses that have left the window."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from citywatch.api.uploads import RateLimit


def test_a_failure_limit_counts_only_failures() -> None:
    limit = RateLimit(per_window=2, window_s=60)
    for now in (0, 1, 2):
        limit.refuse_when_spent("a", now=now)  # checks, counts nothing
    limit.count("a", now=5)
    limit.count("a", now=10)
    with pytest.raises(HTTPException) as refused:
        limit.refuse_when_spent("a", now=20)
    assert (refused.value.status_code, refused.value.headers) == (429, {"Retry-After": "46"})
    limit.refuse_when_spent("b", now=20)  # another address is not refused
    limit.refuse_when_spent("a", now=65)  # the first failure has left the window


def test_addresses_that_left_the_window_are_forgotten() -> None:
    limit = RateLimit(per_window=5, window_s=60)
    for n in range(100):
        limit.count(f"10.0.0.{n}", now=0)
    limit.count("10.0.1.1", now=61)
    assert list(limit._calls) == ["10.0.1.1"]
