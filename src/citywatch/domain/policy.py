"""What may be done with a camera's faces, where and when: pure rules, no I/O.

`mode_for` answers one question for the pipeline, before detection and again before
anything biometric is written: given the camera, the zones and events around it, the
policy rules and the authorisations on record, which processing mode holds at this moment,
and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from citywatch.domain.errors import InvalidInput


class ProcessingMode(StrEnum):
    """What may be done with a camera's frames (DESIGN.md, glossary), least to most."""

    OFF = "off"
    """Frames are not read at all."""
    RECORD = "record"
    """Footage only (issue 5): no detection."""
    DETECT = "detect"
    """Faces counted and blurred; no template, no identity."""
    WATCHLIST = "watchlist"
    """Live 1:N against authorised watchlists; a face that matches nothing is dropped at once."""
    INVESTIGATE = "investigate"
    """Every sighting kept with its template, within retention, for case search."""

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def identifies(self) -> bool:
        """Whether faces are compared with anything (and so need an authorisation)."""
        return self.rank >= _RANK[ProcessingMode.WATCHLIST]

    @property
    def detects(self) -> bool:
        return self.rank >= _RANK[ProcessingMode.DETECT]


_RANK = {mode: i for i, mode in enumerate(ProcessingMode)}

DEFAULT_MODE = ProcessingMode.RECORD
"""A camera nobody has decided about records footage and nothing more."""


def most_restrictive(modes: Iterable[ProcessingMode]) -> ProcessingMode:
    return min(modes, key=lambda m: m.rank)


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Window:
    """A time interval, start included, end excluded; None means open on that side."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, at: datetime) -> bool:
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)


ALWAYS = Window()


@dataclass(frozen=True, slots=True)
class CameraPlace:
    """What policy needs to know of a camera."""

    id: str
    configured: ProcessingMode = DEFAULT_MODE
    """The mode its configuration asks for (before rules, zones and authorisations)."""
    location: GeoPoint | None = None


@dataclass(frozen=True, slots=True)
class Zone:
    """A named area: a polygon (lat/lon) and/or cameras named outright."""

    name: str
    polygon: tuple[GeoPoint, ...] = ()
    cameras: frozenset[str] = frozenset()
    protected: bool = False
    """Identification is off here (detect at most) unless an authorisation names the zone."""

    def covers(self, camera: CameraPlace) -> bool:
        if camera.id in self.cameras:
            return True
        return camera.location is not None and point_in_polygon(camera.location, self.polygon)


@dataclass(frozen=True, slots=True)
class Event:
    """A scheduled event (a registered assembly, a protest) in a zone: identification off
    there while it lasts, unless an authorisation names the event."""

    name: str
    zone: str
    window: Window


@dataclass(frozen=True, slots=True)
class Rule:
    """A policy record: the mode for a camera or for every camera of a zone, in a window."""

    id: int
    mode: ProcessingMode
    camera: str | None = None
    zone: str | None = None
    window: Window = ALWAYS


class AuthorisationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Authorisation:
    """A recorded permission for identification (DESIGN.md, glossary)."""

    id: int
    reference: str
    issuer: str
    legal_basis: str
    objective: str
    cameras: frozenset[str]
    watchlists: frozenset[str]
    window: Window
    status: AuthorisationStatus = AuthorisationStatus.PENDING
    urgent: bool = False
    approval_deadline: datetime | None = None
    zones: frozenset[str] = frozenset()
    """Protected zones it explicitly reaches into."""
    events: frozenset[str] = frozenset()
    """Protected events it explicitly reaches into."""

    def in_force(self, at: datetime) -> bool:
        """Approved, or urgent and still within its approval deadline; and inside its window."""
        if not self.window.contains(at):
            return False
        if self.status is AuthorisationStatus.APPROVED:
            return True
        return self.status is AuthorisationStatus.PENDING and self.urgent and not self.overdue(at)

    def overdue(self, at: datetime) -> bool:
        """An urgent authorisation nobody approved before its deadline."""
        return (
            self.urgent
            and self.status is AuthorisationStatus.PENDING
            and self.approval_deadline is not None
            and at >= self.approval_deadline
        )

    def lapsed(self, at: datetime) -> bool:
        """An urgent authorisation that ended without ever being approved (refused, overdue,
        or its window over while still pending): what was derived under it must go."""
        if not self.urgent:
            return False
        if self.status is AuthorisationStatus.REFUSED:
            return True
        return self.status is AuthorisationStatus.PENDING and self.ended(at)

    def ended(self, at: datetime) -> bool:
        """No longer able to come into force: window over, revoked, refused or lapsed."""
        if self.status in {AuthorisationStatus.REVOKED, AuthorisationStatus.REFUSED}:
            return True
        return self.overdue(at) or (self.window.end is not None and at >= self.window.end)


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """Everything `mode_for` reads, loaded together so one decision sees one state."""

    zones: Sequence[Zone] = ()
    events: Sequence[Event] = ()
    rules: Sequence[Rule] = ()
    authorisations: Sequence[Authorisation] = ()


@dataclass(frozen=True, slots=True)
class ModeDecision:
    mode: ProcessingMode
    requested: ProcessingMode
    """What configuration and rules asked for, before authorisations and protections."""
    authorisations: tuple[Authorisation, ...] = ()
    """The authorisations the identification happens under (empty unless `mode.identifies`)."""
    reasons: tuple[str, ...] = field(default=())
    """Why the mode is lower than requested, in words an operator can act on."""

    @property
    def watchlists(self) -> frozenset[str]:
        """The watchlists this camera may match against now."""
        return frozenset().union(*(a.watchlists for a in self.authorisations))


def mode_for(camera: CameraPlace, policy: PolicySnapshot, at: datetime) -> ModeDecision:
    """The processing mode for `camera` at `at`.

    1. Requested: the most restrictive rule in force for the camera or a zone covering it;
       without one, the camera's configured mode (default `record`).
    2. Identification needs an authorisation in force naming the camera; without one, `detect`.
    3. A protected zone covering the camera, or an event in force in any zone covering it,
       caps the mode at `detect`, unless the authorisation used names every such zone and
       event (authorisations that do not are set aside).
    """
    zones = [z for z in policy.zones if z.covers(camera)]
    zone_names = {z.name for z in zones}
    rules = [
        r.mode
        for r in policy.rules
        if r.window.contains(at) and (r.camera == camera.id or (r.zone is not None and r.zone in zone_names))
    ]
    requested = most_restrictive(rules) if rules else camera.configured
    if not requested.identifies:
        return ModeDecision(requested, requested)

    naming = [a for a in policy.authorisations if camera.id in a.cameras]
    auths = [a for a in naming if a.in_force(at)]
    if not auths:
        why = [f"no authorisation in force names camera {camera.id}"]
        why += [f"{a.reference} {_not_in_force(a, at)}" for a in naming]
        return ModeDecision(ProcessingMode.DETECT, requested, reasons=("; ".join(why),))

    barriers = [f"zone {z.name}" for z in zones if z.protected] + [
        f"event {e.name}" for e in policy.events if e.zone in zone_names and e.window.contains(at)
    ]
    if barriers:
        auths = [a for a in auths if all(_names(a, b) for b in barriers)]
        if not auths:
            return ModeDecision(
                ProcessingMode.DETECT,
                requested,
                reasons=(f"identification is off in protected {', '.join(barriers)}",),
            )
    return ModeDecision(requested, requested, tuple(auths))


def _not_in_force(auth: Authorisation, at: datetime) -> str:
    if auth.status in {AuthorisationStatus.REFUSED, AuthorisationStatus.REVOKED}:
        return f"was {auth.status}"
    if auth.overdue(at):
        return "was not approved before its deadline"
    if auth.window.start is not None and at < auth.window.start:
        return f"starts at {auth.window.start.isoformat(timespec='minutes')}"
    if auth.window.end is not None and at >= auth.window.end:
        return f"ended at {auth.window.end.isoformat(timespec='minutes')}"
    return "awaits a supervisor's approval"


def _names(auth: Authorisation, barrier: str) -> bool:
    kind, name = barrier.split(" ", 1)
    return name in (auth.zones if kind == "zone" else auth.events)


def parse_point(text: str) -> GeoPoint:
    """A point written `LAT,LON` (e.g. `51.5007,-0.1246`); InvalidInput otherwise."""
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidInput(f"{text.strip()!r} is not a point: write LAT,LON (e.g. 51.5007,-0.1246)") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput(f"{text.strip()!r} is not on the earth (lat -90..90, lon -180..180)")
    return GeoPoint(lat, lon)


def point_in_polygon(point: GeoPoint, polygon: Sequence[GeoPoint]) -> bool:
    """Even-odd ray casting on lat/lon; fine at city scale, where the earth is flat enough."""
    if len(polygon) < 3:
        return False
    inside = False
    x, y = point.lon, point.lat
    for a, b in zip(polygon, (*polygon[1:], polygon[0]), strict=True):
        if (a.lat > y) != (b.lat > y):
            cross = a.lon + (y - a.lat) * (b.lon - a.lon) / (b.lat - a.lat)
            if x < cross:
                inside = not inside
    return inside
