"""Holds as records (what a hold is, what placing or releasing one did), and the facts the
hold rules are judged on, read in the caller's transaction: what one person holds alone,
the footage items name, the cameras with data recorded, the oldest data, pending changes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from citywatch.audit.receipts import ReceiptInfo
from citywatch.audit.two_person import same_person
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.errors import NotFound
from citywatch.domain.policy import Window
from citywatch.domain.records import ChangeInfo, ChangeKind, ChangeStatus
from citywatch.domain.retention import HeldAlone, Hold
from citywatch.retention.scope import hold_of
from citywatch.store import change_queries
from citywatch.store.governance_tables import ChangeRow
from citywatch.store.retention_tables import HoldRow, RecordingRow, RequestRow
from citywatch.store.sighting_tables import Alert, Sighting


@dataclass(frozen=True, slots=True)
class NewHold:
    reference: str
    """The case or request it serves."""
    reason: str
    requester: str
    cameras: Sequence[str] = ()
    window: Window | None = None
    items: Sequence[tuple[str, int]] = ()
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HoldInfo:
    hold: Hold
    reason: str
    requester: str
    created_by: str
    created_at: datetime
    released_by: str | None
    awaiting_change: int | None = None
    """The pending `hold.place` change a second person must approve (None: none waits)."""


@dataclass(frozen=True, slots=True)
class HoldRelease:
    """What asking to release a hold did: released it (`receipt`), or proposed its release
    to a second person (`change`, pending)."""

    receipt: ReceiptInfo | None = None
    change: ChangeInfo | None = None


def require_hold(session: Session, hold_id: int) -> HoldRow:
    row = session.get(HoldRow, hold_id)
    if row is None:
        raise NotFound(f"no hold {hold_id}")
    return row


def hold_info(row: HoldRow) -> HoldInfo:
    return HoldInfo(hold_of(row), row.reason, row.requester, row.created_by, row.created_at, row.released_by)


def hold_event(action: Action, info: HoldInfo) -> AuditEvent:
    h = info.hold
    return AuditEvent(
        action,
        f"hold:{h.id}",
        case=h.reference,
        params={
            "reason": info.reason,
            "requester": info.requester,
            "cameras": sorted(h.cameras),
            "from": None if h.window is None or h.window.start is None else h.window.start.isoformat(),
            "until": None if h.window is None or h.window.end is None else h.window.end.isoformat(),
            "items": sorted([list(i) for i in h.items]),
            "expires_at": None if h.expires_at is None else h.expires_at.isoformat(),
        },
    )


def request_of(session: Session, hold_id: int) -> int | None:
    """The request whose filing placed hold `hold_id` (None: no request's)."""
    return session.scalar(select(RequestRow.id).where(RequestRow.hold_id == hold_id).limit(1))


def held_alone(session: Session, by: Actor, now: datetime) -> list[HeldAlone]:
    """`by`'s holds over cameras and a window that are in force and no second person
    approved (a request's hold is bounded by the request; an approved `hold.place` change,
    or one still pending, is excluded or included accordingly). Names compare as people do
    (`sam@local` is `sam`)."""
    rows = session.scalars(
        select(HoldRow).where(
            HoldRow.released_at.is_(None),
            or_(HoldRow.expires_at.is_(None), HoldRow.expires_at > now),
        )
    ).all()
    mine = [r for r in rows if same_person(r.created_by, by.name)]
    if not mine:
        return []
    ids = [r.id for r in mine]
    by_request = set(session.scalars(select(RequestRow.hold_id).where(RequestRow.hold_id.in_(ids))).all())
    approved = {
        int(o.removeprefix("hold:"))
        for o in session.scalars(
            select(ChangeRow.object).where(
                ChangeRow.kind == ChangeKind.HOLD_PLACE.value,
                ChangeRow.status == ChangeStatus.APPLIED.value,
                ChangeRow.object.in_([f"hold:{i}" for i in ids]),
            )
        )
    }
    alone = [r for r in mine if r.id not in by_request and r.id not in approved]
    windows = [
        HeldAlone(frozenset(json.loads(r.cameras)), r.starts_at, r.ends_at)
        for r in alone
        if r.starts_at is not None and r.ends_at is not None
    ]
    items = [(str(k), int(i)) for r in alone for k, i in json.loads(r.items)]
    return windows + named_footage(session, items)


def named_footage(session: Session, items: Iterable[tuple[str, int]]) -> list[HeldAlone]:
    """The recordings among `items`, each as its camera over its span: footage named item
    by item counts against what one person holds alone as cameras over a window do."""
    ids = sorted({i for kind, i in items if kind == "recording"})
    found: list[HeldAlone] = []
    for chunk in range(0, len(ids), 500):
        rows = session.execute(
            select(RecordingRow.camera_id, RecordingRow.started_at, RecordingRow.ended_at).where(
                RecordingRow.id.in_(ids[chunk : chunk + 500])
            )
        ).all()
        found.extend(HeldAlone(frozenset({camera}), start, end) for camera, start, end in rows)
    return found


def pending(session: Session, hold_id: int, kind: ChangeKind) -> Any:
    """The first pending change of `kind` on hold `hold_id`, or None."""
    rows = change_queries.changes(session, status=ChangeStatus.PENDING.value, object=f"hold:{hold_id}")
    return next((r for r in rows if r.kind == kind.value), None)


def recorded_cameras(session: Session, cameras: Iterable[str]) -> frozenset[str]:
    """Those of `cameras` with footage, sightings or alerts stored (a camera since removed
    from the configuration whose data is still kept)."""
    wanted = sorted(set(cameras))
    if not wanted:
        return frozenset()
    found: set[str] = set()
    for column in (RecordingRow.camera_id, Sighting.camera_id, Alert.camera_id):
        found.update(session.scalars(select(column).where(column.in_(wanted)).distinct()))
    return frozenset(found)


def oldest_data(session: Session) -> list[datetime]:
    """When the oldest recording, sighting and alert still stored began (one per class that has any)."""
    found = []
    for column in (RecordingRow.started_at, Sighting.started_at, Alert.created_at):
        first = session.scalar(select(column).order_by(column).limit(1))
        if first is not None:
            found.append(first)
    return found


def place_refused(new: NewHold, reason: str) -> AuditEvent:
    window = new.window
    return AuditEvent(
        Action.HOLD_PLACE_REFUSED,
        "holds",
        case=new.reference.strip(),
        params={
            "reason": reason,
            "cameras": sorted(set(new.cameras)),
            "from": None if window is None or window.start is None else window.start.isoformat(),
            "until": None if window is None or window.end is None else window.end.isoformat(),
        },
    )


def refused(action: Action, hold_id: int, reason: str, **params: Any) -> AuditEvent:
    return AuditEvent(action, f"hold:{hold_id}", params={"reason": reason, **params})
