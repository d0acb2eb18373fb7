"""The orders page: stay-at-home orders (person, area, window, legal reference, authority,
status) with the cameras that check each one and a sketch of its area. A role with
`orders.manage` also records, ends and revokes orders and the notes (notice, appeal,
outcome) on their violation alerts, through the API's routes; everyone else reads."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response

from citywatch.alerts import views as alerts
from citywatch.audit.looks import viewed
from citywatch.domain.access import Permission, can
from citywatch.domain.audit import Action, Actor
from citywatch.domain.orders import CircleArea, OrderStatus
from citywatch.domain.policy import GeoPoint
from citywatch.domain.records import AlertInfo, WatchlistCategory
from citywatch.orders.checks import coverage_of
from citywatch.orders.service import AlertNote, OrderInfo
from citywatch.runtime.build import Runtime
from citywatch.runtime.usecases import alert_views
from citywatch.web.api.auth import Caller, requires, runtime_of
from citywatch.web.console.render import add_page, render

VIOLATIONS_SHOWN = 20
"""The newest violation alerts shown under each order (the alerts page has the rest)."""
SKETCH_PX = 160
EARTH_M_PER_DEG = 111_320.0


@dataclass(frozen=True, slots=True)
class Sketch:
    """An order's area and the placed cameras around it, in SVG coordinates (y down)."""

    circle: tuple[float, float, float] | None
    polygon: str
    cameras: list[tuple[str, float, float, bool]]
    """Camera id, x, y, and whether it checks the order."""


@dataclass(frozen=True, slots=True)
class Violation:
    alert: AlertInfo
    notes: list[AlertNote]


@dataclass(frozen=True, slots=True)
class OrderRow:
    info: OrderInfo
    watchlist: str | None
    checked_by: list[str]
    unplaced: list[str]
    sketch: Sketch
    violations: list[Violation]


def add_routes(app: FastAPI) -> None:

    add_page(app, "/console/orders", orders_page)


def orders_page(
    request: Request,
    caller: Annotated[Caller, requires(Permission.ORDERS_READ)],
    every: Annotated[bool, Query(alias="all", description="Ended and revoked orders too.")] = False,
) -> Response:
    rt = runtime_of(request)
    actor = caller.actor
    rt.orders.enforce()  # an order whose window has passed is ended before anyone reads it
    infos = sorted(rt.orders.orders(include_ended=every), key=lambda i: i.order.id, reverse=True)
    manage = can(actor, Permission.ORDERS_MANAGE)
    with_violations = manage and can(actor, Permission.ALERTS_READ)
    if with_violations:  # what a lapsed authorisation derived is gone before its alerts are read
        rt.governance.enforce()
    rows = [_row(rt, actor, info, with_violations=with_violations) for info in infos]
    shown = [v.alert.id for r in rows for v in r.violations]
    if shown:  # looking at alerts is itself a sensitive act, as on the API
        rt.audit(viewed(Action.ALERT_VIEW, "alerts", shown, {"page": "orders"}), actor=actor)
    return render(
        request,
        "orders.html",
        caller,
        rows=rows,
        every=every,
        may_manage=manage,
        may_note=can(actor, Permission.ALERTS_ACT),
        sketch_px=SKETCH_PX,
        stay_at_home=_stay_at_home_persons(rt) if manage else [],  # for the new-order form only
    )


def _row(rt: Runtime, actor: Actor, info: OrderInfo, *, with_violations: bool) -> OrderRow:
    active = info.order.status is OrderStatus.ACTIVE
    coverage = coverage_of(rt.watchlists, rt.policy, rt.cameras(), info) if active else None
    checking = set() if coverage is None else set(coverage.checking)
    places = [(c.id, c.geo) for c in rt.cameras() if c.geo is not None]
    violations: list[Violation] = []
    if with_violations:
        shown = alerts.of_order(alert_views(rt), actor, info.order.id, limit=VIOLATIONS_SHOWN)
        violations = [Violation(a, rt.orders.notes(a.id, by=actor)) for a in shown]
    return OrderRow(
        info=info,
        watchlist=None if coverage is None else coverage.watchlist,
        checked_by=[] if coverage is None else list(coverage.checking),
        unplaced=[] if coverage is None else list(coverage.unplaced),
        sketch=sketch(info, [(cid, geo, cid in checking) for cid, geo in places]),
        violations=violations,
    )


def sketch(info: OrderInfo, cameras: list[tuple[str, GeoPoint, bool]]) -> Sketch:
    """The area in a square of SKETCH_PX, with the cameras that fall within twice its extent
    (local equirectangular projection: good enough for a city block)."""
    area = info.order.area
    if isinstance(area, CircleArea):
        centre, half_m = area.center, area.radius_m
    else:
        lats = [p.lat for p in area.polygon]
        lons = [p.lon for p in area.polygon]
        centre = GeoPoint((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
        half_m = max(_metres(centre, p) for p in area.polygon)
    half_m = max(half_m, 1.0) * 2  # room around the area for nearby cameras
    scale = SKETCH_PX / 2 / half_m

    def xy(p: GeoPoint) -> tuple[float, float]:
        dx, dy = _offset_m(centre, p)
        return round(SKETCH_PX / 2 + dx * scale, 1), round(SKETCH_PX / 2 - dy * scale, 1)

    placed = []
    for cid, geo, checks in cameras:
        x, y = xy(geo)
        if 0 <= x <= SKETCH_PX and 0 <= y <= SKETCH_PX:
            placed.append((cid, x, y, checks))
    if isinstance(area, CircleArea):
        return Sketch((*xy(area.center), round(area.radius_m * scale, 1)), "", placed)
    return Sketch(None, " ".join(f"{x},{y}" for x, y in map(xy, area.polygon)), placed)


def _offset_m(origin: GeoPoint, p: GeoPoint) -> tuple[float, float]:
    dx = (p.lon - origin.lon) * EARTH_M_PER_DEG * math.cos(math.radians(origin.lat))
    dy = (p.lat - origin.lat) * EARTH_M_PER_DEG
    return dx, dy


def _metres(origin: GeoPoint, p: GeoPoint) -> float:
    return math.hypot(*_offset_m(origin, p))


def _stay_at_home_persons(rt: Runtime) -> list[str]:
    """Names a new order may be for: persons on a stay_at_home watchlist."""
    names: list[str] = []
    for w in rt.watchlists.list_watchlists():
        if w.category is WatchlistCategory.STAY_AT_HOME:
            names += [p.display_name for p in rt.watchlists.list_persons(w.name)]
    return sorted(set(names))
