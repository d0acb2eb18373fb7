"""Stay-at-home orders: a person, a permitted area, a window. Pure.

A sighting of a person under an order in force is checked against the order's area: from a
camera outside it, it is a violation; inside it, nothing is raised and nothing is kept
(the order asks whether the person stays home, not where they go at home). A camera with no
location cannot tell, so it takes no part.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from citywatch.domain.errors import InvalidInput
from citywatch.domain.policy import GeoPoint, Window, parse_point, point_in_polygon

EARTH_RADIUS_M = 6_371_008.8
"""Mean earth radius (IUGG), for great-circle distances."""


@dataclass(frozen=True, slots=True)
class CircleArea:
    center: GeoPoint
    radius_m: float

    def contains(self, point: GeoPoint) -> bool:
        return distance_m(self.center, point) <= self.radius_m

    def describe(self) -> str:
        return f"within {self.radius_m:g} m of {self.center.lat:.6f},{self.center.lon:.6f}"


@dataclass(frozen=True, slots=True)
class PolygonArea:
    polygon: tuple[GeoPoint, ...]

    def contains(self, point: GeoPoint) -> bool:
        return point_in_polygon(point, self.polygon)

    def describe(self) -> str:
        return f"inside a polygon of {len(self.polygon)} points"


Area = CircleArea | PolygonArea


class OrderStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    person_id: int | None
    person_name: str
    area: Area
    window: Window
    status: OrderStatus
    legal_reference: str
    issuing_authority: str

    def in_force(self, at: datetime) -> bool:
        return self.status is OrderStatus.ACTIVE and self.window.contains(at)

    def ended(self, at: datetime) -> bool:
        """Over: ended or revoked by a person, or past its window."""
        return self.status is not OrderStatus.ACTIVE or (
            self.window.end is not None and at >= self.window.end
        )


class OrderVerdict(StrEnum):
    NOT_UNDER_ORDER = "not_under_order"
    """No order concerns this person: an ordinary match."""
    INSIDE = "inside"
    """Seen inside the permitted area: nothing is raised or kept."""
    VIOLATION = "violation"
    """Seen by a camera outside the permitted area."""
    NO_LOCATION = "no_location"
    """The camera has no location: it cannot take part in order checks."""
    NOT_IN_FORCE = "not_in_force"
    """The person's orders are not in force at this time: nothing is raised or kept."""


@dataclass(frozen=True, slots=True)
class OrderCheck:
    verdict: OrderVerdict
    order: Order | None
    reason: str

    @property
    def keeps_nothing(self) -> bool:
        """The sighting is dropped: an order was the only reason to look for this person."""
        return self.verdict in {OrderVerdict.INSIDE, OrderVerdict.NO_LOCATION, OrderVerdict.NOT_IN_FORCE}


def check_order(orders: Iterable[Order], person_id: int, camera: GeoPoint | None, at: datetime) -> OrderCheck:
    """What a match of `person_id` by a camera at `camera` means at `at` under `orders`."""
    theirs = [o for o in orders if o.person_id == person_id]
    if not theirs:
        return NOT_UNDER_ORDER
    in_force = [o for o in theirs if o.in_force(at)]
    if not in_force:
        return OrderCheck(OrderVerdict.NOT_IN_FORCE, theirs[0], "the person's order is not in force now")
    if camera is None:
        return OrderCheck(
            OrderVerdict.NO_LOCATION,
            in_force[0],
            "the camera has no location, so it takes no part in order checks",
        )
    for order in in_force:
        if order.area.contains(camera):
            return OrderCheck(OrderVerdict.INSIDE, order, f"seen {order.area.describe()} (order {order.id})")
    order = in_force[0]
    return OrderCheck(
        OrderVerdict.VIOLATION,
        order,
        f"seen outside the permitted area ({order.area.describe()}, order {order.id})",
    )


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle (haversine) distance in metres."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def parse_area(center: str | None, radius_m: float | None, polygon: str | None) -> Area:
    """An area from `lat,lon` + radius, or `lat,lon;lat,lon;…` (at least three points)."""
    if (center is None) == (polygon is None):
        raise InvalidInput("give the permitted area as --center LAT,LON with --radius-m, or as --polygon")
    if polygon is not None:
        points = tuple(parse_point(p) for p in polygon.split(";") if p.strip())
        if len(points) < 3:
            raise InvalidInput("a polygon needs at least three points: LAT,LON;LAT,LON;LAT,LON")
        return PolygonArea(points)
    assert center is not None
    if radius_m is None or not (0 < radius_m <= 100_000) or not math.isfinite(radius_m):
        raise InvalidInput("--radius-m must be between 0 and 100000 metres")
    return CircleArea(parse_point(center), float(radius_m))


def area_json(area: Area) -> dict[str, object]:
    if isinstance(area, CircleArea):
        return {"center": [area.center.lat, area.center.lon], "radius_m": area.radius_m}
    return {"polygon": [[p.lat, p.lon] for p in area.polygon]}


def area_from_json(data: dict[str, object]) -> Area:
    if "polygon" in data:
        points = data["polygon"]
        assert isinstance(points, list)
        return PolygonArea(tuple(GeoPoint(float(p[0]), float(p[1])) for p in points))
    center = data["center"]
    radius = data["radius_m"]
    assert isinstance(center, list) and isinstance(radius, int | float)
    return CircleArea(GeoPoint(float(center[0]), float(center[1])), float(radius))


NOT_UNDER_ORDER = OrderCheck(OrderVerdict.NOT_UNDER_ORDER, None, "no stay-at-home order concerns this person")
