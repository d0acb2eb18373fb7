"""Retention: what the purge deletes (physically, with a receipt), what a hold keeps, and
the canary: planted bytes are nowhere on disk after they expire and a purge runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from citywatch.config.pipeline import RetentionSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.errors import Conflict, InvalidInput, NotFound
from citywatch.domain.policy import Window
from citywatch.retention.hold_records import NewHold
from citywatch.retention.holds import HoldService
from citywatch.runtime.build import Runtime
from citywatch.store.retention_tables import ExportRow
from tests.store.helpers import T0, Clock, a_match, files_under, sighting, vector

DAY = timedelta(days=1)
ANN = Actor("ann", "supervisor")
SYSTEM = Actor("citywatch@system", "system", service=True)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + DAY)


def store(rt: Runtime, clock: Clock, **days: float) -> HoldService:
    return HoldService(
        rt.database,
        policy=RetentionSettings(**days).policy(),
        clock=clock,
        audit=rt._audit_as,
        remove_file=rt._remove_file,
    )


def add(rt: Runtime, *, camera: str = "cam-1", start: datetime = T0, **kw: object) -> int:
    return rt.sightings.add_sighting(sighting(camera_id=camera, start=start, **kw)).sighting_id  # type: ignore[arg-type]


def ids(rt: Runtime) -> set[int]:
    return {s.id for s in rt.sightings.list_sightings(limit=10_000)}


def test_the_purge_deletes_what_expired_with_a_receipt(rt: Runtime, clock: Clock, tmp_path: Path) -> None:
    old, new = add(rt, start=T0), add(rt, start=T0 + 4 * DAY)
    ret = store(rt, clock)
    assert ret.purger.purge(by=SYSTEM) is None  # nothing is five days old yet
    clock.now = T0 + 5 * DAY + timedelta(seconds=1)
    receipt = ret.purger.purge(by=SYSTEM)
    assert receipt is not None and receipt.counts["sightings"] == 1
    assert ids(rt) == {new}
    assert receipt.details["ids"]["sightings"] == [old]
    assert len(receipt.details["file_sha256"]["sightings"]) == 1
    assert len(files_under(tmp_path / "data/blobs/crops")) == 1  # the crop went too
    (entry,) = [e for e in rt.audit_log.entries() if e.action == "receipt.purge"]
    assert (entry.seq, entry.actor) == (receipt.audit_seq, "citywatch@system")
    assert [r.id for r in ret.purger.receipts()] == [receipt.id]
    assert rt.audit_log.verify().ok


def test_a_hold_keeps_what_it_covers_and_its_release_lets_it_go(rt: Runtime, clock: Clock) -> None:
    held = add(rt, camera="gate", start=T0)
    other_camera = add(rt, camera="yard", start=T0)
    named = add(rt, camera="yard", start=T0 + timedelta(hours=1))
    ret = store(rt, clock)
    window = ret.place_hold(
        NewHold("C-9", "robbery at the gate", "police", cameras=["gate"], window=Window(T0 - DAY, T0 + DAY)),
        by=ANN,
    )
    by_name = ret.place_hold(NewHold("R-2", "subject access", "J. Doe", items=[("sighting", named)]), by=ANN)
    clock.now = T0 + 10 * DAY
    plan = ret.purger.plan()
    assert (plan.sightings, plan.held["sightings"]) == ([other_camera], 2)
    ret.purger.purge(by=SYSTEM)
    assert ids(rt) == {held, named}

    receipt = ret.release_hold(window.hold.id, "no longer needed", by=ANN).receipt
    assert receipt is not None and receipt.kind == "hold_release" and receipt.counts["sightings"] == 1
    assert ids(rt) == {held, named}  # releasing deletes nothing by itself
    ret.purger.purge(by=SYSTEM)
    assert ids(rt) == {named}
    ret.release_hold(by_name.hold.id, "no longer needed", by=ANN)
    ret.purger.purge(by=SYSTEM)
    assert ids(rt) == set()
    actions = [e.action for e in rt.audit_log.entries()]
    assert actions.count("hold.place") == 2 and actions.count("hold.release") == 2
    assert actions.count("receipt.purge") == 3 and actions.count("receipt.hold_release") == 2


def test_overlapping_holds_resolve_to_the_longest(rt: Runtime, clock: Clock) -> None:
    s = add(rt, camera="gate")
    ret = store(rt, clock)
    window = Window(T0 - DAY, T0 + DAY)
    ret.place_hold(NewHold("A", "a", "x", cameras=["gate"], window=window, expires_at=T0 + 8 * DAY), by=ANN)
    ret.place_hold(NewHold("B", "b", "y", cameras=["gate"], window=window, expires_at=T0 + 20 * DAY), by=ANN)
    clock.now = T0 + 10 * DAY  # the first hold has expired, the second has not
    ret.purger.purge(by=SYSTEM)
    assert ids(rt) == {s}
    clock.now = T0 + 20 * DAY
    ret.purger.purge(by=SYSTEM)
    assert ids(rt) == set()


def test_an_alert_keeps_its_sighting_and_a_held_alert_its_sighting_too(rt: Runtime, clock: Clock) -> None:
    person = rt.watchlists.ensure_watchlist("wanted")
    matched = rt.sightings.add_sighting(sighting(match=a_match(1, person.id), template=vector(1)))
    ret = store(rt, clock, sightings_days=2, templates_days=2, alerts_days=30)
    clock.now = T0 + 10 * DAY
    ret.purger.purge(by=SYSTEM)
    assert ids(rt) == {matched.sighting_id}  # the alert, kept 30 days, keeps its sighting
    assert matched.alert_id is not None
    ret.place_hold(NewHold("C-1", "evidence", "police", items=[("alert", matched.alert_id)]), by=ANN)
    clock.now = T0 + 40 * DAY
    ret.purger.purge(by=SYSTEM)
    assert ids(rt) == {matched.sighting_id} and len(rt.alerts.list_alerts()) == 1


def test_templates_can_go_before_their_sightings(rt: Runtime, clock: Clock) -> None:
    s = add(rt, template=vector(4))
    ret = store(rt, clock, sightings_days=10, templates_days=2)
    clock.now = T0 + 3 * DAY
    receipt = ret.purger.purge(by=SYSTEM)
    assert receipt is not None and receipt.counts == {
        "alerts": 0,
        "audit": 0,
        "exports": 0,
        "footage": 0,
        "non_matches": 0,
        "sightings": 0,
        "templates": 1,
    }
    (row,) = rt.sightings.list_sightings()
    assert row.id == s
    assert rt.sightings.sightings_for_search("test-model", None, None, None) == []  # no template left


@pytest.mark.parametrize(
    ("hold", "error", "message"),
    [
        (NewHold("", "r", "x", items=[("sighting", 1)]), InvalidInput, "reference"),
        (NewHold("C", "r", "x"), InvalidInput, "cameras and a time window, or named items"),
        (
            NewHold("C", "r", "x", cameras=["a"], window=Window(T0, None)),
            InvalidInput,
            "both a start and an end",
        ),
        (NewHold("C", "r", "x", cameras=["a"], window=Window(T0, T0 - DAY)), InvalidInput, "ends before"),
        (NewHold("C", "r", "x", items=[("template", 1)]), InvalidInput, "cannot be held"),
        (
            NewHold("C", "r", "x", cameras=["cam-1", "nowhere"], window=Window(T0, T0 + DAY)),
            InvalidInput,
            r"unknown camera\(s\): nowhere",
        ),
        (
            NewHold("C", "r", "x", cameras=["cam-1"], window=Window(T0 - 30 * DAY, T0)),
            InvalidInput,
            "before any data still kept",
        ),
        (
            NewHold("C", "r", "x", cameras=["cam-1"], window=Window(T0, T0 + 100 * DAY)),
            InvalidInput,
            "hold_max_days",
        ),
        (NewHold("C", "r", "x", items=[("sighting", 999)]), NotFound, "no sighting 999"),
        (NewHold("C", "r", "x", items=[("sighting", 1)], expires_at=T0), InvalidInput, "future"),
    ],
)
def test_bad_holds_are_refused(
    rt: Runtime, clock: Clock, hold: NewHold, error: type[Exception], message: str
) -> None:
    add(rt)
    with pytest.raises(error, match=message):
        store(rt, clock).place_hold(hold, by=ANN)


def test_holds_only_extend_and_release_once(rt: Runtime, clock: Clock) -> None:
    add(rt)
    ret = store(rt, clock)
    info = ret.place_hold(NewHold("C", "r", "x", items=[("sighting", 1)], expires_at=T0 + 9 * DAY), by=ANN)
    with pytest.raises(InvalidInput, match="only be extended"):
        ret.extend_hold(info.hold.id, T0 + 2 * DAY, by=ANN)
    assert ret.extend_hold(info.hold.id, None, by=ANN).hold.expires_at is None
    ret.release_hold(info.hold.id, "no longer needed", by=ANN)
    with pytest.raises(Conflict, match="no longer in force"):
        ret.release_hold(info.hold.id, "no longer needed", by=ANN)
    assert ret.holds() == [] and len(ret.holds(include_released=True)) == 1


@pytest.mark.sqlite
def test_canary_bytes_are_gone_from_every_file_after_the_purge(
    rt: Runtime, clock: Clock, tmp_path: Path
) -> None:
    template = np.frombuffer(b"CANARY-TEMPLATE!" * 2, dtype="<f4").astype(np.float32)  # 8 floats
    crop = b"\xff\xd8" + b"CANARY-CROP-BYTES" * 8 + b"\xff\xd9"
    add(rt, template=template, crop=crop)
    add(rt, start=T0 + 9 * DAY, template=vector(7))  # a later one that stays
    pending = rt.footage.begin_segment("cam-1", T0)
    pending.temp.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"CANARY-SEGMENT-BYTES" * 64)
    segment = rt.footage.add_segment(pending, T0 + timedelta(seconds=60))
    rt.database.checkpoint()
    data = tmp_path / "data"

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())

    patterns = (b"CANARY-TEMPLATE!", b"CANARY-CROP-BYTES", b"CANARY-SEGMENT-BYTES")
    assert all(p in on_disk() for p in patterns)
    clock.now = T0 + 6 * DAY
    receipt = store(rt, clock).purger.purge(by=SYSTEM)
    assert receipt is not None and receipt.details["ids"]["footage"] == [segment.id]
    assert [p for p in patterns if p in on_disk()] == []
    receipts = [e for e in rt.audit_log.entries() if e.action.startswith("receipt.")]
    assert b"CANARY" not in json.dumps([e.params for e in receipts]).encode()


def test_the_purge_runs_on_the_policy_version_it_names(rt: Runtime, clock: Clock) -> None:
    add(rt)
    a, b = store(rt, clock).policy.version, store(rt, clock, footage_days=6).policy.version
    assert a != b
    clock.now = T0 + 6 * DAY
    receipt = store(rt, clock, footage_days=6).purger.purge(by=SYSTEM)
    assert receipt is not None and receipt.policy_version == b
    assert replace(receipt, id=0).policy_version == b


def test_exports_fall_under_retention_like_everything_else(rt: Runtime, clock: Clock, tmp_path: Path) -> None:
    package = tmp_path / "data/exports/2026-03-01/request-1.zip"
    package.parent.mkdir(parents=True)
    package.write_bytes(b"PK fake package")
    with rt.database.session() as session:
        session.add(
            ExportRow(
                reference="MET-1",
                path="2026-03-01/request-1.zip",
                size=15,
                sha256="0" * 64,
                created_by="sam",
                created_at=T0,
            )
        )
    clock.now = T0 + 6 * DAY
    receipt = store(rt, clock).purger.purge(by=SYSTEM)
    assert receipt is not None and receipt.counts["exports"] == 1
    assert not package.exists()


def remembered_false_match(rt: Runtime, template: np.ndarray, start: datetime = T0) -> int:
    """A matched sighting of person 1 at `start`, dismissed as a false match: its face is
    remembered as a non-match."""
    if not rt.watchlists.list_watchlists():
        rt.watchlists.create_watchlist("wanted")
        rt.watchlists.add_person("wanted", "Ann Example")
    saved = rt.sightings.add_sighting(sighting(match=a_match(1, 1), template=template, start=start))
    assert saved.alert_id is not None
    review = rt.alert_reviews.dismiss(saved.alert_id, ANN, "not her", false_match=True)
    assert review.non_match_id is not None
    return review.non_match_id


def test_remembered_non_matches_go_with_the_templates_retention(rt: Runtime, clock: Clock) -> None:
    old = remembered_false_match(rt, vector(1), T0)
    remembered_false_match(rt, vector(2), T0 + 2 * DAY)
    ret = store(rt, clock, sightings_days=10, templates_days=2, alerts_days=30)
    clock.now = T0 + 3 * DAY  # counted from when the face was seen, not from the dismissal (today)
    assert ret.purger.plan().non_matches == [old]
    receipt = ret.purger.purge(by=SYSTEM)
    assert receipt is not None and receipt.counts["non_matches"] == 1 and receipt.counts["templates"] == 1
    assert receipt.details["ids"]["non_matches"] == [old]
    assert [n.vector.tolist() for n in rt.watchlists.non_matches("test-model")] == [vector(2).tolist()]


@pytest.mark.sqlite
def test_canary_a_remembered_face_leaves_no_trace_after_the_purge(
    rt: Runtime, clock: Clock, tmp_path: Path
) -> None:
    template = np.frombuffer(b"CANARY-NONMATCH!" * 2, dtype="<f4").astype(np.float32)  # 8 floats
    remembered_false_match(rt, template, T0)  # the face: in the sighting and in the non-match
    rt.database.checkpoint()
    data = tmp_path / "data"

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())

    assert b"CANARY-NONMATCH!" in on_disk()
    clock.now = T0 + 6 * DAY
    receipt = store(rt, clock, sightings_days=10, alerts_days=30).purger.purge(by=SYSTEM)
    assert receipt is not None and receipt.counts["non_matches"] == 1
    assert b"CANARY-NONMATCH!" not in on_disk()
    assert rt.watchlists.non_matches("test-model") == []
    assert b"CANARY" not in json.dumps([e.params for e in rt.audit_log.entries()]).encode()
