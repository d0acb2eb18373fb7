"""Storing sightings in batches (`SightingStore.add_sightings`, sightings.batch): the good ones
of a batch commit together, each refused one (fenced, its authorisation ended, invalid) rolls
back alone with its crop, a sighting stored already (before, in the same batch, or meanwhile
by another consumer) is a duplicate, and a database away mid-batch stores nothing. Runs on
SQLite and, with CITYWATCH_TEST_DATABASE=postgresql, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from citywatch.cluster.messages import origin_of
from citywatch.config.settings import Settings
from citywatch.domain.errors import Fenced, InvalidInput, PermissionDenied, Unavailable
from citywatch.domain.records import SightingOrigin, SightingRecord, SightingSaved
from citywatch.runtime.build import Runtime
from citywatch.sightings.store import SightingStore
from citywatch.store import sighting_queries
from citywatch.store.blobs import BlobRef, BlobStore
from tests.sightings.helpers import crop_files, crop_paths, ended_authorisation, stored_keys
from tests.store.helpers import a_match, sighting

Item = tuple[SightingRecord, SightingOrigin]


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    runtime.watchlists.create_watchlist("wanted")
    runtime.watchlists.add_person("wanted", "Ann Example")  # person 1 on watchlist 1
    yield runtime
    runtime.close()


def item(token: int, **kw: object) -> Item:
    record = sighting(**kw)  # type: ignore[arg-type]
    return record, origin_of(record, token)


def test_a_batch_stores_the_good_ones_and_refuses_each_bad_one_alone(rt: Runtime) -> None:
    assert rt.sightings.raise_fence("cam-1", 5)
    before = item(5, track_id=2)
    earlier = rt.sightings.add_sighting(*before)
    good = item(5, track_id=1)
    fenced = item(4, track_id=3)  # the camera's previous holder
    closed = replace(sighting(camera_id="cam-2", track_id=4), authorisation_id=ended_authorisation(rt))
    withheld = (closed, origin_of(closed, 2))  # under a later lease than `matched`
    matched = item(1, camera_id="cam-2", track_id=5, match=a_match(1, 1))
    invalid = item(1, camera_id="cam-2", track_id=6, crop=b"")
    batch = [good, before, fenced, withheld, matched, good, invalid]

    outcomes = rt.sightings.add_sightings(batch)

    saved, duplicate, refused, denied, alerted, copy, bad = outcomes
    assert isinstance(saved, SightingSaved) and not saved.duplicate
    assert isinstance(duplicate, SightingSaved) and duplicate.duplicate
    assert duplicate.sighting_id == earlier.sighting_id
    assert isinstance(refused, Fenced)
    assert isinstance(denied, PermissionDenied)
    assert isinstance(alerted, SightingSaved) and alerted.alert_id is not None
    assert copy == replace(saved, duplicate=True)  # the same message twice in one batch: one row
    assert isinstance(bad, InvalidInput)
    assert stored_keys(rt) == sorted([good[1].key, before[1].key, matched[1].key])
    assert [a.id for a in rt.alerts.list_alerts()] == [alerted.alert_id]
    assert crop_files(rt) == crop_paths(rt)  # the refused ones' crops went with their rows
    assert len(crop_files(rt)) == 3
    assert rt.sightings.raise_fence("cam-2", 1)  # the refused one's fence went with it


def test_a_batch_sorted_out_one_by_one_keeps_each_transactions_savepoints_few(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch with a refused sighting is written again one by one, at most SAVEPOINTS to a
    transaction (PostgreSQL caches 64 subtransactions), every good one stored once."""
    from citywatch.sightings import batch as batch_module  # noqa: PLC0415

    monkeypatch.setattr(batch_module, "SAVEPOINTS", 4)
    assert rt.sightings.raise_fence("cam-1", 5)
    batch = [item(5, track_id=t) for t in range(1, 10)]
    batch.insert(6, item(4, track_id=99))  # its camera's previous holder: refused
    transactions: list[int] = []
    each = batch_module.SightingWriter._commit_each

    def counted(writer: object, items: dict[int, object]) -> object:
        transactions.append(len(items))
        return each(writer, items)  # type: ignore[arg-type]

    monkeypatch.setattr(batch_module.SightingWriter, "_commit_each", counted)
    outcomes = rt.sightings.add_sightings(batch)
    assert transactions == [4, 4, 2]
    assert [type(o).__name__ for o in outcomes].count("Fenced") == 1 and isinstance(outcomes[6], Fenced)
    assert len(stored_keys(rt)) == 9 and crop_files(rt) == crop_paths(rt)


def test_a_sighting_the_database_cannot_hold_is_refused_alone(rt: Runtime) -> None:
    huge = item(1, track_id=2**63)  # a worker's bug: beyond every integer column
    outcomes = rt.sightings.add_sightings([item(1, track_id=1), huge, item(1, track_id=2)])
    assert [type(o) for o in outcomes] == [SightingSaved, InvalidInput, SightingSaved]
    assert stored_keys(rt) == sorted([item(1, track_id=1)[1].key, item(1, track_id=2)[1].key])
    assert crop_files(rt) == crop_paths(rt)


@pytest.mark.parametrize(
    ("tokens", "stored"),
    [
        ([5, 5, 4, 6, 5, 6], [True, True, False, True, False, True]),  # the lease moved mid-batch
        ([3, 3, 7, 7, 2], [True, True, True, True, False]),
    ],
)
def test_each_sighting_of_a_batch_passes_its_cameras_fence_in_order(
    rt: Runtime, tokens: list[int], stored: list[bool]
) -> None:
    assert rt.sightings.raise_fence("cam-1", 3)
    outcomes = rt.sightings.add_sightings([item(token, track_id=t) for t, token in enumerate(tokens)])
    assert [isinstance(o, SightingSaved) for o in outcomes] == stored
    assert all(isinstance(o, Fenced) for o, ok in zip(outcomes, stored, strict=True) if not ok)
    assert not rt.sightings.raise_fence("cam-1", max(tokens) - 1)  # it stands at the highest stored


def test_a_batch_delivered_twice_stores_nothing_twice(rt: Runtime) -> None:
    batch = [item(1, track_id=t, match=a_match(1, 1) if t == 1 else None) for t in range(1, 6)]
    first = rt.sightings.add_sightings(batch)
    files = crop_files(rt)

    again = rt.sightings.add_sightings(batch)

    assert all(isinstance(o, SightingSaved) and not o.duplicate for o in first)
    assert again == [replace(o, duplicate=True) for o in first if isinstance(o, SightingSaved)]
    assert len(stored_keys(rt)) == 5 and crop_files(rt) == files
    assert len(rt.alerts.list_alerts()) == 1  # raised once, by the first delivery


class RacingBlobs:
    """A blob store in whose first put another consumer stores `rival` (the same message,
    delivered to it too): between this batch's look-up of stored keys and its commit."""

    def __init__(self, inner: BlobStore, other: SightingStore, rival: Item) -> None:
        self._inner, self._other, self._rival = inner, other, rival
        self.rival_saved: SightingSaved | None = None

    def put(self, data: bytes, *, folder: str, suffix: str) -> BlobRef:
        if self.rival_saved is None:
            self.rival_saved = self._other.add_sighting(*self._rival)
        return self._inner.put(data, folder=folder, suffix=suffix)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_a_sighting_stored_meanwhile_by_another_consumer_is_a_duplicate(rt: Runtime) -> None:
    rival, good = item(1, track_id=1, match=a_match(1, 1)), item(1, track_id=2)
    racing = RacingBlobs(rt.blobs, rt.sightings, rival)
    store = SightingStore(rt.database, racing)  # type: ignore[arg-type]

    outcomes = store.add_sightings([rival, good])

    assert racing.rival_saved is not None
    assert outcomes[0] == replace(racing.rival_saved, duplicate=True)  # its unique key clashed
    assert isinstance(outcomes[1], SightingSaved) and not outcomes[1].duplicate
    assert stored_keys(rt) == sorted([rival[1].key, good[1].key])
    assert len(rt.alerts.list_alerts()) == 1
    assert crop_files(rt) == crop_paths(rt)


def test_a_database_away_mid_batch_stores_nothing_of_it(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    batch = [item(1, track_id=t) for t in range(1, 4)]
    insert = sighting_queries.insert_sighting
    inserted: list[int] = []

    def fail_the_third(session: object, row: object) -> object:
        inserted.append(1)
        if len(inserted) == 3:
            raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
        return insert(session, row)  # type: ignore[arg-type]

    monkeypatch.setattr(sighting_queries, "insert_sighting", fail_the_third)
    monkeypatch.setattr(sighting_queries, "insert_sightings", away_mid_insert)  # the batch in one insert
    with pytest.raises(Unavailable):
        rt.sightings.add_sightings(batch)
    assert stored_keys(rt) == [] and crop_files(rt) == set()
    monkeypatch.undo()
    assert all(isinstance(o, SightingSaved) for o in rt.sightings.add_sightings(batch))
    assert len(stored_keys(rt)) == 3


class FailingBlobs:
    """A blob store that cannot write the crop `bad` (its disk full, its bucket away)."""

    def __init__(self, inner: BlobStore, bad: bytes) -> None:
        self._inner, self._bad = inner, bad

    def put(self, data: bytes, *, folder: str, suffix: str) -> BlobRef:
        if data == self._bad:
            raise Unavailable("the blob store is away")
        return self._inner.put(data, folder=folder, suffix=suffix)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_a_crop_that_cannot_be_written_stores_nothing_of_the_batch(rt: Runtime) -> None:
    batch = [item(1, track_id=t, crop=b"\xff\xd8 face %d \xff\xd9" % t) for t in range(1, 6)]
    store = SightingStore(rt.database, FailingBlobs(rt.blobs, batch[2][0].crop_jpeg))  # type: ignore[arg-type]
    with pytest.raises(Unavailable, match="blob store is away"):
        store.add_sightings(batch)
    assert stored_keys(rt) == [] and crop_files(rt) == set()  # the crops written went again


def away_mid_insert(session: object, rows: object) -> list[int]:
    """The batch's one insert, cut off by a server that closed the connection."""
    raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
