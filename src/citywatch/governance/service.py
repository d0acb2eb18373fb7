"""Zones, events, policy rules and authorisations: the records `mode_for` reads, and the
deletions an authorisation's end sets off.

Every change writes its audit record in its own transaction; every deletion writes a
receipt (an audit record with counts, id ranges and hashes) in the transaction that deletes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.audit.duties import DEFAULT_INDEPENDENCE, account_history, owners
from citywatch.audit.two_person import independence_problem
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.clock import Clock
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable
from citywatch.domain.policy import (
    ALWAYS,
    AuthorisationStatus,
    Event,
    GeoPoint,
    PolicySnapshot,
    ProcessingMode,
    Rule,
    Window,
    Zone,
)
from citywatch.governance.closure import close_authorisation, due_for_closing
from citywatch.governance.records import (
    AuthorisationInfo,
    DeletionReceipt,
    NewAuthorisation,
    auth_event,
    authorisation_info,
    checked_name,
    decider_problem,
    events_of,
    require_auth,
    require_row,
    rules_of,
    window_params,
    zone_of,
)
from citywatch.store.blobs import BlobStore
from citywatch.store.db import SIGHTING_TABLES, WATCHLIST_TABLES, Database
from citywatch.store.governance_tables import AuthorisationRow, EventRow, PolicyRuleRow, ZoneRow
from citywatch.store.watchlist_tables import Watchlist

log = logging.getLogger(__name__)

ActorAuditHook = Callable[[Session, Actor, AuditEvent], None]
"""Writes an audit record for `actor` inside the session of the action it records."""


class GovernanceService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        clock: Clock,
        audit: ActorAuditHook,
        independence: timedelta = DEFAULT_INDEPENDENCE,
    ) -> None:
        """`independence`: how far before an authorisation was requested its approver must not
        owe their account to the requester (citywatch.audit.two_person.independence_problem)."""
        self._db = db
        self._blobs = blobs
        self._clock = clock
        self._audit = audit
        self._independence = independence

    # --- zones and events -----------------------------------------------------------------

    def add_zone(
        self, name: str, *, polygon: Sequence[GeoPoint], cameras: Sequence[str], protected: bool, by: Actor
    ) -> Zone:
        name = checked_name(name, "zone name")
        if polygon and len(polygon) < 3:
            raise InvalidInput(f"zone {name!r}: a polygon needs at least 3 points, got {len(polygon)}")
        for p in polygon:
            if not (-90 <= p.lat <= 90 and -180 <= p.lon <= 180):
                raise InvalidInput(f"zone {name!r}: ({p.lat}, {p.lon}) is not a latitude, longitude pair")
        if not polygon and not cameras:
            raise InvalidInput(f"zone {name!r} needs a polygon (--point, at least 3) or cameras (--camera)")
        with self._db.session() as session:
            if session.scalars(select(ZoneRow).where(ZoneRow.name == name)).first() is not None:
                raise Conflict(f"zone {name!r} already exists")
            row = ZoneRow(
                name=name,
                polygon=json.dumps([[p.lat, p.lon] for p in polygon]),
                cameras=json.dumps(sorted(set(cameras))),
                protected=protected,
                created_by=by.name,
                created_at=self._clock(),
            )
            session.add(row)
            session.flush()
            zone = zone_of(row)
            self._audit(
                session,
                by,
                AuditEvent(
                    Action.ZONE_ADD,
                    f"zone:{name}",
                    params={"protected": protected, "cameras": sorted(zone.cameras), "points": len(polygon)},
                ),
            )
            return zone

    def remove_zone(self, name: str, *, by: Actor) -> None:
        with self._db.session() as session:
            row = require_row(session, ZoneRow, ZoneRow.name == name, f"zone {name!r}")
            events = session.scalars(select(EventRow.name).where(EventRow.zone_id == row.id)).all()
            if events:
                raise Conflict(f"zone {name!r} has events ({', '.join(events)}); remove them first")
            session.delete(row)
            self._audit(session, by, AuditEvent(Action.ZONE_REMOVE, f"zone:{name}"))

    def zones(self) -> list[Zone]:
        with self._db.session(write=False) as session:
            return [zone_of(r) for r in session.scalars(select(ZoneRow).order_by(ZoneRow.name))]

    def add_event(self, name: str, *, zone: str, starts_at: datetime, ends_at: datetime, by: Actor) -> Event:
        name = checked_name(name, "event name")
        if ends_at <= starts_at:
            raise InvalidInput(f"event {name!r} ends ({ends_at.isoformat()}) before it starts")
        with self._db.session() as session:
            zone_row = require_row(session, ZoneRow, ZoneRow.name == zone, f"zone {zone!r}")
            if session.scalars(select(EventRow).where(EventRow.name == name)).first() is not None:
                raise Conflict(f"event {name!r} already exists")
            row = EventRow(
                name=name,
                zone_id=zone_row.id,
                starts_at=starts_at,
                ends_at=ends_at,
                created_by=by.name,
                created_at=self._clock(),
            )
            session.add(row)
            session.flush()
            self._audit(
                session,
                by,
                AuditEvent(
                    Action.EVENT_ADD,
                    f"event:{name}",
                    params={"zone": zone, "from": starts_at.isoformat(), "until": ends_at.isoformat()},
                ),
            )
            return Event(name, zone, Window(starts_at, ends_at))

    def remove_event(self, name: str, *, by: Actor) -> None:
        with self._db.session() as session:
            row = require_row(session, EventRow, EventRow.name == name, f"event {name!r}")
            session.delete(row)
            self._audit(session, by, AuditEvent(Action.EVENT_REMOVE, f"event:{name}"))

    def events(self) -> list[Event]:
        with self._db.session(write=False) as session:
            return events_of(session)

    # --- rules ----------------------------------------------------------------------------

    def add_rule(
        self,
        mode: ProcessingMode,
        *,
        camera: str | None = None,
        zone: str | None = None,
        window: Window = ALWAYS,
        by: Actor,
    ) -> Rule:
        if (camera is None) == (zone is None):
            raise InvalidInput("a policy rule applies to one camera or one zone: give exactly one")
        if window.start and window.end and window.end <= window.start:
            raise InvalidInput("a policy rule's window ends before it starts")
        with self._db.session() as session:
            zone_id = None
            if zone is not None:
                zone_id = require_row(session, ZoneRow, ZoneRow.name == zone, f"zone {zone!r}").id
            row = PolicyRuleRow(
                camera_id=camera,
                zone_id=zone_id,
                mode=mode.value,
                starts_at=window.start,
                ends_at=window.end,
                created_by=by.name,
                created_at=self._clock(),
            )
            session.add(row)
            session.flush()
            self._audit(
                session,
                by,
                AuditEvent(
                    Action.POLICY_RULE_ADD,
                    f"policy_rule:{row.id}",
                    params={"mode": mode.value, "camera": camera, "zone": zone, **window_params(window)},
                ),
            )
            return Rule(row.id, mode, camera, zone, window)

    def remove_rule(self, rule_id: int, *, by: Actor) -> None:
        with self._db.session() as session:
            row = require_row(session, PolicyRuleRow, PolicyRuleRow.id == rule_id, f"policy rule {rule_id}")
            session.delete(row)
            self._audit(session, by, AuditEvent(Action.POLICY_RULE_REMOVE, f"policy_rule:{rule_id}"))

    def rules(self) -> list[Rule]:
        with self._db.session(write=False) as session:
            return rules_of(session)

    # --- authorisations -------------------------------------------------------------------

    def request(self, new: NewAuthorisation, *, by: Actor, urgent_deadline: timedelta) -> AuthorisationInfo:
        """Record an authorisation: pending until a supervisor approves it; an urgent one is in
        force at once, until its approval deadline."""
        reference = checked_name(new.reference, "authorisation reference")
        for value, what in (
            (new.issuer, "issuer"),
            (new.legal_basis, "legal basis"),
            (new.objective, "objective"),
        ):
            if not value.strip():
                raise InvalidInput(f"authorisation {reference}: the {what} must not be blank")
        if not new.cameras:
            raise InvalidInput(f"authorisation {reference}: name the cameras it covers (--camera)")
        if new.ends_at <= new.starts_at:
            raise InvalidInput(f"authorisation {reference}: it ends before it starts")
        now = self._clock()
        with self._db.session() as session:
            if session.scalars(
                select(AuthorisationRow).where(AuthorisationRow.reference == reference)
            ).first():
                raise Conflict(f"authorisation {reference!r} already exists")
            known_zones = set(session.scalars(select(ZoneRow.name)))
            known_events = {e.name for e in events_of(session)}
            if missing := sorted(set(new.zones) - known_zones):
                raise NotFound(f"authorisation {reference}: no zone named {', '.join(missing)}")
            if missing := sorted(set(new.events) - known_events):
                raise NotFound(f"authorisation {reference}: no event named {', '.join(missing)}")
            row = AuthorisationRow(
                reference=reference,
                issuer=new.issuer.strip(),
                legal_basis=new.legal_basis.strip(),
                objective=new.objective.strip(),
                cameras=json.dumps(sorted(set(new.cameras))),
                zones=json.dumps(sorted(set(new.zones))),
                events=json.dumps(sorted(set(new.events))),
                starts_at=new.starts_at,
                ends_at=new.ends_at,
                urgent=new.urgent,
                approval_deadline=now + urgent_deadline if new.urgent else None,
                status=AuthorisationStatus.PENDING.value,
                created_by=by.name,
                created_at=now,
            )
            session.add(row)
            session.flush()
            self._audit(
                session,
                by,
                auth_event(Action.AUTHORISATION_REQUEST, authorisation_info(session, row).authorisation),
            )
            for name in dict.fromkeys(new.watchlists):
                self._bind(session, name, row, by=by, now=now)
            return authorisation_info(session, row)

    def decide(
        self, reference: str, status: AuthorisationStatus, *, by: Actor, note: str = ""
    ) -> AuthorisationInfo:
        """Approve, refuse or revoke. A supervisor decides; never the person who requested it,
        and no approver whose account the requester created, re-enabled, gave a password or a
        token (`independence_problem`)."""
        now = self._clock()
        refusal: PermissionDenied | None = None
        with self._db.session() as session:
            row = require_auth(session, reference)
            current = authorisation_info(session, row).authorisation
            if status is AuthorisationStatus.REVOKED:
                if current.ended(now):
                    raise Conflict(f"authorisation {reference} has already ended")
                if current.status is AuthorisationStatus.PENDING:
                    # withdrawn before anyone approved it: it never stood, as if refused
                    status = AuthorisationStatus.REFUSED
            else:
                if current.status is not AuthorisationStatus.PENDING:
                    raise Conflict(f"authorisation {reference} is {current.status}, not pending")
                if current.overdue(now):
                    raise Conflict(
                        f"authorisation {reference} was not approved before its deadline "
                        f"({current.approval_deadline}); what was derived under it is deleted"
                    )
                problem = decider_problem(row.created_by, by)
                if problem is None and status is AuthorisationStatus.APPROVED:
                    # approving is the second person's step: they must owe the requester nothing
                    since = row.created_at - self._independence
                    now = self._clock()
                    history = account_history(session, by.name, since, now)
                    first_owners = owners(session, row.created_by, since, now)
                    problem = independence_problem(row.created_by, history, first_owners)
                if problem:
                    # the refusal is itself recorded: this transaction commits it, nothing else
                    self._audit(
                        session,
                        by,
                        AuditEvent(
                            Action.AUTHORISATION_DECIDE_REFUSED,
                            f"authorisation:{reference}",
                            authorisation=reference,
                            params={"decision": status.value, "reason": problem},
                        ),
                    )
                    refusal = PermissionDenied(f"authorisation {reference}: {problem}")
            if refusal is None:
                return self._apply(session, row, status, by=by, note=note, now=now)
        raise refusal

    def _apply(
        self,
        session: Session,
        row: AuthorisationRow,
        status: AuthorisationStatus,
        *,
        by: Actor,
        note: str,
        now: datetime,
    ) -> AuthorisationInfo:
        row.status = status.value
        row.decided_by = by.name
        row.decided_at = now
        row.decision_note = note or None
        session.flush()
        info = authorisation_info(session, row)
        self._audit(session, by, auth_event(_ACTION[status], info.authorisation, note=note))
        return info

    def bind_watchlist(self, watchlist: str, reference: str, *, by: Actor) -> None:
        """Bind a watchlist to the authorisation its matching happens under.

        A watchlist still bound to another open authorisation moves only to an approved one:
        an urgent, unapproved authorisation cannot take a watchlist over (were it then to
        lapse, the watchlist's templates would go with it)."""
        with self._db.session() as session:
            self._bind(session, watchlist, require_auth(session, reference), by=by, now=self._clock())

    def _bind(
        self, session: Session, watchlist: str, row: AuthorisationRow, *, by: Actor, now: datetime
    ) -> None:
        reference = row.reference
        auth = authorisation_info(session, row).authorisation
        if auth.ended(now):
            raise Conflict(f"authorisation {reference} has ended; bind the watchlist to one in force")
        wl = require_row(session, Watchlist, Watchlist.name == watchlist, f"watchlist {watchlist!r}")
        previous = None if wl.authorisation_id is None else session.get(AuthorisationRow, wl.authorisation_id)
        if (
            previous is not None
            and previous.id != row.id
            and previous.closed_at is None
            and not authorisation_info(session, previous).authorisation.ended(now)
            and auth.status is not AuthorisationStatus.APPROVED
        ):
            raise Conflict(
                f"watchlist {watchlist!r} is bound to authorisation {previous.reference}, still open; "
                f"it can move to {reference} only once {reference} is approved"
            )
        wl.authorisation_id = row.id
        self._audit(
            session,
            by,
            AuditEvent(
                Action.WATCHLIST_BIND,
                f"watchlist:{wl.id}",
                authorisation=reference,
                params={"watchlist": watchlist, "previous": None if previous is None else previous.reference},
            ),
        )

    def authorisations(self) -> list[AuthorisationInfo]:
        with self._db.session(write=False) as session:
            return [
                authorisation_info(session, r)
                for r in session.scalars(select(AuthorisationRow).order_by(AuthorisationRow.id))
            ]

    def authorisation(self, reference: str) -> AuthorisationInfo:
        with self._db.session(write=False) as session:
            return authorisation_info(session, require_auth(session, reference))

    def snapshot(self) -> PolicySnapshot:
        """Zones, events, rules and open authorisations, read in one transaction."""
        with self._db.session(write=False) as session:
            zones = [zone_of(r) for r in session.scalars(select(ZoneRow))]
            rows = session.scalars(select(AuthorisationRow).where(AuthorisationRow.closed_at.is_(None)))
            auths = [authorisation_info(session, r).authorisation for r in rows]
            return PolicySnapshot(zones, events_of(session), rules_of(session), auths)

    # --- the end of an authorisation ------------------------------------------------------

    def enforce(self) -> list[DeletionReceipt]:
        """Close every authorisation that has ended: an urgent one refused or not approved in
        time loses everything derived under it; any ended one loses its watchlists' templates.
        Templates enrolled later on a watchlist still bound to a closed authorisation go too.
        Each closure is one transaction with its receipt; files are unlinked after commit."""
        now = self._clock()
        receipts = []
        with self._db.session(write=False) as session:
            due = due_for_closing(session, now)
        for reference in due:
            receipt, crops = self._close(reference, now)
            if receipt is None:
                continue
            try:
                self._db.checkpoint(erase=SIGHTING_TABLES | WATCHLIST_TABLES)  # no copy stays behind
            except Unavailable:
                log.warning("authorisation %s closed, but the WAL checkpoint failed", reference)
            unlinked = sum(1 for path in crops if self._unlink(path))
            receipts.append(replace(receipt, files_unlinked=unlinked))
            log.warning(
                "authorisation %s closed (%s): %d sighting(s) and %d template(s) deleted",
                reference,
                receipt.reason,
                receipt.sightings,
                receipt.templates,
            )
        return receipts

    def _close(self, reference: str, now: datetime) -> tuple[DeletionReceipt | None, list[str]]:
        with self._db.session() as session:
            return close_authorisation(session, self._audit, reference, now)

    def _unlink(self, path: str) -> bool:
        try:
            return self._blobs.delete(path)
        except Unavailable:
            log.exception("cannot unlink %s; the orphan clean-up will retry", path)
            return False


_ACTION = {
    AuthorisationStatus.APPROVED: Action.AUTHORISATION_APPROVE,
    AuthorisationStatus.REFUSED: Action.AUTHORISATION_REFUSE,
    AuthorisationStatus.REVOKED: Action.AUTHORISATION_REVOKE,
}
