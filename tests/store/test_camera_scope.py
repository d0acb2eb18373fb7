"""Camera scope on holds and requests, in the stores every caller goes through (API, console,
CLI): the pure rule as a table, then a user limited to `gate` placing, extending, releasing,
listing holds and filing, reading, deciding requests, refused (audited, nothing changed)
outside it; unscoped users unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.domain.access import within_scope
from citywatch.domain.audit import Actor
from citywatch.domain.errors import NotFound, OutOfScope, PermissionDenied
from citywatch.domain.policy import Window
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.requests.records import NewRequest
from citywatch.retention.hold_records import NewHold
from citywatch.runtime.build import Runtime
from citywatch.store.sighting_tables import Sighting
from tests.store.helpers import T0, sighting

GATE_ONLY = frozenset({"gate"})
IVY = Actor("ivy", "investigator", cameras=GATE_ONLY)
SOL = Actor("sol", "supervisor", cameras=GATE_ONLY)
IAN = Actor("ian", "investigator")
SAM = Actor("sam", "supervisor")
NOW = datetime.now(UTC)
WINDOW = Window(NOW - timedelta(hours=2), NOW - timedelta(hours=1))
"""Recent: a hold's window may not start before the data still kept (domain.retention.hold_reach)."""


@pytest.mark.parametrize(
    ("scope", "cameras", "within"),
    [
        (None, ["gate"], True),
        (None, [], True),
        (None, None, True),
        (GATE_ONLY, ["gate"], True),
        (GATE_ONLY, ["gate", "gate"], True),
        (GATE_ONLY, ["hall"], False),
        (GATE_ONLY, ["gate", "hall"], False),
        (GATE_ONLY, [], False),
        (GATE_ONLY, None, False),
        (frozenset(), ["gate"], False),
    ],
    ids=[
        "unscoped, a camera",
        "unscoped, no camera",
        "unscoped, cameras unknown",
        "inside",
        "inside, repeated",
        "outside",
        "one of two outside",
        "no camera: every camera",
        "cameras unknown",
        "empty scope",
    ],
)
def test_within_scope(scope: frozenset[str] | None, cameras: list[str] | None, within: bool) -> None:
    assert within_scope(Actor("x", "supervisor", cameras=scope), cameras) is within


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    cameras = [CameraSettings(id=c, url=str(tmp_path / f"{c}.mp4")) for c in ("gate", "hall", "yard", "dock")]
    runtime = Runtime(Settings(data_dir=tmp_path / "data", cameras=cameras))
    yield runtime
    runtime.close()


def hold(cameras: list[str]) -> NewHold:
    return NewHold(reference="case:1", reason="evidence", requester="", cameras=cameras, window=WINDOW)


def named(*items: tuple[str, int]) -> NewHold:
    return NewHold(reference="case:1", reason="evidence", requester="", items=items)


def refusals(rt: Runtime) -> list[tuple[str, str, list[str], str]]:
    return [
        (e.actor, e.object, e.params["cameras"], e.params["action"])
        for e in rt.audit_log.entries()
        if e.action == "access.refused"
    ]


# --- holds -----------------------------------------------------------------------------------


def test_a_scoped_user_places_holds_only_within_their_cameras(rt: Runtime) -> None:
    placed = rt.retention.place_hold(hold(["gate"]), by=IVY)
    for cameras in (["hall"], ["gate", "hall"]):
        with pytest.raises(
            PermissionDenied, match=r"ivy may not act on camera\(s\) hall \(limited to: gate\)"
        ):
            rt.retention.place_hold(hold(cameras), by=IVY)
    assert [i.hold.id for i in rt.retention.holds()] == [placed.hold.id]  # nothing else placed
    assert refusals(rt) == [("ivy", "holds", ["hall"], "hold.place")] * 2


def test_a_hold_on_named_items_is_scoped_by_their_cameras(rt: Runtime) -> None:
    at_gate = rt.sightings.add_sighting(sighting(camera_id="gate", start=T0)).sighting_id
    at_hall = rt.sightings.add_sighting(sighting(camera_id="hall", start=T0)).sighting_id
    mine, theirs = named(("sighting", at_gate)), named(("sighting", at_hall))
    assert rt.retention.place_hold(mine, by=IVY).hold.items == {("sighting", at_gate)}
    # beyond the scope is answered in the words of nothing there at all
    with pytest.raises(OutOfScope, match=f"^nothing to hold: no sighting {at_hall}$"):
        rt.retention.place_hold(theirs, by=IVY)
    with pytest.raises(NotFound, match=r"^nothing to hold: no sighting 4242$"):
        rt.retention.place_hold(named(("sighting", 4242)), by=IVY)
    assert rt.retention.place_hold(theirs, by=IAN).hold.items == {("sighting", at_hall)}


def test_a_scoped_user_cannot_extend_or_release_a_hold_outside_their_cameras(rt: Runtime) -> None:
    hall = rt.retention.place_hold(hold(["hall"]), by=IAN).hold.id
    both = rt.retention.place_hold(hold(["gate", "hall"]), by=IAN).hold.id
    for hold_id in (hall, both):
        # answered as a hold that does not exist
        with pytest.raises(OutOfScope, match=f"^no hold {hold_id}$"):
            rt.retention.release_hold(hold_id, "no longer needed", by=IVY)
        with pytest.raises(OutOfScope, match=f"^no hold {hold_id}$"):
            rt.retention.extend_hold(hold_id, None, by=IVY)
    infos = rt.retention.holds()
    assert [(i.hold.id, i.hold.expires_at, i.hold.released_at) for i in infos] == [
        (hall, None, None),
        (both, None, None),
    ]
    assert [a for *_, a in refusals(rt)] == ["hold.release", "hold.extend"] * 2
    assert [o for _, o, *_ in refusals(rt)] == [f"hold:{hall}"] * 2 + [f"hold:{both}"] * 2
    with pytest.raises(NotFound):
        rt.retention.release_hold(999, "no longer needed", by=IVY)
    released = rt.retention.release_hold(hall, "no longer needed", by=IAN).receipt  # unscoped: unchanged
    assert released is not None and released.kind == "hold_release"


def test_a_scoped_user_lists_only_holds_within_their_cameras(rt: Runtime) -> None:
    gate = rt.retention.place_hold(hold(["gate"]), by=IAN).hold.id
    rt.retention.place_hold(hold(["hall"]), by=IAN)
    rt.retention.place_hold(hold(["gate", "hall"]), by=IAN)
    at_gate = rt.sightings.add_sighting(sighting(camera_id="gate", start=T0)).sighting_id
    gone = rt.retention.place_hold(named(("sighting", at_gate)), by=IAN).hold.id
    visible = [i.hold.id for i in rt.retention.holds(visible_to=IVY)]
    assert visible == [gate, gone]
    with rt.database.session() as s:  # the named sighting purged: its camera can no longer be told
        s.delete(s.get(Sighting, at_gate))
    assert [i.hold.id for i in rt.retention.holds(visible_to=IVY)] == [gate]
    assert len(rt.retention.holds(visible_to=IAN)) == len(rt.retention.holds()) == 4


# --- requests --------------------------------------------------------------------------------


def new_request(cameras: list[str], reference: str = "MET-1") -> NewRequest:
    return NewRequest(RequestKind.LAW_ENFORCEMENT, reference, "Met Police", "", cameras, WINDOW)


KNOWN = {"gate", "hall"}


def test_a_scoped_user_files_requests_only_about_their_cameras(rt: Runtime) -> None:
    for cameras in (["hall"], ["gate", "hall"]):
        with pytest.raises(PermissionDenied, match=r"a request: ivy may not act on camera\(s\) hall"):
            rt.requests.file(new_request(cameras), by=IVY, known_cameras=KNOWN)
    assert rt.requests.list() == [] and rt.retention.holds() == []
    assert refusals(rt) == [("ivy", "requests", ["hall"], "request.file")] * 2
    assert rt.requests.file(new_request(["gate"]), by=IVY, known_cameras=KNOWN).cameras == ["gate"]


def test_a_scoped_user_reads_and_decides_only_requests_wholly_within_their_cameras(rt: Runtime) -> None:
    gate = rt.requests.file(new_request(["gate"], "A"), by=IAN, known_cameras=KNOWN).id
    hall = rt.requests.file(new_request(["hall"], "B"), by=IAN, known_cameras=KNOWN).id
    both = rt.requests.file(new_request(["gate", "hall"], "C"), by=IAN, known_cameras=KNOWN).id
    assert [i.id for i in rt.requests.list(visible_to=SOL)] == [gate]
    assert [i.id for i in rt.requests.list(RequestStatus.FILED, visible_to=SAM)] == [gate, hall, both]
    for rid in (hall, both):
        # answered as a request that does not exist
        with pytest.raises(OutOfScope, match=f"^no request {rid}$"):
            rt.requests.get(rid, by=SOL)
        for move in (rt.requests.review, rt.requests.approve, rt.requests.close):
            with pytest.raises(OutOfScope, match=f"^no request {rid}$"):
                move(rid, by=SOL)
        with pytest.raises(OutOfScope, match=f"^no request {rid}$"):
            rt.requests.refuse(rid, "no", by=SOL)
        info = rt.requests.get(rid)
        assert (info.status, info.decided_by) == (RequestStatus.FILED, None)
    assert [a for *_, a in refusals(rt)] == [
        "request.read",
        "request.review",
        "request.approve",
        "request.close",
        "request.refuse",
    ] * 2
    assert rt.requests.refuse(gate, "no", by=SOL).status is RequestStatus.REFUSED
    assert rt.requests.refuse(hall, "no", by=SAM).status is RequestStatus.REFUSED
