"""Legal holds: placed, extended, released, approved by a second person where they reach far.
The purge that honours them is retention.purge; its receipts, audit.receipts.

Holds and camera scope: a hold touches the cameras of its window and those of the items it
names. A user limited to some cameras places, extends, releases and sees only holds that
lie wholly within that scope (citywatch.domain.access.within_scope); anything else is
refused here, audited as `access.refused`, whoever calls (API, console, CLI).

Holds protect what they are for (docs/security.md): a hold a request placed is
released only by that request's decision (requests.service), never directly; releasing a
hold needs a reason, and another person's hold is released only once a second person
approves (a `hold.release` change, governance.changes); a hold's cameras must be known and its
window bounded (domain.retention.hold_reach), and a city-wide or long hold waits for a
second person (a `hold.place` change) while protecting, for retention.hold_pending_hours.
Every refusal is audited (`hold.place_refused`, `hold.release_refused`, `hold.extend_refused`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.audit.log import AuditLog
from citywatch.audit.receipts import ReceiptInfo
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
)
from citywatch.domain.records import ChangeInfo, ChangeKind, ChangeStatus
from citywatch.domain.retention import (
    DataClass,
    HoldBounds,
    HoldReach,
    RetentionPolicy,
    hold_reach,
)
from citywatch.retention.hold_records import (
    HoldInfo,
    HoldRelease,
    NewHold,
    held_alone,
    hold_event,
    hold_info,
    named_footage,
    oldest_data,
    pending,
    place_refused,
    recorded_cameras,
    refused,
    request_of,
    require_hold,
)
from citywatch.retention.purge import FileRemover, Purger
from citywatch.retention.scope import (
    HOLDABLE,
    ITEM_MODEL,
    hold_cameras,
    item_cameras,
    items_with_cameras,
    refused_outside_scope,
)
from citywatch.store import change_queries
from citywatch.store.db import Database
from citywatch.store.retention_tables import HoldRow

log = logging.getLogger(__name__)

ActorAuditHook = Callable[[Session, Actor, AuditEvent], None]


class HoldService:
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
        self.purger = Purger(
            db, policy=policy, clock=clock, audit=audit, remove_file=remove_file, audit_log=audit_log
        )
        """The purge, and what releasing a hold frees (planned by the same rules)."""

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
                and (items := item_cameras(session, new.items)) is not None
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
                    self._audit(session, by, place_refused(new, reach.refusal))
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
        for kind, item_id, camera in items_with_cameras(session, new.items):
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
        known = configured | recorded_cameras(session, asked - configured)
        longest = max(
            self._policy.keep_for(k) for k in (DataClass.FOOTAGE, DataClass.SIGHTINGS, DataClass.ALERTS)
        )
        oldest = min([now - longest, *oldest_data(session)])
        return hold_reach(
            asked,
            new.window,
            known=known,
            configured=len(configured),
            oldest=oldest,
            now=now,
            bounds=self._bounds,
            held_alone=held_alone(session, by, now),
            named=named_footage(session, new.items),
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
        row = change_queries.insert_change(
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
        return change_queries.change_info(row)

    def place_in(self, session: Session, new: NewHold, *, by: Actor, now: datetime) -> HoldInfo:
        """Place a (validated) hold inside the caller's transaction, e.g. a request's filing."""
        items = sorted(set(new.items))
        missing = [f"{k} {i}" for k, i in items if session.get(ITEM_MODEL[k], i) is None]
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
        info = hold_info(row)
        self._audit(session, by, hold_event(Action.HOLD_PLACE, info))
        return info

    def extend_hold(self, hold_id: int, expires_at: datetime | None, *, by: Actor) -> HoldInfo:
        """Move a hold's expiry later (None: until released). Never earlier: release it instead.
        Only a hold within `by`'s camera scope (else PermissionDenied, audited)."""
        now = self._clock()
        refusal: CitywatchError | None
        with self._db.session() as session:
            refusal = self._hold_refusal(session, hold_id, by, Action.HOLD_EXTEND)
            if refusal is None and (waiting := pending(session, hold_id, ChangeKind.HOLD_PLACE)):
                refusal = Conflict(
                    f"hold {hold_id} waits for a second person (change {waiting.id}): it is kept "
                    f"longer once approved (citywatch changes approve {waiting.id}), not extended"
                )
                self._audit(session, by, refused(Action.HOLD_EXTEND_REFUSED, hold_id, str(refusal)))
            if refusal is None:
                return self._extend_in(session, hold_id, expires_at, by=by, now=now)
        raise refusal

    def _extend_in(
        self, session: Session, hold_id: int, expires_at: datetime | None, *, by: Actor, now: datetime
    ) -> HoldInfo:
        row = require_hold(session, hold_id)
        current = hold_info(row).hold
        if not current.in_force(now):
            raise Conflict(f"hold {hold_id} is no longer in force")
        if expires_at is not None and (current.expires_at is None or expires_at <= current.expires_at):
            raise InvalidInput(f"hold {hold_id} can only be extended (it runs until {current.expires_at})")
        row.expires_at = expires_at
        info = hold_info(row)
        self._audit(session, by, hold_event(Action.HOLD_EXTEND, info))
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
                    event = refused(Action.HOLD_RELEASE_REFUSED, hold_id, str(refusal), asked=reason)
                    self._audit(session, by, event)
            if refusal is None:
                info = hold_info(require_hold(session, hold_id))
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
        if (request := request_of(session, hold_id)) is not None:
            return Conflict(
                f"hold {hold_id} keeps what request {request} is about: it is released by that "
                "request's decision (refused, or closed once fulfilled), never directly"
            )
        if not reason:
            return InvalidInput(f"releasing hold {hold_id} needs a reason")
        if not hold_info(require_hold(session, hold_id)).hold.in_force(now):
            return Conflict(f"hold {hold_id} is no longer in force")
        if (waiting := pending(session, hold_id, ChangeKind.HOLD_RELEASE)) is not None:
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
        row = require_hold(session, hold_id)
        info = hold_info(row)
        if not info.hold.in_force(now):
            raise Conflict(f"hold {hold_id} is no longer in force")
        row.released_at = now
        row.released_by = by.name
        session.flush()
        before = self.purger.plan_in(session, now, holds=[*self.purger.holds_in(session, now), info.hold])
        after = self.purger.plan_in(session, now, holds=self.purger.holds_in(session, now))
        freed = {k: after.counts[k] - before.counts[k] for k in after.counts}
        event = hold_event(Action.HOLD_RELEASE, hold_info(row))
        extra = {"release_reason": reason, **(approval or {})}
        self._audit(session, by, replace(event, params={**event.params, **extra}))
        keep = None if approval is None else approval.get("change")
        change_queries.withdraw_changes(
            session,
            f"hold:{hold_id}",
            now=now,
            note=f"withdrawn: hold {hold_id} was released",
            decided_by=by.name,
            keep=keep if isinstance(keep, int) else None,
        )
        return self.purger.receipt_in(
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
        hold = hold_info(require_hold(session, hold_id)).hold
        cameras = hold_cameras(session, hold)
        if within_scope(actor, cameras):
            return None
        return scope_refusal(actor, f"hold {hold_id}", cameras)

    def apply_change_in(self, session: Session, change: ChangeInfo, *, by: Actor, now: datetime) -> None:
        """Apply an approved `hold.place` (keep the hold as long as asked) or `hold.release`."""
        hold_id = int(change.params["hold"])
        row = require_hold(session, hold_id)
        info = hold_info(row)
        if not info.hold.in_force(now):
            raise Conflict(f"change {change.id}: hold {hold_id} is no longer in force; refuse the change")
        if change.kind is ChangeKind.HOLD_PLACE:
            asked = change.params.get("expires_at")
            row.expires_at = None if asked is None else datetime.fromisoformat(str(asked))
            event = hold_event(Action.HOLD_APPROVE, hold_info(row))
            extra = {"change": change.id, "proposed_by": change.proposed_by}
            self._audit(session, by, replace(event, params={**event.params, **extra}))
            return
        if (request := request_of(session, hold_id)) is not None:  # never the case when proposed
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
        if row is not None and hold_info(row).hold.in_force(now):
            reason = f"change {change.id} (a hold that needs a second person) was not approved"
            self.release_in(session, hold_id, by=by, now=now, reason=reason, approval={"change": change.id})

    def holds(self, *, include_released: bool = False, visible_to: Actor | None = None) -> list[HoldInfo]:
        """Holds in force (or every hold), oldest first; with `visible_to`, only those wholly
        within that actor's camera scope (a hold naming a camera outside it is left out)."""
        now = self._clock()
        with self._db.session(write=False) as session:
            rows = session.scalars(select(HoldRow).order_by(HoldRow.id)).all()
            infos = [hold_info(r) for r in rows]
            infos = [i for i in infos if include_released or i.hold.in_force(now)]
            if visible_to is not None and visible_to.cameras is not None:
                infos = [i for i in infos if within_scope(visible_to, hold_cameras(session, i.hold))]
            waiting = {
                int(c.object.removeprefix("hold:")): c.id
                for c in change_queries.changes(session, status=ChangeStatus.PENDING.value)
                if c.kind == ChangeKind.HOLD_PLACE.value and c.object.startswith("hold:")
            }
        return [replace(i, awaiting_change=waiting.get(i.hold.id)) for i in infos]

    def _hold_refusal(
        self, session: Session, hold_id: int, by: Actor, action: Action
    ) -> PermissionDenied | OutOfScope | None:
        """None when hold `hold_id` lies within `by`'s camera scope; else the refusal, audited
        in `session` (let it commit, then raise). NotFound when there is no such hold."""
        hold = hold_info(require_hold(session, hold_id)).hold
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
            unseen=f"no hold {hold_id}",  # as require_hold answers one that does not exist
        )
