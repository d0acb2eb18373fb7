"""How long each class of data is kept, and what a legal hold keeps longer: pure rules.

`is_expired` says whether one item has outlived its class's retention; `held` whether a
hold in force keeps it anyway. The purge query in citywatch.retention.purge is built from
the same holds, so what it selects is exactly what these functions would let go.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
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


def _overlap(a: Window, b: Window) -> bool:
    starts_before_b_ends = a.start is None or b.end is None or a.start <= b.end
    ends_after_b_starts = a.end is None or b.start is None or a.end >= b.start
    return starts_before_b_ends and ends_after_b_starts


# --- how far one hold may reach ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoldBounds:
    """How far a hold over cameras and a time window may reach (config: retention.hold_*)."""

    max_days: float = 92.0
    """The longest window anyone may hold; longer is refused."""
    alone_days: float = 14.0
    """The longest window one person holds alone; longer waits for a second person."""
    alone_camera_share: float = 0.5
    """The largest share of the known cameras one person holds alone; more waits."""
    pending_hours: float = 72.0
    """How long a hold waiting for a second person protects before it lapses."""
    past_slack_days: float = 1.0
    """How far before the oldest data still kept a window may start."""


@dataclass(frozen=True, slots=True)
class HoldReach:
    """What `hold_reach` found: why the hold is refused (None: it is not), and why it needs
    a second person (empty: one person may place it)."""

    refusal: str | None = None
    second_person: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HeldAlone:
    """One of the placer's holds in force that no second person approved: what counts, with
    the new one, against what one person may hold alone."""

    cameras: frozenset[str]
    start: datetime
    end: datetime


def hold_reach(
    cameras: frozenset[str],
    window: Window | None,
    *,
    known: frozenset[str],
    configured: int,
    oldest: datetime,
    now: datetime,
    bounds: HoldBounds,
    held_alone: Sequence[HeldAlone] = (),
    named: Sequence[HeldAlone] = (),
) -> HoldReach:
    """Judge a hold's cameras and window.

    Refused: a camera neither configured nor recorded (`known`), a window without both ends
    or ending before it starts, starting more than `past_slack_days` before `oldest` (the
    oldest data still kept, or the retention's reach when older), ending past `now` plus
    `max_days`, or longer than `max_days`. Needs a second person: a window longer than
    `alone_days`, or more than `alone_camera_share` of the `configured` cameras (when there
    is more than one: a single-camera site's every hold would be "city-wide"). Both bounds
    count the placer's other holds in force that no second person approved (`held_alone`):
    the cameras of all of them together, and the days each camera is held over all of them
    (overlaps counted once), so that a city-wide hold split into many small ones waits as
    the whole would. Footage the hold names item by item (`named`: each recording's camera
    over its span) counts as its cameras and window do, so that naming every recording is
    no way round either bound.
    """
    if window is not None:
        if window.start is None or window.end is None:
            return HoldReach("a hold's time window needs both a start and an end")
        if window.end <= window.start:
            return HoldReach("a hold's time window ends before it starts")
    unknown = sorted(cameras - known)
    if unknown:
        return HoldReach(f"unknown camera(s): {', '.join(unknown)} (neither configured nor recorded)")
    if window is None or window.start is None or window.end is None:
        if not named:
            return HoldReach()
        return _alone(
            frozenset(), None, configured=configured, bounds=bounds, held_alone=held_alone, named=named
        )
    start, end = window.start, window.end
    refusal = _too_far(start, end, oldest=oldest, now=now, bounds=bounds)
    if refusal is not None:
        return HoldReach(refusal)
    return _alone(
        cameras, (start, end), configured=configured, bounds=bounds, held_alone=held_alone, named=named
    )


def _too_far(
    start: datetime, end: datetime, *, oldest: datetime, now: datetime, bounds: HoldBounds
) -> str | None:
    """Why a window from `start` to `end` reaches too far back, ahead or long (None: it does not)."""
    earliest = oldest - timedelta(days=bounds.past_slack_days)
    if start < earliest:
        return (
            f"a hold's window starts at {start.isoformat()}, before any data still kept "
            f"(nothing is older than {earliest.isoformat()})"
        )
    latest = now + timedelta(days=bounds.max_days)
    if end > latest:
        return (
            f"a hold's window ends at {end.isoformat()}, more than {bounds.max_days:g} days "
            "from now (retention.hold_max_days)"
        )
    span = end - start
    if span > timedelta(days=bounds.max_days):
        return (
            f"a hold's window spans {_days(span)} days, more than the {bounds.max_days:g} "
            "allowed (retention.hold_max_days)"
        )
    return None


def _alone(
    cameras: frozenset[str],
    span: tuple[datetime, datetime] | None,
    *,
    configured: int,
    bounds: HoldBounds,
    held_alone: Sequence[HeldAlone],
    named: Sequence[HeldAlone],
) -> HoldReach:
    """What of `hold_reach` needs a second person: the new hold (its cameras over `span`, and
    the footage it `named`) alone, then with the placer's other holds held alone."""
    wait: list[str] = []
    if span is not None and span[1] - span[0] > timedelta(days=bounds.alone_days):
        wait.append(
            f"its window spans {_days(span[1] - span[0])} days, more than the {bounds.alone_days:g} one "
            "person holds alone (retention.hold_alone_days)"
        )
    mine = [*named, *([HeldAlone(cameras, *span)] if span is not None else [])]
    cameras = cameras.union(*(n.cameras for n in named))
    held = len(cameras)
    if configured > 1 and held > bounds.alone_camera_share * configured:
        wait.append(
            f"it holds {held} of the {configured} cameras, more than the "
            f"{bounds.alone_camera_share:.0%} one person holds alone (retention.hold_alone_camera_share)"
        )
    if not wait and named:
        wait.extend(_days_held(cameras, mine, bounds, ""))
    if wait or not held_alone:
        return HoldReach(None, tuple(wait))
    together = len(cameras.union(*(h.cameras for h in held_alone)))
    if configured > 1 and together > bounds.alone_camera_share * configured:
        wait.append(
            f"with the {len(held_alone)} other hold(s) in force its placer holds alone, it holds "
            f"{together} of the {configured} cameras, more than the {bounds.alone_camera_share:.0%} "
            "one person holds alone (retention.hold_alone_camera_share)"
        )
    with_others = "with the other hold(s) in force its placer holds alone, "
    wait.extend(_days_held(cameras, [*mine, *held_alone], bounds, with_others))
    return HoldReach(None, tuple(wait))


def _days_held(
    cameras: frozenset[str], holds: Sequence[HeldAlone], bounds: HoldBounds, prefix: str
) -> list[str]:
    """The first of `cameras` that `holds` keep over more than `alone_days` (overlaps counted
    once), said in one sentence; none: empty."""
    for camera in sorted(cameras):
        covered = _covered([(h.start, h.end) for h in holds if camera in h.cameras])
        if covered > timedelta(days=bounds.alone_days):
            return [
                f"{prefix}camera {camera} is held over {_days(covered)} days, more than the "
                f"{bounds.alone_days:g} one person holds alone (retention.hold_alone_days)"
            ]
    return []


def _covered(spans: Sequence[tuple[datetime, datetime]]) -> timedelta:
    """The time the union of `spans` covers (overlaps counted once)."""
    total, reach = timedelta(0), None
    for start, end in sorted(spans):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86400:.1f}"
