"""Checks of the plain values a use case is given (names, times, levels, page sizes), each
raising InvalidInput that says what was wrong; pure."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from citywatch.domain.errors import InvalidInput
from citywatch.domain.watchlists import AlertStatus, Severity, WatchlistCategory

E = TypeVar("E", bound=StrEnum)
P = TypeVar("P")

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


def one_of(kind: type[E], value: str, what: str) -> E:
    """`value` as a member of `kind`; anything else is refused, naming the allowed values."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidInput(f"{what} {value!r} is not one of {allowed}") from None


def category(value: str) -> WatchlistCategory:
    return one_of(WatchlistCategory, value, "watchlist category")


def severity(value: str) -> Severity:
    return one_of(Severity, value, "severity")


def alert_status(value: str) -> AlertStatus:
    return one_of(AlertStatus, value, "alert status")


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


def page_of(
    items: Iterable[P], id_of: Callable[[P], int], *, limit: int, before_id: int | None
) -> tuple[list[P], int | None]:
    """One page of `items` by descending id below `before_id`, and the next page's cursor
    (None on the last page)."""
    ordered = sorted((i for i in items if before_id is None or id_of(i) < before_id), key=id_of, reverse=True)
    page = ordered[:limit]
    return page, (id_of(page[-1]) if len(ordered) > limit else None)
