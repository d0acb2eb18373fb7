"""Requests for footage and sightings: one workflow for law enforcement and (later) the public.

filed → in_review → approved → fulfilled → closed, or refused. Filing holds the data in
scope in the same transaction; refusing or closing releases that hold (with a receipt);
a supervisor other than the filer decides; every step is audited.

Camera scope: a user limited to some cameras files, reads and decides only requests whose
cameras all lie within that scope (citywatch.domain.access.within_scope); a request naming
one camera outside it is left out of their lists whole, and any step on it is refused
here (PermissionDenied, audited as `access.refused`), whoever calls (API, console, CLI).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.audit.duties import DEFAULT_INDEPENDENCE, account_history, owners
from citywatch.audit.hooks import ActorAuditHook
from citywatch.audit.two_person import independence_problem, same_person
from citywatch.domain.access import Permission, can, within_scope
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import Clock
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, OutOfScope, PermissionDenied
from citywatch.domain.policy import Window
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.requests.records import NewRequest, RequestInfo, SubjectFindings
from citywatch.retention.hold_records import NewHold
from citywatch.retention.holds import HoldService
from citywatch.retention.scope import refused_outside_scope
from citywatch.store.db import Database
from citywatch.store.retention_tables import ExportRow, HoldRow, RecordingRow, RequestRow
from citywatch.store.sighting_tables import Sighting

log = logging.getLogger(__name__)

_HELD_KINDS: dict[str, Any] = {
    "sighting": Sighting,
    "recording": RecordingRow,
}


_NEXT: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.FILED: frozenset({RequestStatus.IN_REVIEW, RequestStatus.APPROVED, RequestStatus.REFUSED}),
    RequestStatus.IN_REVIEW: frozenset({RequestStatus.APPROVED, RequestStatus.REFUSED}),
    RequestStatus.APPROVED: frozenset({RequestStatus.FULFILLED}),
    RequestStatus.REFUSED: frozenset({RequestStatus.CLOSED}),
    RequestStatus.FULFILLED: frozenset({RequestStatus.CLOSED}),
    RequestStatus.CLOSED: frozenset(),
}
"""The only moves a request can make; anything else is a Conflict naming the state."""


class RequestService:
    def __init__(
        self,
        db: Database,
        retention: HoldService,
        *,
        deadlines: dict[RequestKind, timedelta],
        clock: Clock,
        audit: ActorAuditHook,
        remove_photo: Callable[[str], object],
        independence: timedelta = DEFAULT_INDEPENDENCE,
    ) -> None:
        """`independence`: how far before a request was filed its approver must not owe their
        account to its filer (citywatch.audit.two_person.independence_problem)."""
        self._independence = independence
        self._db = db
        self._retention = retention
        self._deadlines = deadlines
        self._clock = clock
        self._audit = audit
        self._remove_photo = remove_photo
        """Unlinks a requester's photo from the blob store, after the commit that forgets it."""

    def file(
        self,
        new: NewRequest,
        *,
        by: Actor,
        known_cameras: set[str] | None = None,
        subject: SubjectFindings | None = None,
    ) -> RequestInfo:
        """Record a request and, in the same transaction, hold what it is about: a
        law-enforcement request holds its cameras over its window; a subject-access request
        holds the items the system's search found (`subject`), and keeps the requester's
        photo until the request is answered. `by`, when limited to some cameras, files only
        a request about those (else PermissionDenied, audited)."""
        check_request(new)
        if (new.kind is RequestKind.SUBJECT_ACCESS) != (subject is not None):
            raise InvalidInput("a subject-access request, and only one, comes with the system's search")
        # scope before existence: a camera outside the caller's scope is refused alike whether
        # or not it exists, and what exists beyond their scope is never listed to them
        self.check_filing(new.cameras, by=by)
        check_known(new.cameras, known_cameras, by=by)
        reference, requester = new.reference.strip(), new.requester.strip()
        start, end = new.window.start, new.window.end
        assert start is not None and end is not None  # check_request
        now = self._clock()
        with self._db.session() as session:
            if subject is not None:
                subject = _still_there(session, subject)
            scope = _scope_hold(new, reference, requester, subject)
            hold = self._retention.place_in(session, scope, by=by, now=now)
            row = RequestRow(
                kind=new.kind.value,
                status=RequestStatus.FILED.value,
                reference=reference,
                requester=requester,
                contact=new.contact.strip(),
                cameras=json.dumps(sorted(set(new.cameras))),
                starts_at=start,
                ends_at=end,
                deadline=now + self._deadlines[new.kind],
                filed_by=by.name,
                created_at=now,
                hold_id=None if hold is None else hold.hold.id,
                photo_path=None if subject is None else subject.photo_path,
            )
            session.add(row)
            session.flush()
            info = _info(session, row)
            if subject is not None:
                self._audit(session, subject.searched_by, subject.search)
            self._audit(session, by, _event(Action.REQUEST_FILE, info))
            return info

    def check_filing(self, cameras: Sequence[str], *, by: Actor) -> None:
        """Refuse `by` a request about `cameras` outside their camera scope: PermissionDenied,
        audited (before a subject-access search reads any footage, and again on filing)."""
        if by.cameras is None:
            return
        with self._db.session() as session:
            refusal = refused_outside_scope(
                session,
                self._audit,
                by,
                Permission.REQUESTS_FILE,
                cameras=cameras,
                what="a request",
                audit_object="requests",
                action=Action.REQUEST_FILE,
            )
        if refusal is not None:
            raise refusal

    def review(self, request_id: int, *, by: Actor) -> RequestInfo:
        return self._move(request_id, RequestStatus.IN_REVIEW, by=by)

    def approve(self, request_id: int, *, by: Actor) -> RequestInfo:
        return self._move(request_id, RequestStatus.APPROVED, by=by, decide=True)

    def refuse(self, request_id: int, reason: str, *, by: Actor) -> RequestInfo:
        if not reason.strip():
            raise InvalidInput("a refusal gives its reason (--reason)")
        return self._move(request_id, RequestStatus.REFUSED, by=by, decide=True, reason=reason.strip())

    def close(self, request_id: int, *, by: Actor) -> RequestInfo:
        """Close a fulfilled or refused request; its hold is released (with a receipt)."""
        return self._move(request_id, RequestStatus.CLOSED, by=by)

    def fulfilled(
        self, request_id: int, export: ExportRow, *, by: Actor, details: dict[str, object] | None = None
    ) -> RequestInfo:
        """Record the export that fulfils an approved request, in one transaction; a
        requester's photo is deleted once that has committed."""
        with self._db.session() as session:
            row = _require(session, request_id)
            _check_move(row, RequestStatus.FULFILLED)
            session.add(export)
            session.flush()
            row.status = RequestStatus.FULFILLED.value
            photo, row.photo_path = row.photo_path, None
            info = _info(session, row)
            self._audit(
                session,
                by,
                _event(
                    Action.REQUEST_FULFIL,
                    info,
                    extra={"export": export.id, "export_sha256": export.sha256, **(details or {})},
                ),
            )
        self._forget(photo)
        return info

    def get(
        self,
        request_id: int,
        *,
        by: Actor | None = None,
        permission: Permission = Permission.REQUESTS_READ,
        action: Action = Action.REQUEST_READ,
    ) -> RequestInfo:
        """One request; with `by`, only one within their camera scope (else PermissionDenied,
        audited as an `access.refused` of `action` under `permission`)."""
        if by is None or by.cameras is None:
            with self._db.session(write=False) as session:
                return _info(session, _require(session, request_id))
        with self._db.session() as session:
            row = _require(session, request_id)
            refusal = self._refusal(session, row, by, permission, action)
            if refusal is None:
                return _info(session, row)
        raise refusal

    def list(
        self, status: RequestStatus | None = None, *, visible_to: Actor | None = None
    ) -> list[RequestInfo]:
        """Requests, oldest first, in `status` (None: any); with `visible_to`, only those
        wholly within that actor's camera scope: one naming any camera outside it is left
        out whole (its reference, requester and window tell of footage they may not see)."""
        with self._db.session(write=False) as session:
            query = select(RequestRow).order_by(RequestRow.id)
            if status is not None:
                query = query.where(RequestRow.status == status.value)
            rows = [
                r
                for r in session.scalars(query)
                if visible_to is None or within_scope(visible_to, json.loads(r.cameras))
            ]
            return [_info(session, r) for r in rows]

    def _decider_refusal(
        self, session: Session, row: RequestRow, to: RequestStatus, by: Actor
    ) -> PermissionDenied | None:
        """Who may decide: a signed-in supervisor other than its filer and, to approve it,
        independent of the filer (`independence_problem`). A refusal is audited on its own."""
        _check_move(row, to)
        problem = _decider_problem(row, by)
        if problem is None and to is RequestStatus.APPROVED:
            since, now = row.created_at - self._independence, self._clock()
            history = account_history(session, by.name, since, now)
            first_owners = owners(session, row.filed_by, since, now)
            problem = independence_problem(row.filed_by, history, first_owners)
        if problem is None:
            return None
        params = {"decision": to.value, "filed_by": row.filed_by, "reason": problem}
        self._audit(
            session, by, AuditEvent(Action.REQUEST_DECIDE_REFUSED, f"request:{row.id}", params=params)
        )
        return PermissionDenied(f"request {row.id}: {problem}")

    def _refusal(
        self, session: Session, row: RequestRow, by: Actor, permission: Permission, action: Action
    ) -> PermissionDenied | OutOfScope | None:
        return refused_outside_scope(
            session,
            self._audit,
            by,
            permission,
            cameras=json.loads(row.cameras),
            what=f"request {row.id}",
            audit_object=f"request:{row.id}",
            action=action,
            unseen=f"no request {row.id}",  # as _require answers one that does not exist
        )

    def _move(
        self, request_id: int, to: RequestStatus, *, by: Actor, decide: bool = False, reason: str = ""
    ) -> RequestInfo:
        now = self._clock()
        with self._db.session() as session:
            row = _require(session, request_id)
            refusal = self._refusal(session, row, by, Permission.REQUESTS_DECIDE, _ACTION[to])
            if refusal is None and decide:
                refusal = self._decider_refusal(session, row, to, by)
            if refusal is None:
                info, photo = self._move_in(session, row, to, by=by, now=now, decide=decide, reason=reason)
        if refusal is not None:
            raise refusal
        self._forget(photo)
        return info

    def _move_in(
        self,
        session: Session,
        row: RequestRow,
        to: RequestStatus,
        *,
        by: Actor,
        now: datetime,
        decide: bool,
        reason: str,
    ) -> tuple[RequestInfo, str | None]:
        """Move a request (in scope) and audit it; returns it and the requester's photo to
        forget once this commits."""
        _check_move(row, to)
        photo = None
        row.status = to.value
        if decide:
            row.decided_by, row.decided_at = by.name, now
            row.refusal_reason = reason or None
        if to in {RequestStatus.REFUSED, RequestStatus.CLOSED}:
            photo, row.photo_path = row.photo_path, None
            if to is RequestStatus.CLOSED:
                row.closed_at = now
            hold = None if row.hold_id is None else session.get(HoldRow, row.hold_id)
            if (
                hold is not None
                and hold.released_at is None
                and (hold.expires_at is None or now < hold.expires_at)
            ):
                self._retention.release_in(session, hold.id, by=by, now=now)
        info = _info(session, row)
        extra: dict[str, object] | None = {"reason": reason} if reason else None
        self._audit(session, by, _event(_ACTION[to], info, extra=extra))
        return info, photo

    def _forget(self, photo: str | None) -> None:
        # After the commit: a crash before the unlink leaves an orphan for `recover` to remove.
        if photo is not None:
            self._remove_photo(photo)


_ACTION = {
    RequestStatus.IN_REVIEW: Action.REQUEST_REVIEW,
    RequestStatus.APPROVED: Action.REQUEST_APPROVE,
    RequestStatus.REFUSED: Action.REQUEST_REFUSE,
    RequestStatus.CLOSED: Action.REQUEST_CLOSE,
    RequestStatus.FULFILLED: Action.REQUEST_FULFIL,
}


def _still_there(session: Session, subject: SubjectFindings) -> SubjectFindings:
    """The findings without the items a purge deleted since the search (the search ran outside
    this transaction); the search's audit record says how many were dropped."""
    there = [(k, i) for k, i in subject.items if k not in _HELD_KINDS or session.get(_HELD_KINDS[k], i)]
    gone = len(subject.items) - len(there)
    search = replace(subject.search, params={**subject.search.params, "gone_before_hold": gone})
    return replace(subject, items=there, search=search)


def _scope_hold(new: NewRequest, reference: str, requester: str, subject: SubjectFindings | None) -> NewHold:
    """The hold a request places on filing (`reference`, `requester`: stripped).

    Every request holds its whole scope (cameras over the window), a subject-access
    request too, whatever its search found: what the public can see of holds and of
    what later becomes eligible for deletion is then the same whether or not the
    requester's face was filmed (no side channel through the transparency report).
    The items the search found are named in the hold as well (they lie in the scope)."""
    return NewHold(
        reference=f"request:{reference}",
        reason=f"{new.kind.value} request {reference}, held while it is pending",
        requester=requester,
        cameras=new.cameras,
        window=new.window,
        items=subject.items if subject else (),
    )


def clean_work_folder(root: Path, *, older_than_s: float) -> int:
    """Remove what exports left in the working folder `root` (a crash, a kill) untouched for
    `older_than_s` seconds; returns how many entries went."""
    if not root.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_s
    for entry in root.iterdir():
        try:
            if _newest_mtime(entry) >= cutoff:
                continue  # an export still at work
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
        except OSError as exc:
            log.warning("cannot remove %s from the working folder: %s", entry, exc)
    return removed


def _newest_mtime(entry: Path) -> float:
    newest = entry.lstat().st_mtime
    if entry.is_dir() and not entry.is_symlink():
        for inner in entry.rglob("*"):
            newest = max(newest, inner.lstat().st_mtime)
    return newest


def check_request(new: NewRequest, known_cameras: set[str] | None = None) -> None:
    """Refuse a request that could never be answered: no reference or requester, no
    cameras, a broken window, a camera nobody knows (`check_known`; left out with None:
    check the caller's scope first, then that). Pure."""
    if not new.reference.strip() or not new.requester.strip():
        raise InvalidInput("a request needs a reference and who is asking (--requester)")
    if not new.cameras:
        raise InvalidInput("a request names the cameras it is about (--camera)")
    start, end = new.window.start, new.window.end
    if start is None or end is None or end <= start:
        raise InvalidInput("a request needs a time window that ends after it starts")
    check_known(new.cameras, known_cameras)


def check_known(cameras: Sequence[str], known_cameras: set[str] | None, *, by: Actor | None = None) -> None:
    """NotFound naming the cameras of `cameras` nobody knows (None: not checked), listing
    the known ones `by` may see. Pure."""
    if known_cameras is not None and by is not None and by.cameras is not None:
        known_cameras = known_cameras & by.cameras
    if known_cameras is not None and (unknown := sorted(set(cameras) - known_cameras)):
        raise NotFound(
            f"no camera {', '.join(unknown)} (known: {', '.join(sorted(known_cameras)) or 'none'})"
        )


def _check_move(row: RequestRow, to: RequestStatus) -> None:
    current = RequestStatus(row.status)
    if to not in _NEXT[current]:
        raise Conflict(f"request {row.id} is {current}; it cannot become {to}")


def _decider_problem(row: RequestRow, by: Actor) -> str | None:
    if by.service or by.role == "local":
        return "a supervisor, signed in, decides requests"
    if not can(by, Permission.REQUESTS_DECIDE):
        return f"{by.name} ({by.role}) may not decide requests; a supervisor must"
    if same_person(row.filed_by, by.name):
        return f"{by.name} filed it; a different supervisor must decide"
    return None


def _require(session: Session, request_id: int) -> RequestRow:
    row = session.get(RequestRow, request_id)
    if row is None:
        raise NotFound(f"no request {request_id}")
    return row


def _info(session: Session, row: RequestRow) -> RequestInfo:
    export_id = session.scalar(select(ExportRow.id).where(ExportRow.request_id == row.id).limit(1))
    return RequestInfo(
        id=row.id,
        kind=RequestKind(row.kind),
        status=RequestStatus(row.status),
        reference=row.reference,
        requester=row.requester,
        contact=row.contact,
        cameras=json.loads(row.cameras),
        window=Window(row.starts_at, row.ends_at),
        deadline=row.deadline,
        created_at=row.created_at,
        filed_by=row.filed_by,
        decided_by=row.decided_by,
        refusal_reason=row.refusal_reason,
        hold_id=row.hold_id,
        export_id=export_id,
        photo_path=row.photo_path,
    )


def _event(action: Action, info: RequestInfo, *, extra: dict[str, object] | None = None) -> AuditEvent:
    return AuditEvent(
        action,
        f"request:{info.id}",
        case=info.reference,
        params={
            "kind": info.kind.value,
            "status": info.status.value,
            "cameras": info.cameras,
            "from": None if info.window.start is None else info.window.start.isoformat(),
            "until": None if info.window.end is None else info.window.end.isoformat(),
            "deadline": info.deadline.isoformat(),
            **(extra or {}),
        },
    )
