"""`mode_for` as a table: camera × zone × event × rule × authorisation × time → mode."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from citywatch.domain.policy import (
    Authorisation,
    AuthorisationStatus,
    CameraPlace,
    Event,
    GeoPoint,
    PolicySnapshot,
    ProcessingMode,
    Rule,
    Window,
    Zone,
    mode_for,
    point_in_polygon,
)

OFF, RECORD, DETECT, WATCHLIST, INVESTIGATE = (
    ProcessingMode.OFF,
    ProcessingMode.RECORD,
    ProcessingMode.DETECT,
    ProcessingMode.WATCHLIST,
    ProcessingMode.INVESTIGATE,
)
DAY = datetime(2026, 11, 27, tzinfo=UTC)


def h(hour: float) -> datetime:
    return DAY + timedelta(hours=hour)


STAGE = CameraPlace("stage", WATCHLIST, GeoPoint(51.5000, -0.1000))  # inside the square
GATE = CameraPlace("gate", WATCHLIST, None)  # no location: in zones only by name
STREET = CameraPlace("street", WATCHLIST, GeoPoint(51.6, -0.3))  # in no zone
NEW = CameraPlace("new")  # nobody decided anything: record

SQUARE = Zone(
    "square",
    polygon=(GeoPoint(51.49, -0.11), GeoPoint(51.51, -0.11), GeoPoint(51.51, -0.09), GeoPoint(51.49, -0.09)),
    protected=True,
)
PLAZA = Zone("plaza", cameras=frozenset({"gate"}))  # not protected itself
ASSEMBLY = Event("assembly", "plaza", Window(h(10), h(12)))


def auth(ref: str, **kw: object) -> Authorisation:
    base = Authorisation(
        id=len(ref),
        reference=ref,
        issuer="court",
        legal_basis="warrant 7",
        objective="find a missing child",
        cameras=frozenset({"stage", "gate", "street"}),
        watchlists=frozenset({"missing"}),
        window=Window(h(8), h(20)),
        status=AuthorisationStatus.APPROVED,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


A = auth("A")
NAMES_SQUARE = auth("SQ", zones=frozenset({"square"}))
NAMES_ASSEMBLY = auth("EV", events=frozenset({"assembly"}))
PENDING = auth("P", status=AuthorisationStatus.PENDING)
URGENT = auth("U", status=AuthorisationStatus.PENDING, urgent=True, approval_deadline=h(9))
REFUSED = auth("R", status=AuthorisationStatus.REFUSED)
REVOKED = auth("RV", status=AuthorisationStatus.REVOKED)
OTHER_CAMERA = auth("OC", cameras=frozenset({"elsewhere"}))

ZONES = (SQUARE, PLAZA)


@pytest.mark.parametrize(
    ("camera", "rules", "auths", "at", "expected"),
    [
        # defaults and requested modes
        pytest.param(NEW, (), (A,), h(10), RECORD, id="new camera records"),
        pytest.param(replace(STREET, configured=DETECT), (), (A,), h(10), DETECT, id="configured detect"),
        pytest.param(replace(STREET, configured=OFF), (), (A,), h(10), OFF, id="configured off"),
        # authorisations
        pytest.param(STREET, (), (), h(10), DETECT, id="no authorisation: detect"),
        pytest.param(STREET, (), (A,), h(10), WATCHLIST, id="approved, in window"),
        pytest.param(STREET, (), (A,), h(7), DETECT, id="before its window"),
        pytest.param(STREET, (), (A,), h(20), DETECT, id="at its end (end excluded)"),
        pytest.param(STREET, (), (OTHER_CAMERA,), h(10), DETECT, id="names other cameras"),
        pytest.param(STREET, (), (PENDING,), h(10), DETECT, id="pending, not urgent"),
        pytest.param(STREET, (), (URGENT,), h(8.5), WATCHLIST, id="urgent before its deadline"),
        pytest.param(STREET, (), (URGENT,), h(9), DETECT, id="urgent at its deadline, unapproved"),
        pytest.param(STREET, (), (REFUSED,), h(10), DETECT, id="refused"),
        pytest.param(STREET, (), (REVOKED,), h(10), DETECT, id="revoked"),
        pytest.param(replace(STREET, configured=INVESTIGATE), (), (A,), h(10), INVESTIGATE, id="investigate"),
        # rules
        pytest.param(STREET, (Rule(1, OFF, camera="street"),), (A,), h(10), OFF, id="camera rule off"),
        pytest.param(
            NEW,
            (Rule(1, WATCHLIST, camera="new"),),
            (auth("N", cameras=frozenset({"new"})),),
            h(10),
            WATCHLIST,
            id="rule raises a new camera",
        ),
        pytest.param(
            STREET,
            (Rule(1, DETECT, camera="street", window=Window(h(9), h(11))),),
            (A,),
            h(10),
            DETECT,
            id="rule in its window",
        ),
        pytest.param(
            STREET,
            (Rule(1, DETECT, camera="street", window=Window(h(9), h(11))),),
            (A,),
            h(12),
            WATCHLIST,
            id="rule outside its window",
        ),
        pytest.param(
            GATE,
            (Rule(1, RECORD, zone="plaza"), Rule(2, INVESTIGATE, camera="gate")),
            (A,),
            h(9),
            RECORD,
            id="most restrictive rule wins",
        ),
        pytest.param(
            STREET, (Rule(1, RECORD, zone="plaza"),), (A,), h(9), WATCHLIST, id="zone rule elsewhere"
        ),
        # protected zones
        pytest.param(STAGE, (), (A,), h(9), DETECT, id="protected zone by polygon"),
        pytest.param(STAGE, (), (NAMES_SQUARE,), h(9), WATCHLIST, id="authorisation names the zone"),
        pytest.param(STAGE, (), (A, NAMES_SQUARE), h(9), WATCHLIST, id="one of two names the zone"),
        pytest.param(
            replace(STAGE, configured=RECORD),
            (),
            (NAMES_SQUARE,),
            h(9),
            RECORD,
            id="naming a zone raises nothing",
        ),
        # events
        pytest.param(GATE, (), (A,), h(9), WATCHLIST, id="before the assembly"),
        pytest.param(GATE, (), (A,), h(10), DETECT, id="during the assembly"),
        pytest.param(GATE, (), (A,), h(12), WATCHLIST, id="after the assembly"),
        pytest.param(GATE, (), (NAMES_ASSEMBLY,), h(11), WATCHLIST, id="authorisation names the event"),
        pytest.param(GATE, (), (NAMES_SQUARE,), h(11), DETECT, id="naming a zone is not naming the event"),
        pytest.param(STREET, (), (A,), h(11), WATCHLIST, id="assembly elsewhere"),
    ],
)
def test_mode_for(
    camera: CameraPlace,
    rules: tuple[Rule, ...],
    auths: tuple[Authorisation, ...],
    at: datetime,
    expected: ProcessingMode,
) -> None:
    decision = mode_for(camera, PolicySnapshot(ZONES, (ASSEMBLY,), rules, auths), at)
    assert decision.mode is expected
    if expected.identifies:
        assert decision.authorisations and all(a.in_force(at) for a in decision.authorisations)
    else:
        assert decision.authorisations == ()


def test_a_refusal_says_what_is_missing() -> None:
    snapshot = PolicySnapshot(ZONES, (ASSEMBLY,), (), (A,))
    assert mode_for(GATE, snapshot, h(10)).reasons == ("identification is off in protected event assembly",)
    assert mode_for(STAGE, snapshot, h(9)).reasons == ("identification is off in protected zone square",)
    assert mode_for(STREET, PolicySnapshot(), h(9)).reasons == (
        "no authorisation in force names camera street",
    )


def test_the_watchlists_are_those_of_the_authorisations_used() -> None:
    snapshot = PolicySnapshot(ZONES, (), (), (A, auth("W", watchlists=frozenset({"wanted"})), NAMES_SQUARE))
    assert mode_for(STREET, snapshot, h(9)).watchlists == {"missing", "wanted"}
    # in the square only the authorisation naming it counts
    assert mode_for(STAGE, snapshot, h(9)).authorisations == (NAMES_SQUARE,)


@pytest.mark.parametrize(
    ("lat", "lon", "inside"),
    [(51.5, -0.1, True), (51.48, -0.1, False), (51.5, -0.08, False), (51.509, -0.109, True)],
)
def test_point_in_polygon(lat: float, lon: float, inside: bool) -> None:
    assert point_in_polygon(GeoPoint(lat, lon), SQUARE.polygon) is inside


@pytest.mark.parametrize(
    ("a", "at", "lapsed", "ended"),
    [
        (URGENT, h(8.5), False, False),
        (URGENT, h(9), True, True),
        (replace(URGENT, status=AuthorisationStatus.APPROVED), h(9), False, False),
        (replace(URGENT, status=AuthorisationStatus.REFUSED), h(8.5), True, True),
        (A, h(21), False, True),
        (REVOKED, h(10), False, True),
    ],
)
def test_lapsed_and_ended(a: Authorisation, at: datetime, lapsed: bool, ended: bool) -> None:
    assert (a.lapsed(at), a.ended(at)) == (lapsed, ended)


@pytest.mark.parametrize(
    ("auth", "at", "why"),
    [
        (PENDING, h(10), "P awaits a supervisor's approval"),
        (URGENT, h(9), "U was not approved before its deadline"),
        (REFUSED, h(10), "R was refused"),
        (REVOKED, h(10), "RV was revoked"),
        (A, h(7), "A starts at 2026-11-27T08:00+00:00"),
        (A, h(21), "A ended at 2026-11-27T20:00+00:00"),
    ],
)
def test_why_an_authorisation_naming_the_camera_does_not_count(
    auth: Authorisation, at: datetime, why: str
) -> None:
    (reason,) = mode_for(STREET, PolicySnapshot((), (), (), (auth,)), at).reasons
    assert reason == f"no authorisation in force names camera street; {why}"
