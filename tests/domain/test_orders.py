"""The stay-at-home order rule as a table, and the area parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from citywatch.domain.errors import InvalidInput
from citywatch.domain.orders import (
    CircleArea,
    Order,
    OrderStatus,
    OrderVerdict,
    PolygonArea,
    check_order,
    distance_m,
    parse_area,
)
from citywatch.domain.policy import GeoPoint, Window

T = datetime(2026, 11, 27, 12, tzinfo=UTC)
HOME = GeoPoint(51.5007, -0.1246)
NEXT_DOOR = GeoPoint(51.5008, -0.1246)  # about 11 m north
ACROSS_TOWN = GeoPoint(51.5155, -0.0922)  # about 2.7 km away
SQUARE = PolygonArea(
    (GeoPoint(51.50, -0.13), GeoPoint(51.50, -0.12), GeoPoint(51.51, -0.12), GeoPoint(51.51, -0.13))
)


def order(
    area: CircleArea | PolygonArea = CircleArea(HOME, 100),  # noqa: B008 - frozen, shared safely
    *,
    person: int = 7,
    status: OrderStatus = OrderStatus.ACTIVE,
    window: Window = Window(T - timedelta(days=1), T + timedelta(days=13)),  # noqa: B008
    id: int = 1,
) -> Order:
    return Order(id, person, "P", area, window, status, "HPA 2026/7", "health authority")


@pytest.mark.parametrize(
    ("orders", "person", "camera", "verdict"),
    [
        ([], 7, ACROSS_TOWN, OrderVerdict.NOT_UNDER_ORDER),
        ([order(person=8)], 7, ACROSS_TOWN, OrderVerdict.NOT_UNDER_ORDER),
        ([order()], 7, NEXT_DOOR, OrderVerdict.INSIDE),
        ([order()], 7, ACROSS_TOWN, OrderVerdict.VIOLATION),
        ([order()], 7, None, OrderVerdict.NO_LOCATION),
        ([order(SQUARE)], 7, GeoPoint(51.505, -0.125), OrderVerdict.INSIDE),
        ([order(SQUARE)], 7, ACROSS_TOWN, OrderVerdict.VIOLATION),
        ([order(status=OrderStatus.ENDED)], 7, ACROSS_TOWN, OrderVerdict.NOT_IN_FORCE),
        ([order(status=OrderStatus.REVOKED)], 7, ACROSS_TOWN, OrderVerdict.NOT_IN_FORCE),
        (
            [order(window=Window(T + timedelta(hours=1), T + timedelta(days=2)))],
            7,
            ACROSS_TOWN,
            OrderVerdict.NOT_IN_FORCE,
        ),
        ([order(window=Window(T - timedelta(days=2), T))], 7, ACROSS_TOWN, OrderVerdict.NOT_IN_FORCE),
        # two orders in force: inside either area is inside
        ([order(), order(CircleArea(ACROSS_TOWN, 50), id=2)], 7, ACROSS_TOWN, OrderVerdict.INSIDE),
    ],
)
def test_check_order(
    orders: list[Order], person: int, camera: GeoPoint | None, verdict: OrderVerdict
) -> None:
    check = check_order(orders, person, camera, T)
    assert check.verdict is verdict
    assert check.keeps_nothing is (verdict not in {OrderVerdict.NOT_UNDER_ORDER, OrderVerdict.VIOLATION})
    assert (check.order is None) is (verdict is OrderVerdict.NOT_UNDER_ORDER)


def test_a_violation_names_the_order_and_its_area() -> None:
    check = check_order([order(id=4)], 7, ACROSS_TOWN, T)
    assert check.order is not None and check.order.id == 4
    assert "outside the permitted area" in check.reason and "100 m" in check.reason


def test_distances_are_great_circle_metres() -> None:
    assert distance_m(HOME, HOME) == 0
    assert distance_m(HOME, NEXT_DOOR) == pytest.approx(11.1, abs=0.2)
    london, paris = GeoPoint(51.5074, -0.1278), GeoPoint(48.8566, 2.3522)
    assert distance_m(london, paris) == pytest.approx(343_560, rel=0.002)


def test_the_circle_boundary_counts_as_inside() -> None:
    edge = distance_m(HOME, ACROSS_TOWN)
    assert CircleArea(HOME, edge).contains(ACROSS_TOWN)
    assert not CircleArea(HOME, edge - 1).contains(ACROSS_TOWN)


@pytest.mark.parametrize(
    ("center", "radius", "polygon", "message"),
    [
        (None, None, None, "give the permitted area"),
        ("51.5,-0.12", 100, "51.5,-0.1;51.6,-0.1;51.6,-0.2", "give the permitted area"),
        ("51.5,-0.12", None, None, "--radius-m"),
        ("51.5,-0.12", 0, None, "--radius-m"),
        ("51.5,-0.12", 1e9, None, "--radius-m"),
        ("north,west", 100, None, "not a point"),
        ("95,0", 100, None, "not on the earth"),
        (None, None, "51.5,-0.1;51.6,-0.1", "at least three points"),
    ],
)
def test_bad_areas_are_refused(
    center: str | None, radius: float | None, polygon: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_area(center, radius, polygon)


def test_areas_parse() -> None:
    assert parse_area("51.5007,-0.1246", 150, None) == CircleArea(HOME, 150)
    assert parse_area(None, None, "51.5,-0.13; 51.5,-0.12; 51.51,-0.12").polygon[2] == GeoPoint(51.51, -0.12)  # type: ignore[union-attr]
