"""Governance routes: authorisations (request, approve, refuse, revoke), zones and events.

Thin: each route parses, is authorised by its one declared permission, calls the
governance service (which enforces who may decide and writes the audit record) and returns
a schema. The two-person rule is the store's: a refusal surfaces as 403, a stale state as 409.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Annotated

from fastapi import Body, FastAPI, Path, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from citywatch.domain.access import Permission, can
from citywatch.domain.errors import PermissionDenied
from citywatch.domain.policy import AuthorisationStatus, CameraPlace, Event, GeoPoint, Zone
from citywatch.governance.records import AuthorisationInfo, NewAuthorisation
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.schemas.common import SIGNED_IN, problems

# --- schemas ---------------------------------------------------------------------------------


class AuthorisationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reference": "W-2026-114",
                    "issuer": "District Court",
                    "legal_basis": "Police Act s.12",
                    "objective": "find missing child M.K.",
                    "cameras": ["gate-1"],
                    "ends_at": "2026-11-28T18:00:00Z",
                }
            ]
        },
    )

    reference: str = Field(min_length=1, max_length=100, description="E.g. the warrant number.")
    issuer: str = Field(min_length=1, max_length=200, description="Who issued it (court, authority).")
    legal_basis: str = Field(min_length=1, max_length=500, description="The law it rests on.")
    objective: str = Field(min_length=1, max_length=500, description="What it is for.")
    cameras: list[str] = Field(min_length=1, max_length=200, description="Cameras it covers.")
    starts_at: AwareDatetime | None = Field(None, description="Start of its window; default now.")
    ends_at: AwareDatetime = Field(description="End of its window.")
    urgent: bool = Field(False, description="In force at once; a supervisor must approve it in time.")
    zones: list[str] = Field(
        default_factory=list, max_length=200, description="Protected zones it reaches into."
    )
    events: list[str] = Field(
        default_factory=list, max_length=200, description="Protected events it reaches into."
    )
    watchlists: list[str] = Field(
        default_factory=list, max_length=200, description="Bound to it now (needs watchlists.manage too)."
    )


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "warrant checked"}]})

    note: str = Field("", max_length=1000, description="Why, for the record.")


class AuthorisationPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reference": "W-2026-114",
                    "status": "pending",
                    "in_force": False,
                    "closed": False,
                    "urgent": False,
                    "approval_deadline": None,
                    "issuer": "District Court",
                    "legal_basis": "Police Act s.12",
                    "objective": "find missing child M.K.",
                    "cameras": ["gate-1"],
                    "watchlists": [],
                    "zones": [],
                    "events": [],
                    "starts_at": "2026-11-27T10:00:00Z",
                    "ends_at": "2026-11-28T18:00:00Z",
                    "requested_by": "ian",
                    "requested_at": "2026-11-27T10:00:00Z",
                    "decided_by": None,
                    "decided_at": None,
                    "decision_note": None,
                }
            ]
        }
    )

    reference: str
    status: AuthorisationStatus
    in_force: bool = Field(description="Identification may happen under it right now.")
    closed: bool = Field(description="Ended and enforced: what had to be deleted is deleted.")
    urgent: bool
    approval_deadline: datetime | None
    issuer: str
    legal_basis: str
    objective: str
    cameras: list[str]
    watchlists: list[str]
    zones: list[str]
    events: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None

    @classmethod
    def of(cls, info: AuthorisationInfo, now: datetime) -> AuthorisationPublic:
        a = info.authorisation
        return cls(
            reference=a.reference,
            status=a.status,
            in_force=info.closed_at is None and a.in_force(now),
            closed=info.closed_at is not None,
            urgent=a.urgent,
            approval_deadline=a.approval_deadline,
            issuer=a.issuer,
            legal_basis=a.legal_basis,
            objective=a.objective,
            cameras=sorted(a.cameras),
            watchlists=sorted(a.watchlists),
            zones=sorted(a.zones),
            events=sorted(a.events),
            starts_at=a.window.start,
            ends_at=a.window.end,
            requested_by=info.created_by,
            requested_at=info.created_at,
            decided_by=info.decided_by,
            decided_at=info.decided_at,
            decision_note=info.decision_note,
        )


class AuthorisationList(BaseModel):
    items: list[AuthorisationPublic]


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


PolicyName = Annotated[str, Path(min_length=1, max_length=200, description="The zone's or event's name.")]


class ZoneCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "town-hall-square",
                    "polygon": [
                        {"lat": 51.5007, "lon": -0.1246},
                        {"lat": 51.5010, "lon": -0.1240},
                        {"lat": 51.5003, "lon": -0.1238},
                    ],
                    "cameras": [],
                    "protected": True,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100)
    polygon: list[Point] = Field(default_factory=list, max_length=1000, description="At least 3 corners.")
    cameras: list[str] = Field(default_factory=list, max_length=200, description="Cameras named outright.")
    protected: bool = Field(False, description="Identification off here unless an authorisation names it.")


class ZonePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "gate",
                    "protected": False,
                    "polygon": [],
                    "cameras": ["gate-1"],
                    "covers": ["gate-1"],
                }
            ]
        }
    )

    name: str
    protected: bool
    polygon: list[Point]
    cameras: list[str] = Field(description="Cameras named outright.")
    covers: list[str] = Field(description="Configured cameras in the zone, named or placed inside it.")

    @classmethod
    def of(cls, zone: Zone, places: list[CameraPlace]) -> ZonePublic:
        return cls(
            name=zone.name,
            protected=zone.protected,
            polygon=[Point(lat=p.lat, lon=p.lon) for p in zone.polygon],
            cameras=sorted(zone.cameras),
            covers=sorted(set(zone.cameras) | {p.id for p in places if zone.covers(p)}),
        )


class ZoneList(BaseModel):
    items: list[ZonePublic]


class EventCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "assembly-2026-11-28",
                    "zone": "town-hall-square",
                    "starts_at": "2026-11-28T09:00:00Z",
                    "ends_at": "2026-11-28T17:00:00Z",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100)
    zone: str = Field(min_length=1, max_length=100)
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class EventPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "assembly-2026-11-28",
                    "zone": "town-hall-square",
                    "starts_at": "2026-11-28T09:00:00Z",
                    "ends_at": "2026-11-28T17:00:00Z",
                }
            ]
        }
    )

    name: str
    zone: str
    starts_at: datetime | None
    ends_at: datetime | None

    @classmethod
    def of(cls, event: Event) -> EventPublic:
        return cls(name=event.name, zone=event.zone, starts_at=event.window.start, ends_at=event.window.end)


class EventList(BaseModel):
    items: list[EventPublic]


# --- routes ----------------------------------------------------------------------------------

Reference = Annotated[str, Path(description="The authorisation's reference.", max_length=100)]


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    _add_authorisation_routes(app)
    _add_zone_and_event_routes(app)


def _add_authorisation_routes(app: FastAPI) -> None:
    """Listing, requesting and deciding authorisations."""
    auth: list[str | Enum] = ["authorisations"]
    app.add_api_route(
        "/api/authorisations", list_authorisations, methods=["GET"], tags=auth, responses=problems(*SIGNED_IN)
    )
    app.add_api_route(
        "/api/authorisations",
        request_authorisation,
        methods=["POST"],
        tags=auth,
        status_code=status.HTTP_201_CREATED,
        responses=problems(*SIGNED_IN, 404, 409),
    )
    for verb, decide in (("approve", approve), ("refuse", refuse), ("revoke", revoke)):
        app.add_api_route(
            f"/api/authorisations/{{reference:path}}/{verb}",
            decide,
            methods=["POST"],
            tags=auth,
            responses=problems(*SIGNED_IN, 404, 409),
        )


def _add_zone_and_event_routes(app: FastAPI) -> None:
    """Listing, adding and removing zones and events."""
    policy: list[str | Enum] = ["policy"]
    created = status.HTTP_201_CREATED
    app.add_api_route("/api/zones", list_zones, methods=["GET"], tags=policy, responses=problems(*SIGNED_IN))
    app.add_api_route(
        "/api/zones",
        add_zone,
        methods=["POST"],
        tags=policy,
        status_code=created,
        responses=problems(*SIGNED_IN, 409),
    )
    app.add_api_route(
        "/api/zones/{name}",
        remove_zone,
        methods=["DELETE"],
        tags=policy,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=problems(*SIGNED_IN, 404, 409),
    )
    app.add_api_route(
        "/api/events", list_events, methods=["GET"], tags=policy, responses=problems(*SIGNED_IN)
    )
    app.add_api_route(
        "/api/events",
        add_event,
        methods=["POST"],
        tags=policy,
        status_code=created,
        responses=problems(*SIGNED_IN, 404, 409),
    )
    app.add_api_route(
        "/api/events/{name}",
        remove_event,
        methods=["DELETE"],
        tags=policy,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=problems(*SIGNED_IN, 404),
    )


def list_authorisations(
    request: Request, _: Annotated[Caller, requires(Permission.AUTHORISATIONS_READ)]
) -> AuthorisationList:
    """Every authorisation with its state now."""
    now = datetime.now(UTC)
    infos = runtime_of(request).governance.authorisations()
    return AuthorisationList(items=[AuthorisationPublic.of(i, now) for i in infos])


def request_authorisation(
    request: Request,
    caller: Annotated[Caller, requires(Permission.AUTHORISATIONS_REQUEST)],
    body: AuthorisationCreate,
) -> AuthorisationPublic:
    """Record an authorisation: pending until a supervisor other than the caller approves it;
    an urgent one is in force at once, until its approval deadline."""
    if body.watchlists and not can(caller.actor, Permission.WATCHLISTS_MANAGE):
        raise PermissionDenied(
            f"{caller.actor.name} ({caller.actor.role}) may not bind watchlists: it needs watchlists.manage"
        )
    rt = runtime_of(request)
    info = rt.governance.request(
        NewAuthorisation(
            reference=body.reference,
            issuer=body.issuer,
            legal_basis=body.legal_basis,
            objective=body.objective,
            cameras=body.cameras,
            starts_at=body.starts_at or datetime.now(UTC),
            ends_at=body.ends_at,
            urgent=body.urgent,
            zones=body.zones,
            events=body.events,
            watchlists=body.watchlists,
        ),
        by=caller.actor,
        urgent_deadline=timedelta(hours=rt.settings.policy.urgent_approval_h),
    )
    return AuthorisationPublic.of(info, datetime.now(UTC))


def approve(
    request: Request,
    caller: Annotated[Caller, requires(Permission.AUTHORISATIONS_DECIDE)],
    reference: Reference,
    body: Annotated[Decision | None, Body()] = None,
) -> AuthorisationPublic:
    """Approve a pending authorisation: a supervisor other than the one who requested it."""
    return _decide(request, caller, reference, AuthorisationStatus.APPROVED, body)


def refuse(
    request: Request,
    caller: Annotated[Caller, requires(Permission.AUTHORISATIONS_DECIDE)],
    reference: Reference,
    body: Annotated[Decision | None, Body()] = None,
) -> AuthorisationPublic:
    """Refuse a pending authorisation; if it was urgent, what was derived under it is deleted."""
    return _decide(request, caller, reference, AuthorisationStatus.REFUSED, body)


def revoke(
    request: Request,
    caller: Annotated[Caller, requires(Permission.AUTHORISATIONS_DECIDE)],
    reference: Reference,
    body: Annotated[Decision | None, Body()] = None,
) -> AuthorisationPublic:
    """End an authorisation now; its watchlists' templates are deleted (with a receipt)."""
    return _decide(request, caller, reference, AuthorisationStatus.REVOKED, body)


def _decide(
    request: Request, caller: Caller, reference: str, decision: AuthorisationStatus, body: Decision | None
) -> AuthorisationPublic:
    rt = runtime_of(request)
    rt.governance.decide(reference, decision, by=caller.actor, note=(body or Decision()).note)
    rt.governance.enforce()  # a refused or revoked one is closed now, with its receipt
    return AuthorisationPublic.of(rt.governance.authorisation(reference), datetime.now(UTC))


def list_zones(request: Request, _: Annotated[Caller, requires(Permission.POLICY_READ)]) -> ZoneList:
    """Zones, and the configured cameras each covers."""
    rt = runtime_of(request)
    places = [CameraPlace(c.id, c.mode, c.geo) for c in rt.cameras()]
    return ZoneList(items=[ZonePublic.of(z, places) for z in rt.governance.zones()])


def add_zone(
    request: Request, caller: Annotated[Caller, requires(Permission.POLICY_MANAGE)], body: ZoneCreate
) -> ZonePublic:
    """Add a zone: a polygon (cameras located inside are in it) and/or cameras named outright."""
    rt = runtime_of(request)
    zone = rt.governance.add_zone(
        body.name,
        polygon=[GeoPoint(p.lat, p.lon) for p in body.polygon],
        cameras=body.cameras,
        protected=body.protected,
        by=caller.actor,
    )
    return ZonePublic.of(zone, [CameraPlace(c.id, c.mode, c.geo) for c in rt.cameras()])


def list_events(request: Request, _: Annotated[Caller, requires(Permission.POLICY_READ)]) -> EventList:
    """Scheduled events (identification off in their zone while they last)."""
    return EventList(items=[EventPublic.of(e) for e in runtime_of(request).governance.events()])


def add_event(
    request: Request, caller: Annotated[Caller, requires(Permission.POLICY_MANAGE)], body: EventCreate
) -> EventPublic:
    """Schedule an event: identification is off in its zone while it lasts."""
    event = runtime_of(request).governance.add_event(
        body.name, zone=body.zone, starts_at=body.starts_at, ends_at=body.ends_at, by=caller.actor
    )
    return EventPublic.of(event)


def remove_zone(
    request: Request, caller: Annotated[Caller, requires(Permission.POLICY_MANAGE)], name: PolicyName
) -> Response:
    """Remove a zone; refused (409) while it has events (remove them first). Audited."""
    runtime_of(request).governance.remove_zone(name, by=caller.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def remove_event(
    request: Request, caller: Annotated[Caller, requires(Permission.POLICY_MANAGE)], name: PolicyName
) -> Response:
    """Remove a scheduled event; audited."""
    runtime_of(request).governance.remove_event(name, by=caller.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
