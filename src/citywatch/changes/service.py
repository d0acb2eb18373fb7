"""ChangeService: changes that widen what is matched wait for a second person (two-person rule).

What waits: a new person or new reference images (WatchlistService.enroll with a proposer), a
person moved onto another watchlist, a threshold raised or a margin lowered, including on a
new watchlist; a city-wide or long legal hold, and the release of a hold another person
placed (proposed by retention.holds, applied through it: `retention=`). Proposing,
approving and refusing are each one transaction with their audit record. A change is
applied in the transaction that approves it. Stricter settings apply at once; erasure
never waits (WatchlistService.remove_person withdraws the person's pending changes). A pending
change is refused by a holder of `changes.approve`, or withdrawn by its proposer.
The approver must be independent of the proposer (not given their account, password or
token by them: citywatch.audit.two_person.independence_problem).

People are told apart as citywatch.audit.two_person tells them apart (`same_person`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from citywatch.audit.duties import DEFAULT_INDEPENDENCE, account_history, owners
from citywatch.audit.hooks import ActorAuditHook
from citywatch.audit.two_person import same_person, second_person_problem
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable
from citywatch.domain.records import ChangeInfo, ChangeKind, ChangeStatus, NewWatchlist, TuningResult
from citywatch.store import change_queries, watchlist_queries
from citywatch.store.blobs import BlobStore
from citywatch.store.db import WATCHLIST_TABLES, Database
from citywatch.store.governance_tables import ChangeRow
from citywatch.store.watchlist_tables import Person, Watchlist
from citywatch.watchlists.service import WatchlistService

if TYPE_CHECKING:
    from citywatch.retention.holds import HoldService

log = logging.getLogger(__name__)

HOLD_KINDS = frozenset({ChangeKind.HOLD_PLACE, ChangeKind.HOLD_RELEASE})


APPROVE_HINT = "needs a second person (supervisor) to approve: citywatch changes approve {id}"
MAX_LIST = 10_000


class ChangeService:
    """Pending changes: list, approve (by a second person, applied at once), refuse."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        audit: ActorAuditHook | None = None,
        clock: Clock = utc_now,
        retention: HoldService | None = None,
        independence: timedelta = DEFAULT_INDEPENDENCE,
    ) -> None:
        """`retention`: applies the changes on legal holds (without it, they cannot be decided).
        `independence`: how far before a change was proposed the approver must not owe their
        account to the proposer (citywatch.audit.two_person.independence_problem)."""
        self._db = db
        self._blobs = blobs
        self._audit = audit
        self._clock = clock
        self._retention = retention
        self._independence = independence

    def _record(self, session: Session, actor: Actor, event: AuditEvent) -> None:
        if self._audit is not None:
            self._audit(session, actor, event)

    # --- watchlists ----------------------------------------------------------------------

    def create_watchlist(
        self,
        store: WatchlistService,
        name: str,
        actor: Actor,
        *,
        category: str = "wanted",
        threshold: float | None = None,
        margin: float | None = None,
        expires_at: datetime | None = None,
        severity: str = "medium",
        default_threshold: float,
        default_margin: float,
    ) -> NewWatchlist:
        """Create a watchlist through `store` (which audits for `actor`). A threshold or margin
        at least as strict as the configured default applies at once; a looser one (a higher
        threshold, a lower margin) leaves the watchlist at the default and becomes a change a
        second person must approve, as `set_threshold` and `set_margin` would make it.

        Two transactions: should the proposal fail, the watchlist stays at the default."""
        if threshold is not None:
            _check_threshold(threshold)
        if margin is not None:
            _check_margin(margin)
        loose_threshold = threshold is not None and threshold > default_threshold
        loose_margin = margin is not None and margin < default_margin
        created = store.create_watchlist(
            name,
            category,
            None if loose_threshold else threshold,
            None if loose_margin else margin,
            expires_at,
            severity=severity,
        )
        tuning: list[TuningResult] = []
        if loose_threshold and threshold is not None:
            tuning.append(self.set_threshold(created.name, threshold, actor, default=default_threshold))
        if loose_margin and margin is not None:
            tuning.append(self.set_margin(created.name, margin, actor, default=default_margin))
        return NewWatchlist(created, tuple(tuning))

    def set_threshold(self, watchlist: str, value: float, actor: Actor, *, default: float) -> TuningResult:
        """Set a watchlist's distance threshold. Lowering it (stricter) applies at once;
        raising it (looser: more matches) becomes a change a second person must approve.
        `default` is the configured threshold of a watchlist that has none of its own."""
        _check_threshold(value)
        return self._tune(watchlist, "threshold", value, actor, default=default, looser=lambda a, b: b > a)

    def set_margin(self, watchlist: str, value: float, actor: Actor, *, default: float) -> TuningResult:
        """Set a watchlist's margin over the runner-up. Raising it (stricter) applies at once;
        lowering it (looser) becomes a change a second person must approve."""
        _check_margin(value)
        return self._tune(watchlist, "margin", value, actor, default=default, looser=lambda a, b: b < a)

    def _tune(
        self,
        watchlist: str,
        setting: str,
        value: float,
        actor: Actor,
        *,
        default: float,
        looser: Callable[[float, float], bool],
    ) -> TuningResult:
        kind = ChangeKind.WATCHLIST_THRESHOLD if setting == "threshold" else ChangeKind.WATCHLIST_MARGIN
        with self._db.session() as session:
            row = watchlist_queries.require_watchlist(session, watchlist)
            stored: float | None = getattr(row, setting)
            before = default if stored is None else stored
            params = {"watchlist": row.name, "from": before, "to": value}
            if not looser(before, value):
                setattr(row, setting, value)
                self._record(session, actor, AuditEvent(Action(kind), f"watchlist:{row.id}", params=params))
                return TuningResult(row.name, setting, before, value)
            change = self._propose(session, actor, kind, f"watchlist:{row.id}", params)
            return TuningResult(row.name, setting, before, value, change)

    # --- persons --------------------------------------------------------------------------

    def move_person(self, person_id: int, watchlist: str, actor: Actor) -> ChangeInfo | None:
        """Propose moving a person onto `watchlist`. That adds a member to the list (matched
        under its threshold and the authorisations bound to it), so it waits for a second
        person like an enrolment; the person stays where they are until then. None when the
        person is on `watchlist` already. Names and notes change at once (WatchlistService.update_person)."""
        with self._db.session() as session:
            person = session.get(Person, person_id)
            if person is None:
                raise NotFound(f"no person with id {person_id}")
            target = watchlist_queries.require_watchlist(session, watchlist)
            if target.id == person.watchlist_id:
                return None
            source = session.get(Watchlist, person.watchlist_id)
            params = {
                "person_id": person.id,
                "from": "" if source is None else source.name,
                "to": target.name,
                "from_id": person.watchlist_id,
                "to_id": target.id,
            }
            return self._propose(session, actor, ChangeKind.PERSON_MOVE, f"person:{person.id}", params)

    def _propose(
        self, session: Session, actor: Actor, kind: ChangeKind, obj: str, params: Mapping[str, Any]
    ) -> ChangeInfo:
        change = change_queries.insert_change(
            session,
            kind=kind,
            object=obj,
            params=params,
            proposed_by=actor.name,
            proposed_role=actor.role,
            proposed_by_service=actor.service,
            now=self._now(),
        )
        self._record(
            session,
            actor,
            AuditEvent(Action.CHANGE_PROPOSE, f"change:{change.id}", params={"kind": kind.value, **params}),
        )
        return change_queries.change_info(change)

    # --- reading --------------------------------------------------------------------------

    def get(self, change_id: int) -> ChangeInfo:
        with self._db.session(write=False) as session:
            return change_queries.change_info(_require_change(session, change_id))

    def list_changes(
        self, status: ChangeStatus | str | None = ChangeStatus.PENDING, *, object: str | None = None
    ) -> list[ChangeInfo]:
        """Changes in `status` (None: all), oldest first, optionally only those on `object`."""
        wanted = None if status is None else _status(status).value
        with self._db.session(write=False) as session:
            rows = change_queries.changes(session, status=wanted, object=object, limit=MAX_LIST)
            return [change_queries.change_info(row) for row in rows]

    # --- deciding -------------------------------------------------------------------------

    def approve(self, change_id: int, actor: Actor) -> ChangeInfo:
        """Apply a pending change, when `actor` is a second person allowed to approve it.
        A refusal of the rule is audited and raised as PermissionDenied."""
        problem = None
        with self._db.session() as session:
            row = _require_pending(session, change_id)
            params, service, _note = change_queries.decode_payload(row.payload)
            proposer = Actor(row.proposed_by, row.proposed_role, service=service)
            since, now = row.created_at - self._independence, self._now()
            history = account_history(session, actor.name, since, now)
            first_owners = owners(session, row.proposed_by, since, now)
            needed = Permission.CHANGES_APPROVE
            problem = second_person_problem(proposer, actor, needed, history, first_owners)
            if problem is None and ChangeKind(row.kind) in HOLD_KINDS:
                problem = self._holds().change_problem(session, _object_id(row.object, "hold"), actor)
            event_params = {"kind": row.kind, **params}
            if problem is not None:
                # committed on its own: the refusal is recorded, nothing else changes
                self._record(
                    session,
                    actor,
                    AuditEvent(
                        Action.CHANGE_APPROVE_REFUSED,
                        f"change:{row.id}",
                        params={**event_params, "proposed_by": row.proposed_by, "reason": problem},
                    ),
                )
            else:
                self._apply(session, row, params, actor)
                row.status = ChangeStatus.APPLIED.value
                row.decided_by = actor.name
                row.decided_at = self._now()
                self._record(
                    session,
                    actor,
                    AuditEvent(
                        Action.CHANGE_APPROVE,
                        f"change:{row.id}",
                        params={**event_params, "proposed_by": row.proposed_by},
                    ),
                )
                return change_queries.change_info(row)
        raise PermissionDenied(f"change {change_id} not approved: {problem}")

    def refuse(self, change_id: int, actor: Actor, reason: str = "") -> ChangeInfo:
        """Refuse a pending change (a holder of `changes.approve`), or withdraw it (its
        proposer, with or without that permission). Anyone else is refused: audited, and
        raised as PermissionDenied. A refused addition is erased: the pending person or the
        held-back reference images and their templates."""
        reason = reason.strip()
        unlink: list[str] = []
        with self._db.session() as session:
            row = _require_pending(session, change_id)
            params, service, _note = change_queries.decode_payload(row.payload)
            event_params = {"kind": row.kind, **params, "proposed_by": row.proposed_by}
            problem = _refusal_problem(row.proposed_by, actor)
            if problem is not None:
                # committed on its own: the refusal is recorded, the change stays pending
                self._record(
                    session,
                    actor,
                    AuditEvent(
                        Action.CHANGE_REFUSE_REFUSED,
                        f"change:{row.id}",
                        params={**event_params, "reason": problem},
                    ),
                )
            else:
                removed = self._undo(session, row, params, actor, unlink)
                row.status = ChangeStatus.REFUSED.value
                row.decided_by = actor.name
                row.decided_at = self._now()
                row.payload = change_queries.encode_payload(params, service=service, note=reason or "refused")
                self._record(
                    session,
                    actor,
                    AuditEvent(
                        Action.CHANGE_REFUSE,
                        f"change:{row.id}",
                        params={**event_params, "reason": reason},
                        result_count=removed,
                    ),
                )
                info = change_queries.change_info(row)
        if problem is not None:
            raise PermissionDenied(f"change {change_id} not refused: {problem}")
        if unlink:
            self._erase_files(unlink)
        return info

    # --- applying -------------------------------------------------------------------------

    def _apply(self, session: Session, row: ChangeRow, params: Mapping[str, Any], actor: Actor) -> None:
        kind = ChangeKind(row.kind)
        if kind is ChangeKind.PERSON_ADD:
            person = _require_person(session, row.object)
            person.status = "active"
            person.approved_by = actor.name
            person.updated_at = self._now()
        elif kind is ChangeKind.PERSON_REFERENCE:
            _require_person(session, row.object)  # leaving the pending set puts them in the gallery
        elif kind is ChangeKind.PERSON_MOVE:
            self._move(session, row, params)
            self._record(
                session, actor, AuditEvent(Action(kind), row.object, params={**params, "change": row.id})
            )
        elif kind in HOLD_KINDS:
            self._holds().apply_change_in(session, change_queries.change_info(row), by=actor, now=self._now())
        else:
            watchlist = session.get(Watchlist, _object_id(row.object, "watchlist"))
            if watchlist is None:
                raise Conflict(f"change {row.id}: {row.object} no longer exists; refuse the change")
            setting = "threshold" if kind is ChangeKind.WATCHLIST_THRESHOLD else "margin"
            setattr(watchlist, setting, float(params["to"]))
            self._record(
                session, actor, AuditEvent(Action(kind), row.object, params={**params, "change": row.id})
            )

    def _move(self, session: Session, row: ChangeRow, params: Mapping[str, Any]) -> None:
        person = _require_person(session, row.object)
        target = session.get(Watchlist, int(params["to_id"]))
        if target is None:
            raise Conflict(f"change {row.id}: watchlist {params['to']!r} no longer exists; refuse the change")
        if person.watchlist_id != int(params["from_id"]):
            # what the second person would approve is no longer what was proposed
            raise Conflict(
                f"change {row.id}: {row.object} is no longer on watchlist {params['from']!r}; "
                "refuse the change"
            )
        person.watchlist_id = target.id
        person.updated_at = self._now()

    def _undo(
        self, session: Session, row: ChangeRow, params: Mapping[str, Any], actor: Actor, unlink: list[str]
    ) -> int:
        """Erase what a refused addition stored; returns the number of templates deleted. A
        refused city-wide or long hold is released."""
        kind = ChangeKind(row.kind)
        if kind in HOLD_KINDS:
            self._holds().undo_change_in(session, change_queries.change_info(row), by=actor, now=self._now())
            return 0
        if kind is ChangeKind.PERSON_ADD:
            person = session.get(Person, _object_id(row.object, "person"))
            if person is None:
                return 0
            unlink += [ref.blob_path for ref in watchlist_queries.references_of(session, person.id)]
            templates = watchlist_queries.count_templates_of(session, person.id)
            change_queries.withdraw_changes(
                session,
                row.object,
                now=self._now(),
                note=f"withdrawn: change {row.id} (the person's addition) was refused",
                decided_by=actor.name,
                keep=row.id,
            )
            watchlist_queries.delete_person(session, person)
            return templates
        if kind is ChangeKind.PERSON_REFERENCE:
            wanted = {int(i) for i in params.get("reference_ids", [])}
            person_id = _object_id(row.object, "person")
            refs = [r for r in watchlist_queries.references_of(session, person_id) if r.id in wanted]
            unlink += [r.blob_path for r in refs]
            for ref in refs:
                session.delete(ref)  # the database cascades to its template
            session.flush()
            return len(refs)
        return 0

    def _erase_files(self, paths: list[str]) -> None:
        try:
            self._db.checkpoint(erase=WATCHLIST_TABLES)  # no copy of the deleted templates stays behind
        except Unavailable:
            log.warning("refused change erased, but the WAL checkpoint failed; the next one completes it")
        for path in paths:
            try:
                self._blobs.delete(path)
            except Unavailable:
                log.exception("cannot unlink %s; clean_orphan_references will retry", path)

    def _now(self) -> datetime:
        return self._clock()

    def _holds(self) -> HoldService:
        if self._retention is None:
            raise Unavailable("changes on legal holds need the holds' service (ChangeService(retention=))")
        return self._retention


def pending_hint(change: ChangeInfo) -> str:
    """The one line that tells a user what a pending change waits for."""
    return f"pending change #{change.id}: " + APPROVE_HINT.format(id=change.id)


def _refusal_problem(proposed_by: str, actor: Actor) -> str | None:
    """None when `actor` may refuse a change `proposed_by` proposed: its proposer (told apart
    as the two-person rule tells people apart) withdrawing it, or a holder of changes.approve."""
    if same_person(proposed_by, actor.name) or can(actor, Permission.CHANGES_APPROVE):
        return None
    return (
        f"{actor.name} (role {actor.role}) did not propose it and lacks the "
        f"{Permission.CHANGES_APPROVE} permission to refuse it; its proposer may withdraw it"
    )


def _check_threshold(value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InvalidInput(f"threshold must be greater than 0, got {value}")


def _check_margin(value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise InvalidInput(f"margin must be at least 0, got {value}")


def _status(value: ChangeStatus | str) -> ChangeStatus:
    try:
        return ChangeStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in ChangeStatus)
        raise InvalidInput(f"change status {value!r} is not one of {allowed}") from None


def _object_id(obj: str, prefix: str) -> int:
    head, _, tail = obj.partition(":")
    if head != prefix or not tail.isdigit():
        raise Conflict(f"change names {obj!r}, not a {prefix}")
    return int(tail)


def _require_person(session: Session, obj: str) -> Person:
    person = session.get(Person, _object_id(obj, "person"))
    if person is None:
        raise Conflict(f"{obj} no longer exists; refuse the change")
    return person


def _require_change(session: Session, change_id: int) -> ChangeRow:
    row = change_queries.change_by_id(session, change_id)
    if row is None:
        raise NotFound(f"no change with id {change_id}")
    return row


def _require_pending(session: Session, change_id: int) -> ChangeRow:
    row = _require_change(session, change_id)
    if row.status != ChangeStatus.PENDING.value:
        raise Conflict(f"change {change_id} is already {row.status}")
    return row
