"""How long each class of data is kept, and what a legal hold keeps longer: pure rules.

`is_expired` says whether one item has outlived its class's retention; `held` whether a
hold in force keeps it anyway. The purge query in citywatch.store.retention is built from
the same holds, so what it selects is exactly what these functions would let go.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import Window


class DataClass(StrEnum):
    FOOTAGE = "footage"
    SIGHTINGS = "sightings"
    """A sighting's row and its best-shot crop."""
    TEMPLATES = "templates"
    """The template kept with a sighting (investigate mode); enrolment templates follow
    their watchlist's authorisation instead."""
    ALERTS = "alerts"
    EXPORTS = "exports"
    AUDIT = "audit"


AUDIT_DAYS_MIN = 183.0
"""The shortest audit retention (six months): the EU AI Act (art. 19 and 26(6)) keeps the logs
of a high-risk system, remote biometric identification among them, at least that long, and a
log that its own purge can empty within days accounts for nothing."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    days: Mapping[DataClass, float]

    def __post_init__(self) -> None:
        audit = self.days.get(DataClass.AUDIT)
        if audit is not None and audit < AUDIT_DAYS_MIN:
            raise InvalidInput(
                f"audit retention of {audit:g} days is below the floor of {AUDIT_DAYS_MIN:g} days"
            )

    def keep_for(self, kind: DataClass) -> timedelta:
        return timedelta(days=self.days[kind])

    def cutoff(self, kind: DataClass, now: datetime) -> datetime:
        """Items of `kind` that began before this are expired."""
        return now - self.keep_for(kind)

    @property
    def version(self) -> str:
        """A short fingerprint of the policy, named in every receipt."""
        canonical = json.dumps({str(k): v for k, v in sorted(self.days.items())}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def is_expired(kind: DataClass, at: datetime, policy: RetentionPolicy, now: datetime) -> bool:
    """Whether an item of `kind` recorded at `at` has outlived its retention at `now`."""
    return at < policy.cutoff(kind, now)


@dataclass(frozen=True, slots=True)
class ItemRef:
    """One thing a hold can name or cover: its kind, id, camera and time span."""

    kind: str
    """`sighting`, `alert` or `recording`."""
    id: int
    camera: str
    span: Window


@dataclass(frozen=True, slots=True)
class Hold:
    """A legal hold: a record, never a flag on the data it keeps."""

    id: int
    reference: str
    cameras: frozenset[str] = frozenset()
    window: Window | None = None
    """With `cameras`: everything from those cameras overlapping the window."""
    items: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    """Named items, e.g. ("sighting", 12)."""
    expires_at: datetime | None = None
    released_at: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        return self.released_at is None and (self.expires_at is None or now < self.expires_at)

    def covers(self, item: ItemRef) -> bool:
        if (item.kind, item.id) in self.items:
            return True
        if self.window is None or item.camera not in self.cameras:
            return False
        return _overlap(self.window, item.span)


def held(item: ItemRef, holds: Iterable[Hold], now: datetime) -> bool:
    return any(h.in_force(now) and h.covers(item) for h in holds)


def held_until(item: ItemRef, holds: Iterable[Hold], now: datetime) -> datetime | None:
    """When the last hold on `item` ends (overlapping holds resolve to the longest);
    None when no hold in force covers it; datetime.max when one has no expiry."""
    ends = [
        h.expires_at or datetime.max.replace(tzinfo=now.tzinfo)
        for h in holds
        if h.in_force(now) and h.covers(item)
    ]
    return max(ends) if ends else None


def _overlap(a: Window, b: Window) -> bool:
    starts_before_b_ends = a.start is None or b.end is None or a.start <= b.end
    ends_after_b_starts = a.end is None or b.start is None or a.end >= b.start
    return starts_before_b_ends and ends_after_b_starts
