"""Legal holds, the purge and its receipts.

The purge selects, per data class, what has outlived its retention with one query per class
that already excludes everything a hold in force covers (built from the same hold records
`domain.retention.held` reads). Rows go in one transaction together with their receipt and
its audit record; the WAL is checkpointed (SQLite `secure_delete` is on, so no copy stays);
files are unlinked after the commit. A purge killed midway either committed (its files are
orphans, removed at the start of the next purge) or did not (the next purge does it all).

Faces remembered as non-matches (dismissed false matches) are copies of sighting templates:
they go with the templates' retention, counted from when the face was seen, whatever holds
say (a hold keeps the sighting and its own template; the non-match is no evidence, only a
correction to matching). The receipt counts them as `non_matches`.

Audit records past their retention go in the same transaction, through the audit log: the
oldest run of records is deleted behind a signed anchor, so the chain still verifies (see
citywatch.audit.log.AuditLog.prune_in); the receipt counts them with their sequence range.

Holds and camera scope: a hold touches the cameras of its window and those of the items it
names. A user limited to some cameras places, extends, releases and sees only holds that
lie wholly within that scope (citywatch.domain.access.within_scope); anything else is
refused here, audited as `access.refused`, whoever calls (API, console, CLI).

Holds protect what they are for (docs/security.md): a hold a request placed is
released only by that request's decision (requests.store), never directly; releasing a
hold needs a reason, and another person's hold is released only once a second person
approves (a `hold.release` change, governance.changes); a hold's cameras must be known and its
window bounded (domain.retention.hold_reach), and a city-wide or long hold waits for a
second person (a `hold.place` change) while protecting, for retention.hold_pending_hours.
Every refusal is audited (`hold.place_refused`, `hold.release_refused`, `hold.extend_refused`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, not_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from citywatch.audit.log import AuditLog, AuditPrune, AuditSpan
from citywatch.audit.two_person import same_person
from citywatch.domain.access import Permission, scope_refusal, within_scope
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import Clock
from citywatch.domain.errors import (
    CitywatchError,
    Conflict,
    InvalidInput,
    NotFound,
    OutOfScope,
    PermissionDenied,
    Unavailable,
)
from citywatch.domain.policy import Window
from citywatch.domain.records import ChangeInfo, ChangeKind, ChangeStatus
from citywatch.domain.retention import (
    DataClass,
    HeldAlone,
    Hold,
    HoldBounds,
    HoldReach,
    RetentionPolicy,
    hold_reach,
)
from citywatch.governance.changes import change_info
from citywatch.retention.segments import describe_os_error
from citywatch.store import repositories as repo
from citywatch.store.db import Database
from citywatch.store.tables import (
    Alert,
    AuditRecord,
    AuthorisationRow,
    ChangeRow,
    ExportRow,
    HoldRow,
    NonMatchRow,
    ReceiptRow,
    RecordingRow,
    RequestRow,
    Sighting,
)

log = logging.getLogger(__name__)

ActorAuditHook = Callable[[Session, Actor, AuditEvent], None]
HOLDABLE = ("sighting", "alert", "recording")
NON_MATCHES = "non_matches"
"""The receipt's count of remembered non-matches (they follow DataClass.TEMPLATES)."""


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


@dataclass(frozen=True, slots=True)
class ReceiptInfo:
    id: int
    kind: str
    at: datetime
    policy_version: str
    counts: dict[str, int]
    details: dict[str, Any]
    audit_seq: int | None


@dataclass
class PurgePlan:
    """What a purge at `now` deletes: ids per class, and the files that go with them."""

    now: datetime
    sightings: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)
    templates: list[int] = field(default_factory=list)
    """Sightings whose kept template expires (the sighting itself may stay longer)."""
    recordings: list[int] = field(default_factory=list)
    exports: list[int] = field(default_factory=list)
    non_matches: list[int] = field(default_factory=list)
    """Remembered non-matches whose face is past the templates' retention."""
    files: list[tuple[str, str, str]] = field(default_factory=list)
    """(class, stored path, sha256) of every file to unlink."""
    held: dict[str, int] = field(default_factory=dict)
    """Expired but kept by a hold, per class."""
    audit: AuditSpan | None = None
    """The oldest audit records, past their retention (holds do not apply to them)."""

    @property
    def counts(self) -> dict[str, int]:
        return {
            DataClass.SIGHTINGS.value: len(self.sightings),
            DataClass.ALERTS.value: len(self.alerts),
            DataClass.TEMPLATES.value: len(self.templates),
            DataClass.FOOTAGE.value: len(self.recordings),
            DataClass.EXPORTS.value: len(self.exports),
            DataClass.AUDIT.value: 0 if self.audit is None else self.audit.count,
            NON_MATCHES: len(self.non_matches),
        }

    @property
    def empty(self) -> bool:
        return not any(self.counts.values())


FileRemover = Callable[[str, str], bool]
"""Unlinks one stored file of a class (`footage`, `sightings`, `exports`); True if it existed."""


class RetentionStore:
    def __init__(
        self,
        db: Database,
        *,
        policy: RetentionPolicy,
        clock: Clock,
        audit: ActorAuditHook,
        remove_file: FileRemover,
        audit_log: AuditLog | None = None,
        bounds: HoldBounds | None = None,
        cameras: Callable[[], Collection[str]] = tuple,
    ) -> None:
        """`audit_log`: prune audit records past their retention with each purge (None: keep
        them). `bounds`: how far a hold may reach; `cameras`: the configured cameras (a hold
        names those, or cameras with data recorded)."""
        self._db = db
        self._policy = policy
        self._bounds = bounds or HoldBounds()
        self._cameras = cameras
        self._clock = clock
        self._audit = audit
        self._remove_file = remove_file
        self._audit_log = audit_log

    @property
    def policy(self) -> RetentionPolicy:
        return self._policy

    # --- holds ----------------------------------------------------------------------------

    def place_hold(self, new: NewHold, *, by: Actor) -> HoldInfo:
        """Place a hold; `by`, when limited to some cameras, only one wholly within them
        (its window's cameras and its items' cameras), else PermissionDenied, audited."""
        reference, reason = new.reference.strip(), new.reason.strip()
        if not reference or not reason:
            raise InvalidInput("a hold needs a reference (case or request) and a reason")
        if not new.items and not (new.cameras and new.window is not None):
            raise InvalidInput(
                "a hold needs cameras and a time window, or named items (--sighting, --alert, …)"
            )
        now = self._clock()
        if new.expires_at is not None and new.expires_at <= now:
            raise InvalidInput("a hold's expiry must be in the future")
        for kind, _ in new.items:
            if kind not in HOLDABLE:
                raise InvalidInput(f"{kind!r} cannot be held (one of {', '.join(HOLDABLE)})")
        refusal: CitywatchError | None = None
        with self._db.session() as session:
            if by.cameras is not None and new.items:
                refusal = self._items_beyond(session, new, by)
            if (
                refusal is None
                and by.cameras is not None
                and (items := _item_cameras(session, new.items)) is not None
            ):
                refusal = refused_outside_scope(
                    session,
                    self._audit,
                    by,
                    Permission.HOLDS_MANAGE,
                    cameras={*new.cameras, *items},
                    what=f"a hold for {reference}",
                    audit_object="holds",
                    action=Action.HOLD_PLACE,
                )
            if refusal is None:
                reach = self._reach(session, new, now, by=by)
                if reach.refusal is not None:
                    self._audit(session, by, _place_refused(new, reach.refusal))
                    refusal = InvalidInput(reach.refusal)
                elif reach.second_person:
                    return self._place_pending(session, new, reach, by=by, now=now)
                else:  # a missing item: place_in says which (NotFound)
                    return self.place_in(session, new, by=by, now=now)
        raise refusal

    def _items_beyond(self, session: Session, new: NewHold, by: Actor) -> OutOfScope | None:
        """A named item beyond `by`'s scope is answered as one that does not exist (the same
        words `place_in` gives a missing one, every such item named with the missing ones),
        audited as `access.refused`; None when every existing item lies within it."""
        absent, beyond = [], set()
        for kind, item_id, camera in _items_with_cameras(session, new.items):
            if camera is None or not within_scope(by, [camera]):
                absent.append(f"{kind} {item_id}")
                beyond |= set() if camera is None else {camera}
        if not beyond:
            return None
        refusal = refused_outside_scope(
            session,
            self._audit,
            by,
            Permission.HOLDS_MANAGE,
            cameras=beyond,
            what=f"a hold for {new.reference.strip()}",
            audit_object="holds",
            action=Action.HOLD_PLACE,
            unseen=f"nothing to hold: no {', '.join(absent)}",
        )
        return refusal if isinstance(refusal, OutOfScope) else None

    def _reach(self, session: Session, new: NewHold, now: datetime, *, by: Actor) -> HoldReach:
        """domain.retention.hold_reach on `new`, with the cameras known, the oldest data
        still kept and `by`'s other holds held alone read from the database."""
        configured = frozenset(self._cameras())
        asked = frozenset(c.strip() for c in new.cameras)
        known = configured | _recorded_cameras(session, asked - configured)
        longest = max(
            self._policy.keep_for(k) for k in (DataClass.FOOTAGE, DataClass.SIGHTINGS, DataClass.ALERTS)
        )
        oldest = min([now - longest, *_oldest_data(session)])
        return hold_reach(
            asked,
            new.window,
            known=known,
            configured=len(configured),
            oldest=oldest,
            now=now,
            bounds=self._bounds,
            held_alone=_held_alone(session, by, now),
            named=_named_footage(session, new.items),
        )

    def _place_pending(
        self, session: Session, new: NewHold, reach: HoldReach, *, by: Actor, now: datetime
    ) -> HoldInfo:
        """Place a hold that needs a second person: it protects at once, but only for
        `pending_hours` (or less, as asked), and asks for the rest as a `hold.place` change.
        Failing to hold loses evidence for good; holding too much only delays a deletion."""
        lapses = now + timedelta(hours=self._bounds.pending_hours)
        asked = new.expires_at
        info = self.place_in(
            session, replace(new, expires_at=lapses if asked is None else min(asked, lapses)), by=by, now=now
        )
        params = {
            "hold": info.hold.id,
            "reference": info.hold.reference,
            "expires_at": None if asked is None else asked.isoformat(),
            "lapses_at": lapses.isoformat(),
            "why": list(reach.second_person),
        }
        change = self._propose(session, by, ChangeKind.HOLD_PLACE, info.hold.id, params, now=now)
        return replace(info, awaiting_change=change.id)

    def _propose(
        self,
        session: Session,
        by: Actor,
        kind: ChangeKind,
        hold_id: int,
        params: Mapping[str, Any],
        *,
        now: datetime,
    ) -> ChangeInfo:
        row = repo.insert_change(
            session,
            kind=kind,
            object=f"hold:{hold_id}",
            params=params,
            proposed_by=by.name,
            proposed_role=by.role,
            proposed_by_service=by.service,
            now=now,
        )
        self._audit(
            session,
            by,
            AuditEvent(Action.CHANGE_PROPOSE, f"change:{row.id}", params={"kind": kind.value, **params}),
        )
        return change_info(row)

    def place_in(self, session: Session, new: NewHold, *, by: Actor, now: datetime) -> HoldInfo:
        """Place a (validated) hold inside the caller's transaction, e.g. a request's filing."""
        items = sorted(set(new.items))
        missing = [f"{k} {i}" for k, i in items if session.get(_MODEL[k], i) is None]
        if missing:
            raise NotFound(f"nothing to hold: no {', '.join(missing)}")
        row = HoldRow(
            reference=new.reference.strip(),
            reason=new.reason.strip(),
            requester=new.requester.strip() or by.name,
            cameras=json.dumps(sorted(set(new.cameras))),
            starts_at=None if new.window is None else new.window.start,
            ends_at=None if new.window is None else new.window.end,
            items=json.dumps([list(i) for i in items]),
            expires_at=new.expires_at,
            created_by=by.name,
            created_at=now,
        )
        session.add(row)
        session.flush()
        info = _hold_info(row)
        self._audit(session, by, _hold_event(Action.HOLD_PLACE, info))
        return info

    def extend_hold(self, hold_id: int, expires_at: datetime | None, *, by: Actor) -> HoldInfo:
        """Move a hold's expiry later (None: until released). Never earlier: release it instead.
        Only a hold within `by`'s camera scope (else PermissionDenied, audited)."""
        now = self._clock()
        refusal: CitywatchError | None
        with self._db.session() as session:
            refusal = self._hold_refusal(session, hold_id, by, Action.HOLD_EXTEND)
            if refusal is None and (waiting := _pending(session, hold_id, ChangeKind.HOLD_PLACE)):
                refusal = Conflict(
                    f"hold {hold_id} waits for a second person (change {waiting.id}): it is kept "
                    f"longer once approved (citywatch changes approve {waiting.id}), not extended"
                )
                self._audit(session, by, _refused(Action.HOLD_EXTEND_REFUSED, hold_id, str(refusal)))
            if refusal is None:
                return self._extend_in(session, hold_id, expires_at, by=by, now=now)
        raise refusal

    def _extend_in(
        self, session: Session, hold_id: int, expires_at: datetime | None, *, by: Actor, now: datetime
    ) -> HoldInfo:
        row = _require_hold(session, hold_id)
        current = _hold_info(row).hold
        if not current.in_force(now):
            raise Conflict(f"hold {hold_id} is no longer in force")
        if expires_at is not None and (current.expires_at is None or expires_at <= current.expires_at):
            raise InvalidInput(f"hold {hold_id} can only be extended (it runs until {current.expires_at})")
        row.expires_at = expires_at
        info = _hold_info(row)
        self._audit(session, by, _hold_event(Action.HOLD_EXTEND, info))
        return info

    def release_hold(self, hold_id: int, reason: str, *, by: Actor) -> HoldRelease:
        """Ask to release a hold, saying why; what it alone kept becomes eligible at the next
        purge (the receipt counts it; nothing is deleted here).

        Refused, audited as `hold.release_refused`: a hold outside `by`'s camera scope
        (PermissionDenied); a hold a request placed, whoever asks (Conflict: the request's
        decision releases it); no reason (InvalidInput). One's own hold is released at once;
        another person's becomes a `hold.release` change a second person approves
        (governance.changes), one at a time (Conflict while one waits)."""
        reason = reason.strip()
        now = self._clock()
        refusal: CitywatchError | None
        with self._db.session() as session:
            refusal = self._hold_refusal(session, hold_id, by, Action.HOLD_RELEASE)
            if refusal is None:
                refusal = self._release_refusal(session, hold_id, reason, now)
                if refusal is not None:
                    event = _refused(Action.HOLD_RELEASE_REFUSED, hold_id, str(refusal), asked=reason)
                    self._audit(session, by, event)
            if refusal is None:
                info = _hold_info(_require_hold(session, hold_id))
                if same_person(info.created_by, by.name) and not by.service:
                    return HoldRelease(
                        receipt=self.release_in(session, hold_id, by=by, now=now, reason=reason)
                    )
                params = {
                    "hold": hold_id,
                    "reference": info.hold.reference,
                    "placed_by": info.created_by,
                    "reason": reason,
                }
                return HoldRelease(
                    change=self._propose(session, by, ChangeKind.HOLD_RELEASE, hold_id, params, now=now)
                )
        raise refusal

    def _release_refusal(
        self, session: Session, hold_id: int, reason: str, now: datetime
    ) -> CitywatchError | None:
        if (request := _request_of(session, hold_id)) is not None:
            return Conflict(
                f"hold {hold_id} keeps what request {request} is about: it is released by that "
                "request's decision (refused, or closed once fulfilled), never directly"
            )
        if not reason:
            return InvalidInput(f"releasing hold {hold_id} needs a reason")
        if not _hold_info(_require_hold(session, hold_id)).hold.in_force(now):
            return Conflict(f"hold {hold_id} is no longer in force")
        if (waiting := _pending(session, hold_id, ChangeKind.HOLD_RELEASE)) is not None:
            return Conflict(
                f"the release of hold {hold_id} already waits for a second person (change {waiting.id})"
            )
        return None

    def release_in(
        self,
        session: Session,
        hold_id: int,
        *,
        by: Actor,
        now: datetime,
        reason: str = "",
        approval: Mapping[str, Any] | None = None,
    ) -> ReceiptInfo:
        """Release a hold inside the caller's transaction (e.g. a request refused or closed,
        or a `hold.release` change approved: `approval` names it and its proposer). Changes
        still waiting on the hold are withdrawn (but the one approving or refusing it)."""
        row = _require_hold(session, hold_id)
        info = _hold_info(row)
        if not info.hold.in_force(now):
            raise Conflict(f"hold {hold_id} is no longer in force")
        row.released_at = now
        row.released_by = by.name
        session.flush()
        before = self._plan(session, now, holds=[*self._holds(session, now), info.hold])
        after = self._plan(session, now, holds=self._holds(session, now))
        freed = {k: after.counts[k] - before.counts[k] for k in after.counts}
        event = _hold_event(Action.HOLD_RELEASE, _hold_info(row))
        extra = {"release_reason": reason, **(approval or {})}
        self._audit(session, by, replace(event, params={**event.params, **extra}))
        keep = None if approval is None else approval.get("change")
        repo.withdraw_changes(
            session,
            f"hold:{hold_id}",
            now=now,
            note=f"withdrawn: hold {hold_id} was released",
            decided_by=by.name,
            keep=keep if isinstance(keep, int) else None,
        )
        return self._receipt(
            session,
            "hold_release",
            now,
            freed,
            {
                "hold": hold_id,
                "reference": info.hold.reference,
                "eligible_at_next_purge": freed,
                "reason": reason,
            },
            by=by,
        )

    # --- the second person's part (called by governance.changes, in its transaction) ----------

    def change_problem(self, session: Session, hold_id: int, actor: Actor) -> str | None:
        """Why `actor` may not decide a change on hold `hold_id`: it lies outside their camera
        scope (None: they may)."""
        hold = _hold_info(_require_hold(session, hold_id)).hold
        cameras = hold_cameras(session, hold)
        if within_scope(actor, cameras):
            return None
        return scope_refusal(actor, f"hold {hold_id}", cameras)

    def apply_change_in(self, session: Session, change: ChangeInfo, *, by: Actor, now: datetime) -> None:
        """Apply an approved `hold.place` (keep the hold as long as asked) or `hold.release`."""
        hold_id = int(change.params["hold"])
        row = _require_hold(session, hold_id)
        info = _hold_info(row)
        if not info.hold.in_force(now):
            raise Conflict(f"change {change.id}: hold {hold_id} is no longer in force; refuse the change")
        if change.kind is ChangeKind.HOLD_PLACE:
            asked = change.params.get("expires_at")
            row.expires_at = None if asked is None else datetime.fromisoformat(str(asked))
            event = _hold_event(Action.HOLD_APPROVE, _hold_info(row))
            extra = {"change": change.id, "proposed_by": change.proposed_by}
            self._audit(session, by, replace(event, params={**event.params, **extra}))
            return
        if (request := _request_of(session, hold_id)) is not None:  # never the case when proposed
            raise Conflict(f"change {change.id}: hold {hold_id} is request {request}'s; refuse the change")
        approval = {"change": change.id, "proposed_by": change.proposed_by}
        self.release_in(
            session, hold_id, by=by, now=now, reason=str(change.params.get("reason", "")), approval=approval
        )

    def undo_change_in(self, session: Session, change: ChangeInfo, *, by: Actor, now: datetime) -> None:
        """A `hold.place` change refused or withdrawn: its hold is released (with a receipt),
        if still in force. A refused `hold.release` changes nothing."""
        if change.kind is not ChangeKind.HOLD_PLACE:
            return
        hold_id = int(change.params["hold"])
        row = session.get(HoldRow, hold_id)
        if row is not None and _hold_info(row).hold.in_force(now):
            reason = f"change {change.id} (a hold that needs a second person) was not approved"
            self.release_in(session, hold_id, by=by, now=now, reason=reason, approval={"change": change.id})

    def holds(self, *, include_released: bool = False, visible_to: Actor | None = None) -> list[HoldInfo]:
        """Holds in force (or every hold), oldest first; with `visible_to`, only those wholly
        within that actor's camera scope (a hold naming a camera outside it is left out)."""
        now = self._clock()
        with self._db.session(write=False) as session:
            rows = session.scalars(select(HoldRow).order_by(HoldRow.id)).all()
            infos = [_hold_info(r) for r in rows]
            infos = [i for i in infos if include_released or i.hold.in_force(now)]
            if visible_to is not None and visible_to.cameras is not None:
                infos = [i for i in infos if within_scope(visible_to, hold_cameras(session, i.hold))]
            waiting = {
                int(c.object.removeprefix("hold:")): c.id
                for c in repo.changes(session, status=ChangeStatus.PENDING.value)
                if c.kind == ChangeKind.HOLD_PLACE.value and c.object.startswith("hold:")
            }
        return [replace(i, awaiting_change=waiting.get(i.hold.id)) for i in infos]

    def _hold_refusal(
        self, session: Session, hold_id: int, by: Actor, action: Action
    ) -> PermissionDenied | OutOfScope | None:
        """None when hold `hold_id` lies within `by`'s camera scope; else the refusal, audited
        in `session` (let it commit, then raise). NotFound when there is no such hold."""
        hold = _hold_info(_require_hold(session, hold_id)).hold
        if by.cameras is None:
            return None
        return refused_outside_scope(
            session,
            self._audit,
            by,
            Permission.HOLDS_MANAGE,
            cameras=hold_cameras(session, hold),
            what=f"hold {hold_id}",
            audit_object=f"hold:{hold_id}",
            action=action,
            unseen=f"no hold {hold_id}",  # as _require_hold answers one that does not exist
        )

    # --- purge ----------------------------------------------------------------------------

    def plan(self) -> PurgePlan:
        """What a purge now would delete (a dry run)."""
        now = self._clock()
        with self._db.session(write=False) as session:
            return self._plan(session, now, holds=self._holds(session, now))

    def purge(
        self,
        *,
        by: Actor,
        orphans: Callable[[], int] = lambda: 0,
        started_by: Mapping[str, Any] | None = None,
    ) -> ReceiptInfo | None:
        """Delete what has expired and is not held, with its receipt; None when nothing was due.

        `orphans` first removes files an earlier, interrupted purge left without their rows.
        `started_by` names the process, user and configuration that ran the purge in the audit
        prune's record, beside the retention it applied."""
        left = orphans()
        if left:
            log.info("removed %d file(s) an interrupted purge left behind", left)
        now = self._clock()
        try:
            with self._db.session() as session:
                plan = self._plan(session, now, holds=self._holds(session, now))
                if plan.empty:
                    return None
                pruned = (
                    self._prune_audit(session, now, by=by, started_by=started_by)
                    if plan.audit is not None
                    else None
                )
                self._delete(session, plan)
                details = {**_details(plan), "audit": _audit_details(pruned)}
                receipt = self._receipt(session, "purge", now, plan.counts, details, by=by)
        except Unavailable as exc:  # e.g. the disk full: the transaction rolled back
            raise Unavailable(f"purge not done, nothing deleted: {exc}") from exc
        except OSError as exc:  # e.g. ENOSPC from the audit log's key file
            raise Unavailable(f"purge not done, nothing deleted: {describe_os_error(exc)}") from exc
        try:
            self._db.checkpoint()
        except Unavailable:
            log.warning("purge committed, but the WAL checkpoint failed; the next one completes it")
        gone = sum(1 for kind, path, _sha in plan.files if self._unlink(kind, path))
        log.info("purge: %s; %d file(s) unlinked; receipt %d", plan.counts, gone, receipt.id)
        return receipt

    def receipts(
        self, *, limit: int = 100, before: int | None = None, visible_to: Actor | None = None
    ) -> list[ReceiptInfo]:
        """Up to `limit` receipts, newest first; with `before`, those with a lower id (the next page).

        With `visible_to` limited to some cameras, only the receipts within that scope
        (`receipt_within_scope`): one touching a camera outside it is left out whole, never
        shown with its reference withheld, since its counts, ids and digests tell of that
        footage too. Pages still hold `limit` receipts while more are visible."""
        shown: list[ReceiptInfo] = []
        with self._db.session(write=False) as session:
            while len(shown) < limit:
                query = select(ReceiptRow).order_by(ReceiptRow.id.desc()).limit(limit)
                if before is not None:
                    query = query.where(ReceiptRow.id < before)
                rows = session.scalars(query).all()
                infos = [_receipt_info(r) for r in rows]
                if visible_to is not None and visible_to.cameras is not None:
                    infos = [i for i in infos if receipt_within_scope(session, visible_to, i)]
                shown += infos[: limit - len(shown)]
                if len(rows) < limit:
                    break
                before = rows[-1].id
        return shown

    def _plan(self, session: Session, now: datetime, *, holds: Sequence[Hold]) -> PurgePlan:
        policy = self._policy
        plan = PurgePlan(now)
        named = _named(holds)
        # alerts: expired and not held themselves, nor through their sighting
        alert_held = or_(
            _covers(holds, Alert.camera_id, Alert.created_at, Alert.created_at),
            Alert.id.in_(named["alert"]),
            Alert.sighting_id.in_(named["sighting"]),
        )
        alert_due = Alert.created_at < policy.cutoff(DataClass.ALERTS, now)
        plan.alerts = list(
            session.scalars(select(Alert.id).where(alert_due, not_(alert_held)).order_by(Alert.id))
        )
        plan.held["alerts"] = session.scalar(_count(Alert.id, alert_due, alert_held)) or 0

        # sightings: expired, not held, and no alert of theirs stays
        held_alert_sightings = select(Alert.sighting_id).where(alert_held)
        staying_alerts = select(Alert.sighting_id).where(Alert.id.not_in(plan.alerts))
        sighting_held = or_(
            _covers(holds, Sighting.camera_id, Sighting.started_at, Sighting.ended_at),
            Sighting.id.in_(named["sighting"]),
            Sighting.id.in_(held_alert_sightings),
        )
        sighting_due = Sighting.started_at < policy.cutoff(DataClass.SIGHTINGS, now)
        rows = session.execute(
            select(Sighting.id, Sighting.crop_path, Sighting.crop_sha256)
            .where(sighting_due, not_(sighting_held), Sighting.id.not_in(staying_alerts))
            .order_by(Sighting.id)
        ).all()
        plan.sightings = [r.id for r in rows]
        plan.files += [("sightings", r.crop_path, r.crop_sha256) for r in rows]
        plan.held["sightings"] = session.scalar(_count(Sighting.id, sighting_due, sighting_held)) or 0

        # templates kept with sightings that stay, but whose template has expired
        template_due = Sighting.started_at < policy.cutoff(DataClass.TEMPLATES, now)
        plan.templates = list(
            session.scalars(
                select(Sighting.id)
                .where(template_due, Sighting.template.is_not(None), not_(sighting_held))
                .where(Sighting.id.not_in(plan.sightings))
                .order_by(Sighting.id)
            )
        )

        recording_held = or_(
            _covers(holds, RecordingRow.camera_id, RecordingRow.started_at, RecordingRow.ended_at),
            RecordingRow.id.in_(named["recording"]),
        )
        recording_due = RecordingRow.started_at < policy.cutoff(DataClass.FOOTAGE, now)
        rows = session.execute(
            select(RecordingRow.id, RecordingRow.path, RecordingRow.sha256)
            .where(recording_due, not_(recording_held))
            .order_by(RecordingRow.id)
        ).all()
        plan.recordings = [r.id for r in rows]
        plan.files += [("footage", r.path, r.sha256) for r in rows]
        plan.held["footage"] = session.scalar(_count(RecordingRow.id, recording_due, recording_held)) or 0

        rows = session.execute(
            select(ExportRow.id, ExportRow.path, ExportRow.sha256)
            .where(ExportRow.created_at < policy.cutoff(DataClass.EXPORTS, now))
            .order_by(ExportRow.id)
        ).all()
        plan.exports = [r.id for r in rows]
        plan.files += [("exports", r.path, r.sha256) for r in rows]

        plan.non_matches = list(
            session.scalars(
                select(NonMatchRow.id)
                .where(NonMatchRow.seen_at < policy.cutoff(DataClass.TEMPLATES, now))
                .order_by(NonMatchRow.id)
            )
        )

        if self._audit_log is not None:
            plan.audit = self._audit_log.due(session, policy.cutoff(DataClass.AUDIT, now))
        return plan

    def _prune_audit(
        self, session: Session, now: datetime, *, by: Actor, started_by: Mapping[str, Any] | None
    ) -> AuditPrune | None:
        if self._audit_log is None:
            return None
        cutoff = self._policy.cutoff(DataClass.AUDIT, now)
        settings = {
            "audit_days": self._policy.days[DataClass.AUDIT],
            "cutoff": cutoff.astimezone(UTC).isoformat(),
            "policy_version": self._policy.version,
            "started_by": dict(started_by or {"command": "(not named)"}),
        }
        return self._audit_log.prune_in(
            session, before=cutoff, now=now, actor=by.name, role=by.role, settings=settings
        )

    def _delete(self, session: Session, plan: PurgePlan) -> None:
        if plan.alerts:
            session.execute(delete(Alert).where(Alert.id.in_(plan.alerts)))
        if plan.sightings:
            session.execute(delete(Sighting).where(Sighting.id.in_(plan.sightings)))
        if plan.templates:
            session.execute(update(Sighting).where(Sighting.id.in_(plan.templates)).values(template=None))
        if plan.recordings:
            session.execute(delete(RecordingRow).where(RecordingRow.id.in_(plan.recordings)))
        if plan.exports:
            session.execute(delete(ExportRow).where(ExportRow.id.in_(plan.exports)))
        if plan.non_matches:
            session.execute(delete(NonMatchRow).where(NonMatchRow.id.in_(plan.non_matches)))

    def _holds(self, session: Session, now: datetime) -> list[Hold]:
        rows = session.scalars(select(HoldRow).where(HoldRow.released_at.is_(None))).all()
        return [h for h in (_hold_info(r).hold for r in rows) if h.in_force(now)]

    def _receipt(
        self,
        session: Session,
        kind: str,
        now: datetime,
        counts: dict[str, int],
        details: dict[str, Any],
        *,
        by: Actor,
    ) -> ReceiptInfo:
        return write_receipt(
            session,
            self._audit,
            kind,
            now,
            policy_version=self._policy.version,
            counts=counts,
            details=details,
            by=by,
        )

    def _unlink(self, kind: str, path: str) -> bool:
        try:
            return self._remove_file(kind, path)
        except Unavailable:
            log.exception("cannot unlink %s; the next purge's orphan clean-up retries", path)
            return False


_RECEIPT_ACTION = {
    "purge": Action.RECEIPT_PURGE,
    "hold_release": Action.RECEIPT_HOLD_RELEASE,
    "authorisation": Action.RECEIPT_AUTHORISATION,
    "order": Action.RECEIPT_ORDER,
}
"""The action recording each kind of receipt."""


def write_receipt(
    session: Session,
    audit: ActorAuditHook,
    kind: str,
    now: datetime,
    *,
    policy_version: str,
    counts: dict[str, int],
    details: dict[str, Any],
    by: Actor,
    authorisation: str = "",
    legal_basis: str = "",
) -> ReceiptInfo:
    """A receipt row and its audit record, in the caller's transaction (the deletion's)."""
    row = ReceiptRow(
        kind=kind,
        at=now,
        policy_version=policy_version,
        counts=json.dumps(counts, sort_keys=True),
        details=json.dumps(details, sort_keys=True),
    )
    session.add(row)
    session.flush()
    audit(
        session,
        by,
        AuditEvent(
            _RECEIPT_ACTION[kind],
            f"receipt:{row.id}",
            legal_basis=legal_basis,
            authorisation=authorisation,
            params={"counts": counts, "policy_version": policy_version, **details},
            result_count=sum(counts.values()),
        ),
    )
    session.flush()
    row.audit_seq = session.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1))
    return _receipt_info(row)


_MODEL: dict[str, Any] = {"sighting": Sighting, "alert": Alert, "recording": RecordingRow}


def _named(holds: Iterable[Hold]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {k: [] for k in HOLDABLE}
    for h in holds:
        for kind, item_id in h.items:
            out[kind].append(item_id)
    return out


def _covers(
    holds: Iterable[Hold],
    camera: InstrumentedAttribute[str],
    start: InstrumentedAttribute[datetime],
    end: InstrumentedAttribute[datetime],
) -> ColumnElement[bool]:
    """Rows of the cameras of a window hold overlapping its window (ends included), as in
    domain.retention.Hold.covers."""
    clauses = [
        and_(camera.in_(sorted(h.cameras)), start <= h.window.end, end >= h.window.start)
        for h in holds
        if h.window is not None and h.window.start is not None and h.window.end is not None and h.cameras
    ]
    return or_(false(), *clauses)


def _count(column: InstrumentedAttribute[int], *where: ColumnElement[bool]) -> Any:
    return select(func.count(column)).where(*where)


def _details(plan: PurgePlan) -> dict[str, Any]:
    def span(ids: list[int]) -> list[int] | None:
        return [min(ids), max(ids)] if ids else None

    return {
        "id_ranges": {
            "sightings": span(plan.sightings),
            "alerts": span(plan.alerts),
            "templates": span(plan.templates),
            "footage": span(plan.recordings),
            "exports": span(plan.exports),
            NON_MATCHES: span(plan.non_matches),
        },
        "ids": {
            "sightings": plan.sightings,
            "alerts": plan.alerts,
            "templates": plan.templates,
            "footage": plan.recordings,
            "exports": plan.exports,
            NON_MATCHES: plan.non_matches,
        },
        "file_sha256": {
            kind: [sha for k, _p, sha in plan.files if k == kind]
            for kind in ("sightings", "footage", "exports")
        },
        "held": plan.held,
        "files_sha256_digest": hashlib.sha256(
            "".join(sha for _k, _p, sha in plan.files).encode()
        ).hexdigest(),
    }


def _audit_details(pruned: AuditPrune | None) -> dict[str, Any] | None:
    """The audit records a purge pruned, and the signed anchor the chain now starts from."""
    if pruned is None:
        return None
    span, anchor = pruned.anchor.pruned, pruned.anchor.anchor
    return {
        "seq_range": [span.first_seq, span.last_seq],
        "count": span.count,
        "from": span.first_at,
        "until": span.last_at,
        "anchor": {"seq": anchor.seq, "hash": anchor.hash, "signature": anchor.signature},
        "prune_record": pruned.record.seq,
    }


def refused_outside_scope(
    session: Session,
    audit: ActorAuditHook,
    by: Actor,
    permission: Permission,
    *,
    cameras: Iterable[str] | None,
    what: str,
    audit_object: str,
    action: Action,
    unseen: str | None = None,
) -> PermissionDenied | OutOfScope | None:
    """None when a record touching `cameras` lies within `by`'s camera scope
    (citywatch.domain.access.within_scope; None: cameras unknown). Otherwise the refusal,
    audited in `session` as `access.refused` with the cameras outside the scope and the
    action tried (nothing else of the record): the caller lets the session commit, then
    raises it, so the refusal's record survives the refusal. With `unseen` (the message a
    record that does not exist gets), the refusal is OutOfScope with those words: a record
    asked for by its id is answered as one that does not exist. Without it (cameras the
    caller named, e.g. filing a request), PermissionDenied says what is outside."""
    if within_scope(by, cameras):
        return None
    outside = sorted(set(cameras or ()) - (by.cameras or frozenset()))
    params = {"permission": str(permission), "cameras": outside, "action": action}
    audit(session, by, AuditEvent(Action.ACCESS_REFUSED, audit_object, params=params))
    if unseen is not None:
        return OutOfScope(unseen)
    return PermissionDenied(scope_refusal(by, what, cameras))


def hold_cameras(session: Session, hold: Hold) -> frozenset[str] | None:
    """The cameras a hold touches: its window's and its named items'. None when a named item
    is gone (a released hold's items may be purged): its camera can no longer be told."""
    items = _item_cameras(session, hold.items)
    return None if items is None else hold.cameras | items


def receipt_within_scope(session: Session, actor: Actor, receipt: ReceiptInfo) -> bool:
    """Whether `actor` may see `receipt`, by `within_scope` on the cameras it concerns: a hold
    release, its hold's (window and named items, as `holds(visible_to=)` judges the hold;
    a hold gone, or whose items can no longer be told, is out of reach); a closed
    authorisation, the cameras it named; any other receipt, the cameras its details name.
    A receipt about no camera at all (a purge counts, ranges and hashes what it deleted
    across every camera without naming one; an order's is about a person) is within
    everyone's reach. An unscoped actor sees every receipt."""
    if actor.cameras is None:
        return True
    cameras: Iterable[str] | None
    if receipt.kind == "hold_release":
        hold_id = receipt.details.get("hold")
        row = session.get(HoldRow, hold_id) if isinstance(hold_id, int) else None
        cameras = None if row is None else hold_cameras(session, _hold_info(row).hold)
    elif receipt.kind == "authorisation":
        reference = receipt.policy_version.removeprefix("authorisation:")
        named = session.scalar(
            select(AuthorisationRow.cameras).where(AuthorisationRow.reference == reference)
        )
        cameras = None if named is None else json.loads(named)
    elif "cameras" in receipt.details:
        cameras = receipt.details["cameras"]
    else:
        return True
    return within_scope(actor, cameras)


def _items_with_cameras(
    session: Session, items: Iterable[tuple[str, int]]
) -> list[tuple[str, int, str | None]]:
    """Each named item (sorted, once) with its camera; None for one that does not exist."""
    wanted = sorted(set(items))
    cameras: dict[tuple[str, int], str] = {}
    for kind in {k for k, _ in wanted}:
        model = _MODEL.get(kind)
        if model is None:  # not a holdable kind: nothing of it exists
            continue
        ids = [i for k, i in wanted if k == kind]
        for chunk in range(0, len(ids), 500):
            rows = session.execute(
                select(model.id, model.camera_id).where(model.id.in_(ids[chunk : chunk + 500]))
            ).all()
            cameras.update(((kind, item_id), camera) for item_id, camera in rows)
    return [(kind, item_id, cameras.get((kind, item_id))) for kind, item_id in wanted]


def _item_cameras(session: Session, items: Iterable[tuple[str, int]]) -> frozenset[str] | None:
    """The cameras of named sightings, alerts and recordings; None when one is missing."""
    cameras = [camera for _, _, camera in _items_with_cameras(session, items)]
    return None if None in cameras else frozenset(c for c in cameras if c is not None)


def _require_hold(session: Session, hold_id: int) -> HoldRow:
    row = session.get(HoldRow, hold_id)
    if row is None:
        raise NotFound(f"no hold {hold_id}")
    return row


def _hold_info(row: HoldRow) -> HoldInfo:
    window = None if row.starts_at is None else Window(row.starts_at, row.ends_at)
    hold = Hold(
        id=row.id,
        reference=row.reference,
        cameras=frozenset(json.loads(row.cameras)),
        window=window,
        items=frozenset((k, int(i)) for k, i in json.loads(row.items)),
        expires_at=row.expires_at,
        released_at=row.released_at,
    )
    return HoldInfo(hold, row.reason, row.requester, row.created_by, row.created_at, row.released_by)


def _hold_event(action: Action, info: HoldInfo) -> AuditEvent:
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


def _receipt_info(row: ReceiptRow) -> ReceiptInfo:
    return ReceiptInfo(
        id=row.id,
        kind=row.kind,
        at=row.at,
        policy_version=row.policy_version,
        counts=json.loads(row.counts),
        details=json.loads(row.details),
        audit_seq=row.audit_seq,
    )


def _request_of(session: Session, hold_id: int) -> int | None:
    """The request whose filing placed hold `hold_id` (None: no request's)."""
    return session.scalar(select(RequestRow.id).where(RequestRow.hold_id == hold_id).limit(1))


def _held_alone(session: Session, by: Actor, now: datetime) -> list[HeldAlone]:
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
    return windows + _named_footage(session, items)


def _named_footage(session: Session, items: Iterable[tuple[str, int]]) -> list[HeldAlone]:
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


def _pending(session: Session, hold_id: int, kind: ChangeKind) -> Any:
    """The first pending change of `kind` on hold `hold_id`, or None."""
    rows = repo.changes(session, status=ChangeStatus.PENDING.value, object=f"hold:{hold_id}")
    return next((r for r in rows if r.kind == kind.value), None)


def _recorded_cameras(session: Session, cameras: Iterable[str]) -> frozenset[str]:
    """Those of `cameras` with footage, sightings or alerts stored (a camera since removed
    from the configuration whose data is still kept)."""
    wanted = sorted(set(cameras))
    if not wanted:
        return frozenset()
    found: set[str] = set()
    for column in (RecordingRow.camera_id, Sighting.camera_id, Alert.camera_id):
        found.update(session.scalars(select(column).where(column.in_(wanted)).distinct()))
    return frozenset(found)


def _oldest_data(session: Session) -> list[datetime]:
    """When the oldest recording, sighting and alert still stored began (one per class that has any)."""
    found = []
    for column in (RecordingRow.started_at, Sighting.started_at, Alert.created_at):
        first = session.scalar(select(column).order_by(column).limit(1))
        if first is not None:
            found.append(first)
    return found


def _place_refused(new: NewHold, reason: str) -> AuditEvent:
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


def _refused(action: Action, hold_id: int, reason: str, **params: Any) -> AuditEvent:
    return AuditEvent(action, f"hold:{hold_id}", params={"reason": reason, **params})
