"""The one wall clock: aware UTC `datetime`s. Whatever keeps time takes a clock (a callable
returning the time) with this as its default, so that tests can pass their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Something that tells the time (aware, UTC)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


__all__ = ["Clock", "utc_now"]
