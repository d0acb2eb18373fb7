"""Stay-at-home order routes: list, create, end, revoke (the orders' service, which audits each
step and deletes the person's templates with a receipt when an order ends), the cameras that
check an order (services.orders.coverage_of), and the notes recorded on an alert (notice to
the subject, appeal, outcome), within the caller's camera scope."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Literal

from fastapi import FastAPI, Path, Query, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.domain.orders import Area, CircleArea, OrderStatus, PolygonArea
from citywatch.domain.policy import GeoPoint, Window
from citywatch.domain.values import page_of
from citywatch.orders.checks import coverage_of
from citywatch.orders.service import AlertNote, NewOrder, OrderInfo
from citywatch.runtime.build import Runtime
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.api.governance import Point
from citywatch.web.api.paging import NEXT_BEFORE_ID, PAGE_DEFAULT, BeforeId, Limit
from citywatch.web.api.schemas.accountability import ReceiptPublic
from citywatch.web.api.schemas.common import SIGNED_IN, problems

OrderId = Annotated[int, Path(ge=1, description="The order's id.")]
AlertId = Annotated[int, Path(ge=1, description="The alert's id.")]

# --- schemas ---------------------------------------------------------------------------------


class OrderArea(BaseModel):
    """The permitted area: a centre and a radius, or a polygon of three corners or more."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"center": {"lat": 51.5007, "lon": -0.1246}, "radius_m": 150}]},
    )

    center: Point | None = Field(None, description="Centre of a circular area (with radius_m).")
    radius_m: float | None = Field(None, gt=0, le=100_000, description="Radius of a circular area, metres.")
    polygon: list[Point] | None = Field(None, min_length=3, max_length=1000, description="Corners.")

    @model_validator(mode="after")
    def _one_shape(self) -> OrderArea:
        if (self.center is None) == (self.polygon is None):
            raise ValueError("give the area as a center with radius_m, or as a polygon, not both")
        if self.center is not None and self.radius_m is None:
            raise ValueError("a circular area needs radius_m")
        if self.polygon is not None and self.radius_m is not None:
            raise ValueError("radius_m goes with a center, not a polygon")
        return self

    def area(self) -> Area:
        if self.polygon is not None:
            return PolygonArea(tuple(GeoPoint(p.lat, p.lon) for p in self.polygon))
        if self.center is None or self.radius_m is None:  # refused by _one_shape already
            raise InvalidInput("a circular area needs a center and radius_m")
        return CircleArea(GeoPoint(self.center.lat, self.center.lon), self.radius_m)

    @classmethod
    def of(cls, area: Area) -> OrderArea:
        if isinstance(area, CircleArea):
            return cls(center=Point(lat=area.center.lat, lon=area.center.lon), radius_m=area.radius_m)
        return cls(polygon=[Point(lat=p.lat, lon=p.lon) for p in area.polygon])


class OrderCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "person": "Jane Roe",
                    "legal_reference": "Magistrates' Court 2026/311",
                    "issuing_authority": "Magistrates' Court",
                    "ends_at": "2026-12-11T00:00:00Z",
                    "area": {"center": {"lat": 51.5007, "lon": -0.1246}, "radius_m": 150},
                }
            ]
        },
    )

    person: str = Field(
        min_length=1, max_length=200, description="The person's name, enrolled on a stay_at_home watchlist."
    )
    legal_reference: str = Field(min_length=1, max_length=200, description="The order's legal reference.")
    issuing_authority: str = Field(min_length=1, max_length=200, description="Who issued it.")
    starts_at: AwareDatetime | None = Field(None, description="Start; default now.")
    ends_at: AwareDatetime = Field(description="End.")
    area: OrderArea


class OrderPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 2,
                    "person_id": 3,
                    "person_name": "Jane Roe",
                    "status": "active",
                    "area": {"center": {"lat": 51.5007, "lon": -0.1246}, "radius_m": 150, "polygon": None},
                    "area_description": "within 150 m of 51.500700,-0.124600",
                    "starts_at": "2026-11-27T10:00:00Z",
                    "ends_at": "2026-12-11T00:00:00Z",
                    "legal_reference": "Magistrates' Court 2026/311",
                    "issuing_authority": "Magistrates' Court",
                    "created_by": "sam",
                    "created_at": "2026-11-27T10:00:00Z",
                    "ended_by": None,
                    "ended_at": None,
                    "watchlist": "curfew",
                    "checked_by": ["gate-1"],
                    "unplaced": [],
                }
            ]
        }
    )

    id: int
    person_id: int | None = Field(description="Null once the person has been removed.")
    person_name: str
    status: OrderStatus
    area: OrderArea
    area_description: str
    starts_at: datetime | None
    ends_at: datetime | None
    legal_reference: str
    issuing_authority: str
    created_by: str
    created_at: datetime
    ended_by: str | None
    ended_at: datetime | None
    watchlist: str | None = Field(description="The person's watchlist (null: the person is gone).")
    checked_by: list[str] = Field(
        description="Cameras that check it now (a location, identifying against the watchlist). "
        "An active order no camera checks does nothing."
    )
    unplaced: list[str] = Field(
        description="Cameras that identify against the watchlist but have no location: no part in it."
    )

    @classmethod
    def of(cls, info: OrderInfo, rt: Runtime) -> OrderPublic:
        o = info.order
        active = o.status is OrderStatus.ACTIVE
        coverage = coverage_of(rt.watchlists, rt.policy, rt.cameras(), info) if active else None
        return cls(
            id=o.id,
            person_id=o.person_id,
            person_name=o.person_name,
            status=o.status,
            area=OrderArea.of(o.area),
            area_description=o.area.describe(),
            starts_at=o.window.start,
            ends_at=o.window.end,
            legal_reference=o.legal_reference,
            issuing_authority=o.issuing_authority,
            created_by=info.created_by,
            created_at=info.created_at,
            ended_by=info.ended_by,
            ended_at=info.ended_at,
            watchlist=None if coverage is None else coverage.watchlist,
            checked_by=[] if coverage is None else list(coverage.checking),
            unplaced=[] if coverage is None else list(coverage.unplaced),
        )


class OrderList(BaseModel):
    items: list[OrderPublic]
    next_before_id: int | None = Field(description=NEXT_BEFORE_ID)


class OrderEnded(BaseModel):
    """The ended (or revoked) order and the receipt of the templates it deleted."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order": OrderPublic.model_json_schema()["examples"][0]
                    | {"status": "ended", "ended_by": "sue", "checked_by": []},
                    "templates_deleted": 2,
                    "kept_by_another_order": False,
                    "receipt": ReceiptPublic.model_json_schema()["examples"][0] | {"kind": "order"},
                }
            ]
        }
    )

    order: OrderPublic
    templates_deleted: int
    kept_by_another_order: bool = Field(description="Another order in force keeps the templates.")
    receipt: ReceiptPublic | None


class NoteCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kind": "notice", "text": "told in person at 10:20"}]},
    )

    kind: Literal["notice", "appeal", "appeal_outcome"] = Field(
        description="The notice given to the subject, their appeal, or its outcome."
    )
    text: str = Field(min_length=1, max_length=4000)


class NotePublic(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "alert_id": 17,
                    "kind": "notice",
                    "text": "told in person at 10:20",
                    "recorded_by": "olga",
                    "at": "2026-11-27T10:21:00Z",
                }
            ]
        },
    )

    id: int
    alert_id: int
    kind: str
    text: str
    recorded_by: str
    at: datetime


class NoteList(BaseModel):
    items: list[NotePublic]


# --- routes ----------------------------------------------------------------------------------


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    orders: list[str | Enum] = ["orders"]
    route = app.add_api_route
    route("/api/orders", list_orders, methods=["GET"], tags=orders, responses=problems(*SIGNED_IN))
    route(
        "/api/orders",
        create_order,
        methods=["POST"],
        tags=orders,
        status_code=status.HTTP_201_CREATED,
        responses=problems(*SIGNED_IN, 404, 409),
    )
    for verb, move in (("end", end_order), ("revoke", revoke_order)):
        route(
            f"/api/orders/{{order_id}}/{verb}",
            move,
            methods=["POST"],
            tags=orders,
            responses=problems(*SIGNED_IN, 404, 409),
        )
    route(
        "/api/alerts/{alert_id}/notes",
        list_notes,
        methods=["GET"],
        tags=["alerts"],
        responses=problems(*SIGNED_IN, 404),
    )
    route(
        "/api/alerts/{alert_id}/notes",
        add_note,
        methods=["POST"],
        tags=["alerts"],
        status_code=status.HTTP_201_CREATED,
        responses=problems(*SIGNED_IN, 404),
    )


def list_orders(
    request: Request,
    _: Annotated[Caller, requires(Permission.ORDERS_READ)],
    *,
    every: Annotated[bool, Query(alias="all", description="Ended and revoked orders too.")] = False,
    limit: Limit = PAGE_DEFAULT,
    before_id: BeforeId = None,
) -> OrderList:
    """Orders (active ones unless `all`), newest first, each with the cameras that check it."""
    rt = runtime_of(request)
    rt.orders.enforce()  # an order whose window has passed is ended before anyone reads it
    infos, next_before = page_of(
        rt.orders.orders(include_ended=every), lambda i: i.order.id, limit=limit, before_id=before_id
    )
    return OrderList(items=[OrderPublic.of(i, rt) for i in infos], next_before_id=next_before)


def create_order(
    request: Request, caller: Annotated[Caller, requires(Permission.ORDERS_MANAGE)], body: OrderCreate
) -> OrderPublic:
    """Record a stay-at-home order: while it runs, the person seen by a camera outside the
    area raises an `order_violation` alert; inside it, nothing is raised or kept."""
    rt = runtime_of(request)
    window = Window(body.starts_at or datetime.now(UTC), body.ends_at)
    new = NewOrder(body.person, body.area.area(), window, body.legal_reference, body.issuing_authority)
    info = rt.orders.create(new, by=caller.actor)
    rt.order_checks.refresh()
    return OrderPublic.of(info, rt)


def end_order(
    request: Request, caller: Annotated[Caller, requires(Permission.ORDERS_MANAGE)], order_id: OrderId
) -> OrderEnded:
    """End an order now: the person's templates are deleted (receipt) unless another order keeps them."""
    return _ended(request, caller, order_id, revoke=False)


def revoke_order(
    request: Request, caller: Annotated[Caller, requires(Permission.ORDERS_MANAGE)], order_id: OrderId
) -> OrderEnded:
    """Revoke an order (issued in error): as ending it, recorded as a revocation."""
    return _ended(request, caller, order_id, revoke=True)


def _ended(request: Request, caller: Caller, order_id: int, *, revoke: bool) -> OrderEnded:
    rt = runtime_of(request)
    info, receipt = rt.orders.end(order_id, by=caller.actor, revoke=revoke)
    rt.order_checks.refresh()
    return OrderEnded(
        order=OrderPublic.of(info, rt),
        templates_deleted=0 if receipt is None else receipt.counts.get("templates", 0),
        kept_by_another_order=receipt is None,
        receipt=None if receipt is None else ReceiptPublic.model_validate(receipt),
    )


def list_notes(
    request: Request, caller: Annotated[Caller, requires(Permission.ALERTS_READ)], alert_id: AlertId
) -> NoteList:
    """The notice, appeal and outcome recorded on an alert (its camera within your scope)."""
    notes: list[AlertNote] = runtime_of(request).orders.notes(alert_id, by=caller.actor)
    return NoteList(items=[NotePublic.model_validate(n) for n in notes])


def add_note(
    request: Request,
    caller: Annotated[Caller, requires(Permission.ALERTS_ACT)],
    alert_id: AlertId,
    body: NoteCreate,
) -> NotePublic:
    """Record against an alert the notice given to its subject, their appeal, or the outcome."""
    note = runtime_of(request).orders.add_note(alert_id, body.kind, body.text, by=caller.actor)
    return NotePublic.model_validate(note)
