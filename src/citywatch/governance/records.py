"""Authorisations, zones, events and rules as records, and the checks and audit events
the governance service builds them with."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.audit.two_person import same_person
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.errors import InvalidInput, NotFound
from citywatch.domain.policy import (
    Authorisation,
    AuthorisationStatus,
    Event,
    GeoPoint,
    ProcessingMode,
    Rule,
    Window,
    Zone,
)
from citywatch.store.governance_tables import AuthorisationRow, EventRow, PolicyRuleRow, ZoneRow
from citywatch.store.watchlist_tables import Watchlist

log = logging.getLogger(__name__)
T = TypeVar("T")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,99}$")

ActorAuditHook = Callable[[Session, Actor, AuditEvent], None]
"""Writes an audit record for `actor` inside the session of the action it records."""


@dataclass(frozen=True, slots=True)
class NewAuthorisation:
    reference: str
    issuer: str
    legal_basis: str
    objective: str
    cameras: Sequence[str]
    starts_at: datetime
    ends_at: datetime
    urgent: bool = False
    zones: Sequence[str] = ()
    events: Sequence[str] = ()
    watchlists: Sequence[str] = ()
    """Bound to it in the same transaction (see `bind_watchlist` for when that is refused)."""


@dataclass(frozen=True, slots=True)
class AuthorisationInfo:
    """An authorisation with its record keeping."""

    authorisation: Authorisation
    created_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeletionReceipt:
    """What an authorisation's end deleted; the same figures are in the audit log."""

    authorisation: str
    reason: str
    sightings: int
    sighting_ids: tuple[int, int] | None
    crop_sha256s: tuple[str, ...]
    templates: int
    template_ids: tuple[int, int] | None
    templates_sha256: str
    """SHA-256 over the deleted template bytes in id order: proves which, reveals nothing."""
    files_unlinked: int = 0


def decider_problem(requester: str, decider: Actor) -> str | None:
    """Who may approve or refuse: a supervisor, a person (not a token), not the requester."""
    if decider.service:
        return "a service token cannot decide an authorisation; a supervisor must"
    if decider.role == "local":
        return f"{decider.name} has not signed in (--user or CITYWATCH_TOKEN); a supervisor must decide"
    if same_person(decider.name, requester):
        return f"it was requested by {requester}; a different supervisor must decide"
    if not can(decider, Permission.AUTHORISATIONS_DECIDE):
        return f"{decider.name} ({decider.role}) may not decide authorisations; a supervisor must"
    return None


def end_reason(auth: Authorisation, now: datetime) -> str:
    if auth.status is AuthorisationStatus.REFUSED:
        return "refused"
    if auth.overdue(now):
        return "not approved before its deadline"
    if auth.status is AuthorisationStatus.REVOKED:
        return "revoked"
    return "ended"


def id_range(ids: list[int]) -> tuple[int, int] | None:
    return (min(ids), max(ids)) if ids else None


def auth_event(action: Action, auth: Authorisation, *, note: str = "") -> AuditEvent:
    params: dict[str, object] = {
        "issuer": auth.issuer,
        "objective": auth.objective,
        "cameras": sorted(auth.cameras),
        "watchlists": sorted(auth.watchlists),
        "zones": sorted(auth.zones),
        "events": sorted(auth.events),
        "urgent": auth.urgent,
        **window_params(auth.window),
    }
    if auth.approval_deadline is not None:
        params["approval_deadline"] = auth.approval_deadline.isoformat()
    if note:
        params["note"] = note
    return AuditEvent(
        action,
        f"authorisation:{auth.reference}",
        legal_basis=auth.legal_basis,
        authorisation=auth.reference,
        params=params,
    )


def window_params(window: Window) -> dict[str, str | None]:
    return {
        "from": None if window.start is None else window.start.isoformat(),
        "until": None if window.end is None else window.end.isoformat(),
    }


def checked_name(value: str, what: str) -> str:
    value = value.strip()
    if not _NAME.match(value):
        raise InvalidInput(
            f"{what} {value!r} must be 1-100 characters: letters, digits, space, _ . : / - "
            "(starting with a letter or digit)"
        )
    return value


def require_row(session: Session, model: type[T], where: Any, what: str) -> T:
    row = session.scalars(select(model).where(where)).first()
    if row is None:
        raise NotFound(f"no {what}")
    return row


def require_auth(session: Session, reference: str) -> AuthorisationRow:
    return require_row(
        session, AuthorisationRow, AuthorisationRow.reference == reference, f"authorisation {reference!r}"
    )


def zone_of(row: ZoneRow) -> Zone:
    return Zone(
        name=row.name,
        polygon=tuple(GeoPoint(lat, lon) for lat, lon in json.loads(row.polygon)),
        cameras=frozenset(json.loads(row.cameras)),
        protected=row.protected,
    )


def events_of(session: Session) -> list[Event]:
    rows = session.execute(
        select(EventRow, ZoneRow.name)
        .join(ZoneRow, EventRow.zone_id == ZoneRow.id)
        .order_by(EventRow.starts_at)
    )
    return [Event(e.name, zone, Window(e.starts_at, e.ends_at)) for e, zone in rows]


def rules_of(session: Session) -> list[Rule]:
    rows = session.execute(
        select(PolicyRuleRow, ZoneRow.name)
        .outerjoin(ZoneRow, PolicyRuleRow.zone_id == ZoneRow.id)
        .order_by(PolicyRuleRow.id)
    )
    return [
        Rule(r.id, ProcessingMode(r.mode), r.camera_id, zone, Window(r.starts_at, r.ends_at))
        for r, zone in rows
    ]


def authorisation_info(session: Session, row: AuthorisationRow) -> AuthorisationInfo:
    watchlists = session.scalars(select(Watchlist.name).where(Watchlist.authorisation_id == row.id)).all()
    auth = Authorisation(
        id=row.id,
        reference=row.reference,
        issuer=row.issuer,
        legal_basis=row.legal_basis,
        objective=row.objective,
        cameras=frozenset(json.loads(row.cameras)),
        watchlists=frozenset(watchlists),
        window=Window(row.starts_at, row.ends_at),
        status=AuthorisationStatus(row.status),
        urgent=row.urgent,
        approval_deadline=row.approval_deadline,
        zones=frozenset(json.loads(row.zones)),
        events=frozenset(json.loads(row.events)),
    )
    return AuthorisationInfo(
        auth, row.created_by, row.created_at, row.decided_by, row.decided_at, row.decision_note, row.closed_at
    )
