"""Stores: watchlists, persons, references, the gallery, sightings, alerts and search."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, update

from citywatch.domain.errors import CitywatchError, Conflict, InvalidInput, NotFound
from citywatch.domain.matching import MatchDecision
from citywatch.domain.records import AlertStatus, NewReference, WatchlistCategory
from citywatch.store import sighting_queries, watchlist_queries
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.db import open_database
from citywatch.store.sighting_tables import Sighting
from citywatch.store.watchlist_tables import FaceTemplate, ReferenceImage, Watchlist
from tests.fakes.stores import Stores
from tests.store.helpers import DIM, MODEL, T0, a_match, db_url, files_under, no_match, sighting, vector

JPEG = b"\xff\xd8 reference photo \xff\xd9"


def enrol(store: Stores, name: str = "Ann", watchlist: str = "wanted", seed: int = 1) -> tuple[int, int]:
    store.watchlists.ensure_watchlist(watchlist, "wanted")
    person = store.watchlists.add_person(watchlist, name)
    ref = store.watchlists.add_reference(
        person.id, JPEG, ".jpg", "warrant file 2026-114", "court order 17/2026", MODEL, vector(seed)
    )
    return person.id, ref


# --- watchlists ---------------------------------------------------------------------------


def test_create_get_and_list_watchlists(store: Stores) -> None:
    expires = T0 + timedelta(days=30)
    created = store.watchlists.create_watchlist(
        "missing kids", "missing", threshold=0.5, margin=0.05, expires_at=expires
    )
    store.watchlists.create_watchlist("default")
    assert created.category is WatchlistCategory.MISSING
    assert (created.threshold, created.margin, created.active) == (0.5, 0.05, True)
    assert created.expires_at == expires
    assert store.watchlists.get_watchlist("missing kids") == created
    assert [w.name for w in store.watchlists.list_watchlists()] == ["default", "missing kids"]
    assert store.watchlists.get_watchlist("default").threshold is None


def test_a_duplicate_watchlist_name_is_a_conflict(store: Stores) -> None:
    store.watchlists.create_watchlist("wanted")
    with pytest.raises(Conflict, match="already exists"):
        store.watchlists.create_watchlist("wanted", "missing")
    assert len(store.watchlists.list_watchlists()) == 1


def test_ensure_watchlist_gets_or_creates(store: Stores) -> None:
    first = store.watchlists.ensure_watchlist("orders", "stay_at_home")
    assert store.watchlists.ensure_watchlist("orders", "stay_at_home") == first
    with pytest.raises(Conflict, match="category stay_at_home"):
        store.watchlists.ensure_watchlist("orders", "wanted")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "  "}, InvalidInput),
        ({"name": "x", "category": "suspects"}, InvalidInput),
        ({"name": "x", "threshold": 0.0}, InvalidInput),
        ({"name": "x", "threshold": float("nan")}, InvalidInput),
        ({"name": "x", "margin": -0.1}, InvalidInput),
        ({"name": "x", "expires_at": datetime(2026, 1, 1)}, InvalidInput),
    ],
)
def test_bad_watchlists_are_refused(
    store: Stores, kwargs: dict[str, object], error: type[CitywatchError]
) -> None:
    with pytest.raises(error):
        store.watchlists.create_watchlist(**kwargs)  # type: ignore[arg-type]
    assert store.watchlists.list_watchlists() == []


def test_get_missing_watchlist_is_not_found(store: Stores) -> None:
    with pytest.raises(NotFound):
        store.watchlists.get_watchlist("nope")


# --- persons ------------------------------------------------------------------------------


def test_add_find_update_and_list_persons(store: Stores) -> None:
    store.watchlists.create_watchlist("wanted")
    store.watchlists.create_watchlist("missing", "missing")
    ann = store.watchlists.add_person("wanted", "Ann Example", "seen near the station")
    bob = store.watchlists.add_person("wanted", "Bob Sample")
    assert (ann.watchlist_name, ann.reference_images, ann.templates) == ("wanted", 0, 0)
    assert [p.id for p in store.watchlists.find_persons("ann")] == [ann.id]
    assert [p.id for p in store.watchlists.find_persons(str(bob.id))] == [bob.id]
    assert [p.id for p in store.watchlists.find_persons("EXAMPLE")] == [ann.id]
    assert store.watchlists.find_persons("100%") == []
    renamed = store.watchlists.update_person(ann.id, display_name="Ann E.")
    assert (renamed.display_name, renamed.watchlist_name, renamed.notes) == (
        "Ann E.",
        "wanted",  # a move waits for a second person: ChangeService.move_person (test_changes)
        "seen near the station",
    )
    assert renamed.updated_at >= ann.updated_at
    assert [p.id for p in store.watchlists.list_persons("missing")] == []
    assert [p.id for p in store.watchlists.list_persons()] == [ann.id, bob.id]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.watchlists.add_person("no such list", "Ann"), NotFound),
        (lambda s: s.watchlists.add_person("wanted", " "), InvalidInput),
        (lambda s: s.watchlists.get_person(999), NotFound),
        (lambda s: s.watchlists.update_person(999, notes="x"), NotFound),
        (lambda s: s.watchlists.update_person(1, display_name=" "), InvalidInput),
        (lambda s: s.watchlists.remove_person(999), NotFound),
        (lambda s: s.watchlists.list_persons("no such list"), NotFound),
        (lambda s: s.watchlists.find_persons("   "), InvalidInput),
    ],
)
def test_person_errors(store: Stores, call: object, error: type[CitywatchError]) -> None:
    store.watchlists.create_watchlist("wanted")
    store.watchlists.add_person("wanted", "Ann")
    with pytest.raises(error):
        call(store)  # type: ignore[operator]


# --- references and the gallery -----------------------------------------------------------


def test_reference_and_gallery_return_the_vector_exactly(store: Stores) -> None:
    person_id, _ref = enrol(store)
    entries = store.watchlists.gallery(MODEL, T0, 0.55, 0.04)
    assert len(entries) == 1
    entry = entries[0]
    assert entry.vector.dtype == np.float32
    assert entry.vector.shape == (DIM,)
    assert np.array_equal(entry.vector, vector(1))
    assert entry.vector.flags.writeable
    assert (entry.person_id, entry.person_name, entry.watchlist_name) == (person_id, "Ann", "wanted")
    assert (entry.threshold, entry.margin) == (0.55, 0.04)
    person = store.watchlists.get_person(person_id)
    assert (person.reference_images, person.templates) == (1, 1)
    assert store.watchlists.gallery("another-model", T0, 0.55, 0.04) == []


def test_reference_image_is_stored_with_its_hash(store: Stores) -> None:
    _person_id, ref_id = enrol(store)
    with store.db.session(write=False) as session:
        row = session.get(ReferenceImage, ref_id)
        assert row is not None
        assert row.blob_path.startswith("references/")
        assert row.sha256 == hashlib.sha256(JPEG).hexdigest()
        assert store.blobs.read(row.blob_path) == JPEG
        assert (row.source, row.legal_basis) == ("warrant file 2026-114", "court order 17/2026")


def test_watchlist_threshold_and_margin_override_the_defaults(store: Stores) -> None:
    store.watchlists.create_watchlist("strict", threshold=0.4, margin=0.1)
    person = store.watchlists.add_person("strict", "Ann")
    store.watchlists.add_reference(person.id, JPEG, ".jpg", "src", "basis", MODEL, vector(1))
    (entry,) = store.watchlists.gallery(MODEL, T0, 0.55, 0.04)
    assert (entry.threshold, entry.margin) == (0.4, 0.1)


@pytest.mark.parametrize(
    ("active", "expires_in", "included"),
    [
        (True, None, True),
        (True, timedelta(hours=1), True),
        (True, timedelta(0), False),  # expires exactly now
        (True, -timedelta(seconds=1), False),
        (False, None, False),
        (False, timedelta(days=1), False),
    ],
)
def test_gallery_excludes_inactive_and_expired_watchlists(
    store: Stores, active: bool, expires_in: timedelta | None, included: bool
) -> None:
    store.watchlists.create_watchlist("always")
    store.watchlists.create_watchlist("subject", expires_at=None if expires_in is None else T0 + expires_in)
    for name, seed in (("always", 1), ("subject", 2)):
        person = store.watchlists.add_person(name, f"person on {name}")
        store.watchlists.add_reference(person.id, JPEG, ".jpg", "src", "basis", MODEL, vector(seed))
    with store.db.session() as session:
        session.execute(update(Watchlist).where(Watchlist.name == "subject").values(active=active))
    names = {e.watchlist_name for e in store.watchlists.gallery(MODEL, T0, 0.55, 0.04)}
    assert names == ({"always", "subject"} if included else {"always"})


@pytest.mark.parametrize(
    ("source", "legal_basis"),
    [("", "court order"), ("   ", "court order"), ("warrant file", ""), ("warrant file", " \t\n")],
)
def test_blank_source_or_legal_basis_is_refused(store: Stores, source: str, legal_basis: str) -> None:
    store.watchlists.create_watchlist("wanted")
    person = store.watchlists.add_person("wanted", "Ann")
    with pytest.raises(InvalidInput, match="must not be blank"):
        store.watchlists.add_reference(person.id, JPEG, ".jpg", source, legal_basis, MODEL, vector(1))
    assert files_under(store.blobs.root) == []
    assert store.watchlists.get_person(person.id).templates == 0


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 4), np.float32),
        np.zeros(0, np.float32),
        np.array([1.0, np.nan], np.float32),
        np.array([1, 2, 3], np.int64),
    ],
)
def test_bad_template_vectors_are_refused(store: Stores, bad: np.ndarray) -> None:
    store.watchlists.create_watchlist("wanted")
    person = store.watchlists.add_person("wanted", "Ann")
    with pytest.raises(InvalidInput):
        store.watchlists.add_reference(person.id, JPEG, ".jpg", "src", "basis", MODEL, bad)
    assert files_under(store.blobs.root) == []


def test_a_template_of_another_size_for_the_same_model_is_refused(store: Stores) -> None:
    person_id, _ = enrol(store)
    with pytest.raises(InvalidInput, match="templates have 8 values"):
        store.watchlists.add_reference(
            person_id, JPEG, ".jpg", "src", "basis", MODEL, np.ones(DIM * 2, np.float32)
        )
    assert len(files_under(store.blobs.root)) == 1


def test_reference_for_a_missing_person_writes_nothing(store: Stores) -> None:
    with pytest.raises(NotFound):
        store.watchlists.add_reference(42, JPEG, ".jpg", "src", "basis", MODEL, vector(1))
    assert files_under(store.blobs.root) == []


def test_a_failed_reference_transaction_leaves_no_row_and_no_blob(
    store: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.watchlists.create_watchlist("wanted")
    person = store.watchlists.add_person("wanted", "Ann")

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated failure inside the transaction")

    monkeypatch.setattr(watchlist_queries, "insert_template", fail)
    with pytest.raises(RuntimeError, match="simulated"):
        store.watchlists.add_reference(person.id, JPEG, ".jpg", "src", "basis", MODEL, vector(1))
    assert files_under(store.blobs.root) == []
    with store.db.session(write=False) as session:
        assert session.scalar(select(func.count(ReferenceImage.id))) == 0


def test_remove_person_deletes_templates_and_reference_files(store: Stores) -> None:
    person_id, _ = enrol(store, "Ann", seed=1)
    store.watchlists.add_reference(person_id, b"second photo", ".png", "src", "basis", MODEL, vector(2))
    other_id, _ = enrol(store, "Bob", seed=3)
    with store.db.session(write=False) as session:
        paths = session.scalars(
            select(ReferenceImage.blob_path).where(ReferenceImage.person_id == person_id)
        ).all()
    assert all(store.blobs.absolute(p).is_file() for p in paths)
    match = a_match(person_id, store.watchlists.get_watchlist("wanted").id)
    saved = store.sightings.add_sighting(sighting(match=match))

    receipt = store.watchlists.remove_person(person_id)

    assert (receipt.person_id, receipt.reference_images, receipt.templates, receipt.blobs_unlinked) == (
        person_id,
        2,
        2,
        2,
    )
    assert sorted(receipt.blob_sha256s) == sorted(
        hashlib.sha256(d).hexdigest() for d in (JPEG, b"second photo")
    )
    assert not any(store.blobs.absolute(p).exists() for p in paths)
    with store.db.session(write=False) as session:
        assert (
            session.scalar(select(func.count(FaceTemplate.id)).where(FaceTemplate.person_id == person_id))
            == 0
        )
        assert session.scalar(select(func.count(ReferenceImage.id))) == 1
        kept = session.get(Sighting, saved.sighting_id)
        assert kept is not None
        assert (kept.person_id, kept.person_name) == (None, "Ann")  # the match record stays, unlinked
    assert [e.person_id for e in store.watchlists.gallery(MODEL, T0, 0.55, 0.04)] == [other_id]
    with pytest.raises(NotFound):
        store.watchlists.get_person(person_id)
    (alert,) = store.alerts.list_alerts()
    assert (alert.person_id, alert.person_name) == (None, "Ann")


def test_a_watchlist_with_persons_cannot_be_deleted_underneath_them(store: Stores) -> None:
    enrol(store)
    with pytest.raises(Conflict), store.db.session() as session:
        session.execute(Watchlist.__table__.delete())


# --- sightings and alerts -----------------------------------------------------------------


def test_a_sighting_without_a_match_raises_no_alert(store: Stores) -> None:
    saved = store.sightings.add_sighting(sighting(template=vector(5)))
    assert saved.alert_id is None
    assert saved.crop_path.startswith("crops/2026-03-01/")
    assert store.alerts.list_alerts() == []
    (info,) = store.sightings.list_sightings()
    assert (info.id, info.camera_id, info.day, info.decision) == (
        saved.sighting_id,
        "cam-1",
        "2026-03-01",
        MatchDecision.UNKNOWN_NO_GALLERY.value,
    )
    assert (info.person_id, info.person_name, info.distance, info.margin) == (None, None, None, None)
    assert info.has_template
    assert info.started_at == T0
    assert info.ended_at == T0 + timedelta(seconds=3)
    assert store.sightings.count_sightings() == 1


def test_a_sighting_with_a_match_raises_an_alert(store: Stores) -> None:
    person_id, _ = enrol(store)
    watchlist_id = store.watchlists.get_watchlist("wanted").id
    crop = b"\xff\xd8 the best shot \xff\xd9"
    saved = store.sightings.add_sighting(
        sighting(match=a_match(person_id, watchlist_id), crop=crop, template=None)
    )
    assert saved.alert_id is not None
    (alert,) = store.alerts.list_alerts()
    assert (alert.id, alert.sighting_id, alert.camera_id) == (saved.alert_id, saved.sighting_id, "cam-1")
    assert (alert.person_id, alert.person_name, alert.watchlist_id, alert.watchlist_name) == (
        person_id,
        "Ann",
        watchlist_id,
        "wanted",
    )
    assert alert.distance == pytest.approx(0.31)
    assert alert.status is AlertStatus.NEW
    assert store.alerts.list_alerts(status="new") == [alert]
    assert store.alerts.list_alerts(status="dismissed") == []
    (info,) = store.sightings.list_sightings()
    assert (info.person_id, info.watchlist_id, info.decision) == (person_id, watchlist_id, "match")
    assert info.distance == pytest.approx(0.31)
    assert info.margin == pytest.approx(0.21)
    assert not info.has_template
    assert store.blobs.read(saved.crop_path) == crop
    assert info.crop_sha256 == hashlib.sha256(crop).hexdigest()


def test_an_unknown_with_a_nearest_person_keeps_no_identity(store: Stores) -> None:
    person_id, _ = enrol(store)
    far = replace(a_match(person_id, 1), decision=MatchDecision.UNKNOWN_DISTANCE)
    saved = store.sightings.add_sighting(sighting(match=far))
    assert saved.alert_id is None
    (info,) = store.sightings.list_sightings()
    assert (info.person_id, info.person_name, info.watchlist_id) == (None, None, None)
    assert info.distance == pytest.approx(0.31)  # why it was unknown stays explainable


def test_a_match_for_a_person_removed_meanwhile_is_kept_with_its_snapshot(store: Stores) -> None:
    person_id, _ = enrol(store)
    match = a_match(person_id, store.watchlists.get_watchlist("wanted").id)
    store.watchlists.remove_person(person_id)
    saved = store.sightings.add_sighting(sighting(match=match))
    assert saved.alert_id is not None
    (alert,) = store.alerts.list_alerts()
    assert (alert.person_id, alert.person_name) == (None, "Ann")


def test_sighting_day_is_the_utc_day_of_its_start(store: Stores) -> None:
    late_evening_in_new_york = datetime(2026, 3, 1, 22, 30, tzinfo=timezone(timedelta(hours=-5)))
    saved = store.sightings.add_sighting(sighting(start=late_evening_in_new_york))
    assert saved.crop_path.startswith("crops/2026-03-02/")
    assert store.sightings.list_sightings()[0].day == "2026-03-02"


@pytest.mark.parametrize(
    "changes",
    [
        {"camera_id": " "},
        {"started_at": datetime(2026, 3, 1)},
        {"ended_at": T0 - timedelta(seconds=1)},
        {"detections": -1},
        {"quality": float("inf")},
        {"crop_jpeg": b""},
        {"model": ""},
        {"template": np.array([np.inf], np.float32)},
        {"match": replace(no_match(), decision=MatchDecision.MATCH)},
    ],
)
def test_bad_sightings_are_refused_before_anything_is_written(
    store: Stores, changes: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput):
        store.sightings.add_sighting(replace(sighting(), **changes))  # type: ignore[arg-type]
    assert store.sightings.count_sightings() == 0
    assert files_under(store.blobs.root) == []


@pytest.mark.parametrize("failing", ["insert_sighting", "insert_alert"])
def test_a_failed_sighting_transaction_leaves_no_row_and_no_blob(
    store: Stores, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    person_id, _ = enrol(store)
    before = files_under(store.blobs.root)

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated failure inside the transaction")

    monkeypatch.setattr(sighting_queries, failing, fail)
    with pytest.raises(RuntimeError, match="simulated"):
        store.sightings.add_sighting(
            sighting(match=a_match(person_id, store.watchlists.get_watchlist("wanted").id))
        )
    monkeypatch.undo()
    assert store.sightings.count_sightings() == 0
    assert store.alerts.list_alerts() == []
    assert files_under(store.blobs.root) == before


def test_list_sightings_newest_first_with_limit_and_camera(store: Stores) -> None:
    for i in range(5):
        store.sightings.add_sighting(
            sighting(camera_id=f"cam-{i % 2}", start=T0 + timedelta(minutes=i), track_id=i)
        )
    assert [s.track_id for s in store.sightings.list_sightings()] == [4, 3, 2, 1, 0]
    assert [s.track_id for s in store.sightings.list_sightings(limit=2)] == [4, 3]
    assert [s.track_id for s in store.sightings.list_sightings(camera_id="cam-1")] == [3, 1]
    with pytest.raises(InvalidInput):
        store.sightings.list_sightings(limit=0)
    with pytest.raises(InvalidInput):
        store.alerts.list_alerts(status="archived")


# --- search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cameras", "since_min", "until_min", "expected"),
    [
        (None, None, None, [0, 1, 2, 3]),
        (["a"], None, None, [0, 2]),
        (["a", "b"], None, None, [0, 1, 2, 3]),
        ([], None, None, []),
        (["c"], None, None, []),
        (None, 10, None, [1, 2, 3]),  # track 1 spans 9..12: overlaps
        (None, None, 20, [0, 1, 2]),
        (["b"], 10, 25, [1]),
        (None, 12.5, 19, []),
    ],
)
def test_search_candidates_filtered_by_camera_and_time(
    store: Stores,
    cameras: list[str] | None,
    since_min: float | None,
    until_min: float | None,
    expected: list[int],
) -> None:
    # track, camera, start minute, duration: (0, a, 0, 3m) (1, b, 9, 3m) (2, a, 20, 3m) (3, b, 30, 3m)
    for track, (camera, start) in enumerate([("a", 0), ("b", 9), ("a", 20), ("b", 30)]):
        store.sightings.add_sighting(
            sighting(
                camera_id=camera,
                start=T0 + timedelta(minutes=start),
                duration_s=180,
                template=vector(track),
                track_id=track,
            )
        )
    store.sightings.add_sighting(
        sighting(camera_id="a", start=T0 + timedelta(minutes=5), template=None, track_id=99)
    )

    def at(minutes: float | None) -> datetime | None:
        return None if minutes is None else T0 + timedelta(minutes=minutes)

    found = store.sightings.sightings_for_search(MODEL, cameras, at(since_min), at(until_min))
    ids = {s.id: s.track_id for s in store.sightings.list_sightings(limit=100)}
    assert [ids[c.id] for c in found] == expected
    for c in found:
        assert np.array_equal(c.vector, vector(ids[c.id]))
        assert Path(c.crop_path).is_absolute()
        assert Path(c.crop_path).is_file()


def test_search_of_another_model_finds_nothing(store: Stores) -> None:
    store.sightings.add_sighting(sighting(template=vector(1)))
    assert store.sightings.sightings_for_search("other-model", None, None, None) == []


def test_search_window_must_not_be_reversed(store: Stores) -> None:
    with pytest.raises(InvalidInput, match="after it ends"):
        store.sightings.sightings_for_search(MODEL, None, T0, T0 - timedelta(seconds=1))


# --- orphans ------------------------------------------------------------------------------


def test_clean_orphan_crops_removes_only_unreferenced_old_files(store: Stores) -> None:
    saved = store.sightings.add_sighting(sighting())
    orphan = store.blobs.put(b"crop of a crash", folder="crops/2026-03-01", suffix=".jpg")  # no row
    reference_id = enrol(store)[1]
    assert store.sightings.clean_orphan_crops() == 0  # too recent: its row may be about to commit
    assert store.sightings.clean_orphan_crops(older_than_s=0) == 1
    assert not store.blobs.absolute(orphan.path).exists()
    assert store.blobs.absolute(saved.crop_path).is_file()
    with store.db.session(write=False) as session:
        ref = session.get(ReferenceImage, reference_id)
        assert ref is not None
        assert store.blobs.absolute(ref.blob_path).is_file()


def test_clean_orphan_references(store: Stores) -> None:
    enrol(store)
    store.blobs.put(b"left by a crash", folder="references", suffix=".jpg")
    assert store.watchlists.clean_orphan_references(older_than_s=0) == 1
    assert len(files_under(store.blobs.root / "references")) == 1


def test_records_are_plain_dataclasses_usable_after_the_session(store: Stores, tmp_path: Path) -> None:
    person_id, _ = enrol(store)
    person = store.watchlists.get_person(person_id)
    store.close()
    assert person.display_name == "Ann"
    assert person.created_at.tzinfo is UTC
    assert not hasattr(person, "_sa_instance_state")


@pytest.mark.sqlite
def test_removed_templates_leave_no_copy_in_the_database_files(tmp_path: Path) -> None:
    db_path = tmp_path / "citywatch.db"
    store = Stores(open_database(db_url(db_path)), LocalBlobStore(tmp_path / "blobs"))
    try:
        secret = vector(77)
        store.watchlists.create_watchlist("wanted")
        person = store.watchlists.add_person("wanted", "Ann")
        store.watchlists.add_reference(person.id, JPEG, ".jpg", "src", "basis", MODEL, secret)
        store.db.checkpoint()
        assert secret.tobytes() in db_path.read_bytes()  # the probe finds what is there
        store.watchlists.remove_person(person.id)
        wal = db_path.with_name(db_path.name + "-wal")
        for path in (db_path, wal):
            if path.exists():
                assert secret.tobytes() not in path.read_bytes(), path.name
    finally:
        store.close()


def test_an_in_memory_database_works_across_threads() -> None:
    store = Stores(open_database("sqlite://"), LocalBlobStore(Path("/nonexistent-blobs")))
    try:
        thread = threading.Thread(target=store.watchlists.create_watchlist, args=("wanted",))
        thread.start()
        thread.join()
        assert [w.name for w in store.watchlists.list_watchlists()] == ["wanted"]
    finally:
        store.close()


def test_enroll_stores_the_person_and_all_references_at_once(store: Stores) -> None:
    store.watchlists.create_watchlist("wanted")
    refs = [NewReference(JPEG, ".jpg", "press photo", "court order", MODEL, vector(i)) for i in (1, 2)]
    person = store.watchlists.enroll(refs, watchlist_name="wanted", display_name="Ann")
    assert (person.display_name, person.reference_images, person.templates) == ("Ann", 2, 2)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (NewReference(JPEG, ".jpg", "src", " ", MODEL, vector(2)), "legal basis"),
        (NewReference(JPEG, ".jpg", "src", "basis", MODEL, np.zeros(7, np.float32)), "values"),
    ],
)
def test_enroll_is_all_or_nothing(store: Stores, bad: NewReference, message: str) -> None:
    store.watchlists.create_watchlist("wanted")
    store.watchlists.enroll(
        [NewReference(JPEG, ".jpg", "s", "b", MODEL, vector(9))], watchlist_name="wanted", display_name="X"
    )
    before = sorted(p.name for p in store.blobs.absolute("references").rglob("*") if p.is_file())
    good = NewReference(JPEG, ".jpg", "src", "basis", MODEL, vector(1))
    with pytest.raises(InvalidInput, match=message):
        store.watchlists.enroll([good, bad], watchlist_name="wanted", display_name="Ann")
    assert [p.display_name for p in store.watchlists.list_persons()] == ["X"]
    after = sorted(p.name for p in store.blobs.absolute("references").rglob("*") if p.is_file())
    assert after == before
