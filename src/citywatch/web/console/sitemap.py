"""The cameras page's map, pure: camera locations and zone polygons placed on an SVG canvas
by an equirectangular projection (longitude scaled by the cosine of the middle latitude),
fitted to their bounding box, north up. No tiles, no I/O; the template draws it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from citywatch.domain.policy import Zone

WIDTH = 800.0
HEIGHT = 520.0
PAD = 40.0
"""Room at the edges for markers and labels, in canvas units."""
MIN_SPAN_DEG = 0.002
"""The smallest area shown (about 200 m): a lone camera is not blown up to fill the map."""


@dataclass(frozen=True, slots=True)
class Pin:
    """A camera to place: its id, label, location (lat, lon) and the class it is drawn with."""

    camera_id: str
    label: str
    location: tuple[float, float]
    kind: str = ""


@dataclass(frozen=True, slots=True)
class Marker:
    camera_id: str
    label: str
    x: float
    y: float
    kind: str


@dataclass(frozen=True, slots=True)
class Area:
    name: str
    protected: bool
    points: str
    """SVG `points`: "x,y x,y …"."""
    label_x: float
    label_y: float


@dataclass(frozen=True, slots=True)
class SiteMap:
    width: float
    height: float
    markers: tuple[Marker, ...]
    areas: tuple[Area, ...]
    scale_m: float
    """Metres per canvas unit, for a scale bar (0 when nothing is placed)."""
    bar_units: float
    bar_m: float

    @property
    def empty(self) -> bool:
        return not self.markers and not self.areas


def site_map(pins: Sequence[Pin], zones: Sequence[Zone]) -> SiteMap:
    """`pins` and the zones that have a polygon, fitted to WIDTH x HEIGHT."""
    polygons = [z for z in zones if len(z.polygon) >= 3]
    points = [p.location for p in pins] + [(g.lat, g.lon) for z in polygons for g in z.polygon]
    if not points:
        return SiteMap(WIDTH, HEIGHT, (), (), 0.0, 0.0, 0.0)
    lats = [lat for lat, _ in points]
    lons = [lon for _, lon in points]
    mid_lat = (min(lats) + max(lats)) / 2
    k = max(math.cos(math.radians(mid_lat)), 0.01)  # a degree of longitude is cos(lat) of one of latitude
    xs = [lon * k for lon in lons]
    span_x = max(max(xs) - min(xs), MIN_SPAN_DEG)
    span_y = max(max(lats) - min(lats), MIN_SPAN_DEG)
    units = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)  # canvas units per degree
    cx, cy = (max(xs) + min(xs)) / 2, (max(lats) + min(lats)) / 2

    def place(lat: float, lon: float) -> tuple[float, float]:
        return (
            round(WIDTH / 2 + (lon * k - cx) * units, 1),
            round(HEIGHT / 2 - (lat - cy) * units, 1),  # north up
        )

    markers = tuple(Marker(p.camera_id, p.label, *place(*p.location), p.kind) for p in pins)
    areas = []
    for z in polygons:
        placed = [place(g.lat, g.lon) for g in z.polygon]
        areas.append(
            Area(
                z.name,
                z.protected,
                " ".join(f"{x},{y}" for x, y in placed),
                round(sum(x for x, _ in placed) / len(placed), 1),
                round(sum(y for _, y in placed) / len(placed), 1),
            )
        )
    metres_per_unit = 111_320.0 / units  # a degree of latitude is about 111.32 km
    bar_m = _round_length(metres_per_unit * WIDTH / 5)
    return SiteMap(
        WIDTH, HEIGHT, markers, tuple(areas), metres_per_unit, round(bar_m / metres_per_unit, 1), bar_m
    )


def _round_length(metres: float) -> float:
    """1, 2 or 5 times a power of ten, at most `metres`."""
    power = 10 ** math.floor(math.log10(max(metres, 1e-9)))
    for step in (5, 2, 1):
        if step * power <= metres:
            return float(step * power)
    return float(power)
