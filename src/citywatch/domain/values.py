"""Checks of the plain values a use case is given (names, times, levels, page sizes), each
raising InvalidInput that says what was wrong; pure."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from citywatch.domain.errors import InvalidInput
from citywatch.domain.watchlists import AlertStatus, Severity, WatchlistCategory

MAX_LIST = 10_000
"""The most records one list or page returns."""


def required_text(value: str, what: str, *, max_len: int | None = None) -> str:
    """`value` trimmed; blank, or longer than `max_len`, is refused."""
    stripped = value.strip()
    if not stripped:
        raise InvalidInput(f"{what} must not be blank")
    if max_len is not None and len(stripped) > max_len:
        raise InvalidInput(f"{what} is longer than {max_len} characters")
    return stripped


def aware(value: datetime, what: str) -> datetime:
    """`value` in UTC; a naive time (whose zone nobody knows) is refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be a timezone-aware datetime, got {value.isoformat()}")
    return value.astimezone(UTC)


def category(value: str) -> WatchlistCategory:
    try:
        return WatchlistCategory(value)
    except ValueError:
        allowed = ", ".join(c.value for c in WatchlistCategory)
        raise InvalidInput(f"watchlist category {value!r} is not one of {allowed}") from None


def severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise InvalidInput(f"severity {value!r} is not one of {allowed}") from None


def alert_status(value: str) -> AlertStatus:
    try:
        return AlertStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in AlertStatus)
        raise InvalidInput(f"alert status {value!r} is not one of {allowed}") from None


def optional_bound(value: float | None, what: str, *, low: float, strict: bool) -> None:
    """None, or a finite number at least `low` (above it when `strict`)."""
    if value is None:
        return
    if not math.isfinite(value) or value < low or (strict and value == low):
        bound = f"greater than {low}" if strict else f"at least {low}"
        raise InvalidInput(f"{what} must be {bound}, got {value}")


def list_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST}, got {limit}")
