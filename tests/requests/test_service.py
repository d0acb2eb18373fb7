"""The request workflow: filing holds at once, a different supervisor decides, refusal and
closing release the hold with a receipt, only the designed moves are possible, all audited."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from citywatch.config.settings import Settings
from citywatch.domain.audit import SYSTEM, Actor, AuditEvent
from citywatch.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from citywatch.domain.policy import Window
from citywatch.domain.records import RequestKind, RequestStatus
from citywatch.domain.retention import ItemRef
from citywatch.requests.records import NewRequest, SubjectFindings
from citywatch.requests.service import clean_work_folder
from citywatch.retention.segments import ORPHAN_GRACE_S
from citywatch.runtime.build import Runtime
from citywatch.store import watchlist_queries
from citywatch.store.retention_tables import ExportRow
from citywatch.store.staging import REQUEST_PHOTOS_FOLDER, WORK_FOLDER, Staging
from tests.store.helpers import T0, sighting

IVY = Actor("ivy", "investigator")
SAM = Actor("sam", "supervisor")
WINDOW = Window(T0 - timedelta(hours=1), T0 + timedelta(hours=1))


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


def file(rt: Runtime, **kw: object) -> int:
    new = NewRequest(
        kind=RequestKind.LAW_ENFORCEMENT,
        reference=str(kw.get("reference", "MET-2026-7")),
        requester="Metropolitan Police, DC Jones",
        contact="dc.jones@example.org",
        cameras=list(kw.get("cameras", ["gate"])),  # type: ignore[call-overload]
        window=kw.get("window", WINDOW),  # type: ignore[arg-type]
    )
    return rt.requests.file(new, by=IVY, known_cameras={"gate", "yard"}).id


def actions(rt: Runtime) -> list[str]:
    return [e.action for e in rt.audit_log.entries()]


def test_filing_holds_the_footage_in_scope_at_once(rt: Runtime) -> None:
    inside = rt.sightings.add_sighting(sighting(camera_id="gate", start=T0)).sighting_id
    rid = file(rt)
    info = rt.requests.get(rid)
    assert info.status is RequestStatus.FILED and info.hold_id is not None
    (hold,) = rt.retention.holds()
    assert hold.hold.cameras == {"gate"} and hold.hold.window == WINDOW
    assert hold.hold.reference == "request:MET-2026-7"
    assert info.deadline == info.created_at + timedelta(days=7)
    assert actions(rt) == ["hold.place", "request.file"]  # one transaction, both recorded
    plan = rt.purger.plan()
    assert inside not in plan.sightings


def test_a_different_supervisor_decides(rt: Runtime) -> None:
    rid = file(rt)
    with pytest.raises(PermissionDenied, match="may not decide"):
        rt.requests.approve(rid, by=IVY)
    with pytest.raises(PermissionDenied, match="signed in"):
        rt.requests.approve(rid, by=Actor("root@local", "local"))
    with pytest.raises(PermissionDenied, match="filed it"):
        rt.requests.approve(rid, by=Actor("ivy", "supervisor"))
    rt.requests.review(rid, by=SAM)
    assert rt.requests.approve(rid, by=SAM).status is RequestStatus.APPROVED
    with pytest.raises(Conflict, match="is approved; it cannot become refused"):
        rt.requests.refuse(rid, "too late", by=SAM)


def test_a_refusal_gives_its_reason_and_releases_the_hold(rt: Runtime) -> None:
    rid = file(rt)
    with pytest.raises(InvalidInput, match="reason"):
        rt.requests.refuse(rid, " ", by=SAM)
    info = rt.requests.refuse(rid, "no case number on the form", by=SAM)
    assert (info.status, info.refusal_reason, info.decided_by) == (
        RequestStatus.REFUSED,
        "no case number on the form",
        "sam",
    )
    assert rt.retention.holds() == []
    assert [r.kind for r in rt.purger.receipts()] == ["hold_release"]
    rt.requests.close(rid, by=SAM)
    assert actions(rt)[-4:] == ["hold.release", "receipt.hold_release", "request.refuse", "request.close"]
    assert rt.requests.get(rid).status is RequestStatus.CLOSED


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"cameras": []}, InvalidInput, "names the cameras"),
        ({"cameras": ["nowhere"]}, NotFound, "no camera nowhere"),
        ({"window": Window(T0, T0)}, InvalidInput, "ends after it starts"),
        ({"reference": " "}, InvalidInput, "reference"),
    ],
)
def test_bad_requests_are_refused_and_hold_nothing(
    rt: Runtime, kw: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        file(rt, **kw)
    assert rt.retention.holds() == [] and rt.requests.list() == []


def test_unknown_request_and_impossible_moves(rt: Runtime) -> None:
    with pytest.raises(NotFound, match="no request 9"):
        rt.requests.get(9)
    rid = file(rt)
    with pytest.raises(Conflict, match="is filed; it cannot become closed"):
        rt.requests.close(rid, by=SAM)


def _subject(rt: Runtime, items: list[tuple[str, int]]) -> SubjectFindings:
    photo = rt.blobs.put(b"\xff\xd8 a requester's photo", folder=REQUEST_PHOTOS_FOLDER, suffix=".jpg")
    search = AuditEvent("search.subject_access", "request:SAR-1", case="SAR-1", result_count=len(items))
    return SubjectFindings(items, photo.path, SYSTEM, search)


def _subject_request() -> NewRequest:
    return NewRequest(RequestKind.SUBJECT_ACCESS, "SAR-1", "A. Person", "a@example.org", ["gate"], WINDOW)


def test_a_subject_access_request_holds_its_scope_and_names_what_the_search_found(rt: Runtime) -> None:
    found = rt.sightings.add_sighting(sighting(camera_id="gate", start=T0)).sighting_id
    other = rt.sightings.add_sighting(sighting(camera_id="gate", start=T0 + timedelta(minutes=5))).sighting_id
    info = rt.requests.file(_subject_request(), by=IVY, subject=_subject(rt, [("sighting", found)]))
    (hold,) = rt.retention.holds()
    assert hold.hold.id == info.hold_id and hold.hold.items == {("sighting", found)}
    # the whole scope, as a law-enforcement request's: what is held (and later made eligible)
    # tells the public nothing of whether the requester was found
    assert hold.hold.cameras == {"gate"} and hold.hold.window == WINDOW
    assert info.deadline == info.created_at + timedelta(days=30)
    assert actions(rt) == ["hold.place", "search.subject_access", "request.file"]
    search = next(e for e in rt.audit_log.entries() if e.action == "search.subject_access")
    assert search.actor == SYSTEM.name
    at = T0 + timedelta(minutes=5)
    assert hold.hold.covers(ItemRef("sighting", other, "gate", Window(at, at + timedelta(seconds=3))))


def test_a_subject_access_request_with_nothing_found_holds_its_scope_all_the_same(rt: Runtime) -> None:
    info = rt.requests.file(_subject_request(), by=IVY, subject=_subject(rt, []))
    (hold,) = rt.retention.holds()
    assert hold.hold.id == info.hold_id and hold.hold.items == frozenset()
    assert hold.hold.cameras == {"gate"} and hold.hold.window == WINDOW
    assert info.photo_path is not None


def test_the_search_belongs_to_subject_access_only(rt: Runtime) -> None:
    with pytest.raises(InvalidInput, match="system's search"):
        rt.requests.file(_subject_request(), by=IVY)
    le = NewRequest(RequestKind.LAW_ENFORCEMENT, "MET-1", "Police", "", ["gate"], WINDOW)
    with pytest.raises(InvalidInput, match="system's search"):
        rt.requests.file(le, by=IVY, subject=_subject(rt, []))
    assert rt.requests.list() == []


@pytest.mark.parametrize("answer", ["refuse", "fulfil"])
def test_the_requesters_photo_is_deleted_once_the_request_is_answered(rt: Runtime, answer: str) -> None:
    info = rt.requests.file(_subject_request(), by=IVY, subject=_subject(rt, []))
    assert info.photo_path is not None
    photo = rt.blobs.absolute(info.photo_path)
    assert photo.is_file()
    if answer == "refuse":
        done = rt.requests.refuse(info.id, "not identifiable", by=SAM)
    else:
        rt.requests.approve(info.id, by=SAM)
        export = ExportRow(
            request_id=info.id,
            reference="SAR-1",
            path="x.zip",
            size=1,
            sha256="0" * 64,
            created_by="sam",
            created_at=T0,
        )
        done = rt.requests.fulfilled(info.id, export, by=SAM)
    assert done.photo_path is None and not photo.exists()


def test_the_orphan_cleaning_removes_a_requester_photo_no_request_keeps(rt: Runtime) -> None:
    kept = rt.requests.file(_subject_request(), by=IVY, subject=_subject(rt, [])).photo_path
    assert kept is not None
    stray = rt.blobs.put(b"left by a crash", folder=REQUEST_PHOTOS_FOLDER, suffix=".jpg")
    assert (
        Staging(rt.database, rt.blobs).clean_orphans(
            REQUEST_PHOTOS_FOLDER, watchlist_queries.all_request_photo_paths, 0
        )
        == 1
    )
    assert rt.blobs.absolute(kept).is_file() and not rt.blobs.absolute(stray.path).exists()


def test_found_items_a_purge_deleted_before_the_filing_are_dropped_and_counted(rt: Runtime) -> None:
    found = rt.sightings.add_sighting(sighting(camera_id="gate", start=T0)).sighting_id
    purged = [("sighting", found + 100), ("recording", 7)]  # found by the search, gone since
    info = rt.requests.file(_subject_request(), by=IVY, subject=_subject(rt, [("sighting", found), *purged]))
    (hold,) = rt.retention.holds()
    assert hold.hold.id == info.hold_id and hold.hold.items == {("sighting", found)}
    search = next(e for e in rt.audit_log.entries() if e.action == "search.subject_access")
    assert search.params["gone_before_hold"] == 2


def test_a_filing_whose_every_find_was_purged_holds_its_scope_alone(rt: Runtime) -> None:
    info = rt.requests.file(_subject_request(), by=IVY, subject=_subject(rt, [("sighting", 41)]))
    (hold,) = rt.retention.holds()
    assert hold.hold.id == info.hold_id and hold.hold.items == frozenset()
    assert info.status is RequestStatus.FILED


def test_recover_removes_export_working_files_left_by_a_crash(rt: Runtime) -> None:
    work = rt.settings.data_dir / WORK_FOLDER
    old, fresh = work / "subject-access-1-abc", work / "subject-access-2-def"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "raw-1.mp4").write_bytes(b"an unblurred cut")
    long_ago = time.time() - ORPHAN_GRACE_S - 60
    for path in (old / "raw-1.mp4", old):
        os.utime(path, (long_ago, long_ago))
    rt.recover()
    assert not old.exists() and (fresh / "raw-1.mp4").is_file(), "an export at work is left alone"
    assert clean_work_folder(work, older_than_s=0) == 1 and list(work.iterdir()) == []
