"""Alert and sighting routes: paged lists within the caller's camera scope, an alert's review
(acknowledge, confirm, dismiss through AlertReviews), a sighting's crop. Viewing is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Body, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from citywatch.alerts import views as alerts
from citywatch.alerts.review import CONFIRMATIONS_NEEDED
from citywatch.audit.looks import api
from citywatch.domain.access import Permission
from citywatch.domain.records import AlertInfo, SightingInfo
from citywatch.domain.watchlists import AlertStatus, Severity
from citywatch.runtime.usecases import alert_views, sighting_views
from citywatch.sightings import views as sightings
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.errors import ERROR_RESPONSES
from citywatch.web.api.paging import PAGE_DEFAULT, BeforeId, Limit

AlertId = Annotated[int, Path(ge=1, description="The alert's id.")]
SightingId = Annotated[int, Path(ge=1, description="The sighting's id.")]
CameraFilter = Annotated[
    str | None, Query(min_length=1, max_length=200, description="Only this camera's (within your scope).")
]


class AlertPublic(BaseModel):
    """An alert as the console shows it: who, where, how close; no face data."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 17,
                    "sighting_id": 412,
                    "camera_id": "gate-1",
                    "person_id": 3,
                    "person_name": "Jane Roe",
                    "watchlist_id": 1,
                    "watchlist_name": "wanted",
                    "distance": 0.41,
                    "status": "new",
                    "severity": "high",
                    "kind": "match",
                    "created_at": "2026-11-27T09:12:03Z",
                }
            ]
        },
    )

    id: int
    sighting_id: int
    camera_id: str
    person_id: int | None
    person_name: str
    watchlist_id: int | None
    watchlist_name: str
    distance: float = Field(description="Distance of the face to the person's nearest template.")
    status: AlertStatus
    severity: Severity
    kind: str = Field(description="`match`, or `order_violation` (seen outside an order's area).")
    order_id: int | None = None
    created_at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    dismiss_reason: str | None = None


class AlertList(BaseModel):
    items: list[AlertPublic]
    next_before_id: int | None = Field(description="Pass as `before_id` for the next page; null on the last.")


class AlertReviewPublic(BaseModel):
    """The alert after a review step, and where the two-person rule stands."""

    model_config = ConfigDict(from_attributes=True)

    alert: AlertPublic
    confirmed_by: list[str] = Field(description="Who has confirmed it so far.")
    confirmations_needed: int = CONFIRMATIONS_NEEDED
    non_match_id: int | None = Field(None, description="The remembered non-match, for a false match.")
    not_remembered: str = Field("", description="Why a false match's face was not remembered, if it was not.")


class Dismissal(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "not the same person", "false_match": True}]},
    )

    reason: str = Field("", max_length=1000, description="Why; kept in the audit log.")
    false_match: bool = Field(
        False,
        description="It was not this person: remember the face so that it does not alert for them again.",
    )


class SightingPublic(BaseModel):
    """A stored sighting; its crop is a separate, audited read."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 412,
                    "camera_id": "gate-1",
                    "track_id": 9,
                    "started_at": "2026-11-27T09:12:00Z",
                    "ended_at": "2026-11-27T09:12:03Z",
                    "detections": 31,
                    "quality": 0.82,
                    "person_id": 3,
                    "person_name": "Jane Roe",
                    "distance": 0.41,
                    "margin": 0.12,
                    "decision": "match",
                    "has_template": True,
                    "crop_url": "/api/sightings/412/crop",
                }
            ]
        }
    )

    id: int
    camera_id: str
    track_id: int
    started_at: datetime
    ended_at: datetime
    detections: int
    quality: float
    person_id: int | None
    person_name: str | None
    distance: float | None
    margin: float | None
    decision: str
    has_template: bool
    crop_url: str

    @classmethod
    def of(cls, s: SightingInfo) -> SightingPublic:
        return cls(
            id=s.id,
            camera_id=s.camera_id,
            track_id=s.track_id,
            started_at=s.started_at,
            ended_at=s.ended_at,
            detections=s.detections,
            quality=s.quality,
            person_id=s.person_id,
            person_name=s.person_name,
            distance=s.distance,
            margin=s.margin,
            decision=s.decision,
            has_template=s.has_template,
            crop_url=f"/api/sightings/{s.id}/crop",
        )


class SightingList(BaseModel):
    items: list[SightingPublic]
    next_before_id: int | None = Field(description="Pass as `before_id` for the next page; null on the last.")


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    add: dict[str, Any] = {"responses": ERROR_RESPONSES}
    app.add_api_route("/api/alerts", list_alerts, methods=["GET"], tags=["alerts"], **add)
    app.add_api_route("/api/alerts/{alert_id}", get_alert, methods=["GET"], tags=["alerts"], **add)
    for verb, route in (("acknowledge", acknowledge), ("confirm", confirm), ("dismiss", dismiss)):
        app.add_api_route(f"/api/alerts/{{alert_id}}/{verb}", route, methods=["POST"], tags=["alerts"], **add)
    app.add_api_route("/api/sightings", list_sightings, methods=["GET"], tags=["sightings"], **add)
    app.add_api_route(
        "/api/sightings/{sighting_id}/crop",
        sighting_crop,
        methods=["GET"],
        tags=["sightings"],
        response_class=Response,
        responses={
            200: {
                "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
                "description": "The face crop.",
            },
            **ERROR_RESPONSES,
        },
    )


def list_alerts(
    request: Request,
    caller: Annotated[Caller, requires(Permission.ALERTS_READ)],
    *,
    limit: Limit = PAGE_DEFAULT,
    before_id: BeforeId = None,
    status: Annotated[AlertStatus | None, Query(description="Only alerts in this state.")] = None,
    camera: CameraFilter = None,
) -> AlertList:
    """The alerts the caller may see, newest first, a page at a time. Audited (`alert.view`)."""
    rows = alerts.view_page(
        alert_views(runtime_of(request)),
        caller.actor,
        limit=limit,
        before_id=before_id,
        status=status,
        camera=camera,
        asked=api(request.url.path),
    )
    return AlertList(items=[AlertPublic.model_validate(a) for a in rows], next_before_id=_next(rows, limit))


def get_alert(
    request: Request, caller: Annotated[Caller, requires(Permission.ALERTS_READ)], alert_id: AlertId
) -> AlertPublic:
    """One alert, if its camera is within the caller's scope. Audited (`alert.view`)."""
    views = alert_views(runtime_of(request))
    return AlertPublic.model_validate(
        alerts.view_one(views, caller.actor, alert_id, asked=api(request.url.path))
    )


def acknowledge(
    request: Request, caller: Annotated[Caller, requires(Permission.ALERTS_ACT)], alert_id: AlertId
) -> AlertReviewPublic:
    """Say that you are looking at it (new → acknowledged)."""
    return AlertReviewPublic.model_validate(
        runtime_of(request).alert_reviews.acknowledge(alert_id, caller.actor)
    )


def confirm(
    request: Request, caller: Annotated[Caller, requires(Permission.ALERTS_ACT)], alert_id: AlertId
) -> AlertReviewPublic:
    """Confirm it as a true match; it is `confirmed` once a second, different person confirms it
    too (two-person rule). The same person twice, or a service token, is refused (403)."""
    return AlertReviewPublic.model_validate(runtime_of(request).alert_reviews.confirm(alert_id, caller.actor))


def dismiss(
    request: Request,
    caller: Annotated[Caller, requires(Permission.ALERTS_ACT)],
    alert_id: AlertId,
    dismissal: Annotated[Dismissal | None, Body()] = None,
) -> AlertReviewPublic:
    """Dismiss it (final). As a false match, the face is remembered as not this person. The
    body may be left out: no reason, not a false match."""
    dismissal = dismissal or Dismissal()
    review = runtime_of(request).alert_reviews.dismiss(
        alert_id, caller.actor, dismissal.reason, false_match=dismissal.false_match
    )
    return AlertReviewPublic.model_validate(review)


def list_sightings(
    request: Request,
    caller: Annotated[Caller, requires(Permission.SIGHTINGS_READ)],
    *,
    limit: Limit = PAGE_DEFAULT,
    before_id: BeforeId = None,
    camera: CameraFilter = None,
) -> SightingList:
    """The sightings the caller may see, newest stored first. Audited (`sighting.view`)."""
    views = sighting_views(runtime_of(request))
    rows = sightings.view_page(
        views, caller.actor, limit=limit, before_id=before_id, camera=camera, asked=api(request.url.path)
    )
    return SightingList(items=[SightingPublic.of(s) for s in rows], next_before_id=_next(rows, limit))


def sighting_crop(
    request: Request, caller: Annotated[Caller, requires(Permission.SIGHTINGS_READ)], sighting_id: SightingId
) -> Response:
    """The sighting's face crop (JPEG): biometric data, so every read is audited (`sighting.crop`)."""
    views = sighting_views(runtime_of(request))
    data = sightings.view_crop(views, caller.actor, sighting_id, asked=api(request.url.path))
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _next(rows: list[AlertInfo] | list[SightingInfo], limit: int) -> int | None:
    return rows[-1].id if len(rows) == limit else None
