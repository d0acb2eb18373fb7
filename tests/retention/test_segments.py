"""FootageStore: a segment is placed and indexed whole or not at all; found by overlap; deleted
physically; files a crash left without a row are cleaned on the next start."""

from __future__ import annotations

import errno
import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.domain.errors import Conflict, Fenced, InvalidInput, NotFound, Unavailable
from citywatch.domain.footage import PendingSegment, Segment
from citywatch.retention import segments as footage_module
from citywatch.retention.segments import FencedSegments, FootageStore
from citywatch.store.db import Database
from citywatch.store.retention_tables import RecordingRow

T0 = datetime(2026, 11, 27, 8, tzinfo=UTC)


@pytest.fixture
def footage(db: Database, tmp_path: Path) -> FootageStore:
    return FootageStore(db, tmp_path / "footage")


def write(store: FootageStore, started_at: datetime, seconds: float = 60, data: bytes = b"mp4") -> Segment:
    pending = store.begin_segment("cam", started_at)
    pending.temp.write_bytes(data)
    return store.add_segment(pending, started_at + timedelta(seconds=seconds))


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_segment_is_placed_in_its_day_folder_and_indexed(footage: FootageStore) -> None:
    segment = write(footage, T0, data=b"whole segment")
    assert segment.path == "cam/2026-11-27/20261127T080000.000000Z.mp4"
    assert segment.day == "2026-11-27"
    assert segment.size == 13 and segment.sha256 == hashlib.sha256(b"whole segment").hexdigest()
    assert footage.absolute(segment.path).read_bytes() == b"whole segment"
    assert files_under(footage.root) == [segment.path]
    assert footage.segment(segment.id) == segment
    assert footage.has_footage("cam") and not footage.has_footage("other")


def test_segments_are_found_by_overlap_oldest_first(footage: FootageStore) -> None:
    a, b, c = (write(footage, T0 + timedelta(minutes=m)) for m in (0, 1, 2))
    minute = timedelta(minutes=1)
    assert footage.segments("cam", T0, T0 + 3 * minute) == [a, b, c]
    assert footage.segments("cam", T0 + timedelta(seconds=90), T0 + timedelta(seconds=91)) == [b]
    assert footage.segments("cam", T0 + minute, T0 + 2 * minute) == [b]  # touching ends do not overlap
    assert footage.segments("cam", T0 - minute, T0) == []
    assert footage.segments("other", T0, T0 + 3 * minute) == []


def test_two_segments_starting_together_get_their_own_files(footage: FootageStore) -> None:
    first = footage.begin_segment("cam", T0)
    second = footage.begin_segment("cam", T0)
    assert first.path != second.path and first.temp != second.temp
    footage.discard(first)
    footage.discard(second)


@pytest.mark.parametrize(
    ("camera", "started_at", "error"),
    [
        ("..", T0, InvalidInput),
        (".hidden", T0, InvalidInput),
        ("a/b", T0, InvalidInput),
        ("cam", T0.replace(tzinfo=None), InvalidInput),
    ],
)
def test_bad_segments_are_refused(
    footage: FootageStore, camera: str, started_at: datetime, error: type[Exception]
) -> None:
    with pytest.raises(error):
        footage.begin_segment(camera, started_at)


def test_a_segment_ending_before_it_starts_is_refused_and_removed(footage: FootageStore) -> None:
    pending = footage.begin_segment("cam", T0)
    pending.temp.write_bytes(b"x")
    with pytest.raises(InvalidInput, match="before it starts"):
        footage.add_segment(pending, T0 - timedelta(seconds=1))
    assert files_under(footage.root) == []


@pytest.mark.parametrize("step", ["sync_and_hash", "replace", "fsync_dir"])
def test_disk_full_while_placing_leaves_no_row_and_no_file(
    footage: FootageStore, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    pending = footage.begin_segment("cam", T0)
    pending.temp.write_bytes(b"partial")

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if step == "replace":
        monkeypatch.setattr(footage_module.os, "replace", full)
    else:
        monkeypatch.setattr(footage_module, step, full)
    with pytest.raises(Unavailable, match="disk full while writing footage cam/2026-11-27/"):
        footage.add_segment(pending, T0 + timedelta(seconds=60))
    monkeypatch.undo()
    assert files_under(footage.root) == []
    assert footage.segments("cam", T0, T0 + timedelta(hours=1)) == []


def test_a_database_failure_removes_the_placed_file(footage: FootageStore, db: Database) -> None:
    first = write(footage, T0)
    pending = footage.begin_segment("cam", T0 + timedelta(minutes=1))
    pending.temp.write_bytes(b"x")
    with db.session() as session:  # a row already holds the path: the insert fails
        row = session.get(RecordingRow, first.id)
        assert row is not None
        row.path = pending.path
    with pytest.raises(Conflict, match="clashes"):
        footage.add_segment(pending, T0 + timedelta(minutes=2))
    assert not footage.absolute(pending.path).exists() and not pending.temp.exists()


def test_deleting_segments_removes_rows_then_files(footage: FootageStore) -> None:
    a, b = write(footage, T0), write(footage, T0 + timedelta(minutes=1))
    assert footage.delete_segments([a.id, 999]) == [a]
    assert footage.segments("cam", T0, T0 + timedelta(hours=1)) == [b]
    assert files_under(footage.root) == [b.path]
    with pytest.raises(NotFound):
        footage.segment(a.id)


def test_rows_removed_in_the_callers_transaction_then_files_unlinked(
    footage: FootageStore, db: Database
) -> None:
    a = write(footage, T0)
    with db.session() as session:
        removed = footage.remove_rows(session, [a.id])
    assert removed == [a]
    assert files_under(footage.root) == [a.path]  # files go only after the commit
    assert footage.unlink(removed) == 1
    assert footage.unlink(removed) == 0
    assert files_under(footage.root) == []


def test_what_a_crash_left_is_cleaned_on_the_next_start(db: Database, tmp_path: Path) -> None:
    before = FootageStore(db, tmp_path / "footage")
    kept = write(before, T0)
    interrupted = before.begin_segment("cam", T0 + timedelta(minutes=1))  # crash while writing
    interrupted.temp.write_bytes(b"half a segment")
    unindexed = before.begin_segment("cam", T0 + timedelta(minutes=2))  # crash after the rename
    unindexed.temp.write_bytes(b"a whole segment")
    placed = before.absolute(unindexed.path)
    unindexed.temp.rename(placed)
    for path in (interrupted.temp, placed):
        age(path, 600)

    after = FootageStore(db, tmp_path / "footage")  # the next start
    assert after.clean_orphans() == 2
    assert files_under(after.root) == [kept.path]
    assert after.segments("cam", T0, T0 + timedelta(hours=1)) == [kept]


def test_files_being_written_are_not_taken_for_orphans(footage: FootageStore, db: Database) -> None:
    writing = footage.begin_segment("cam", T0)
    writing.temp.write_bytes(b"being written")
    age(writing.temp, 600)
    assert footage.clean_orphans(older_than_s=0) == 0  # this store is writing it
    fresh: PendingSegment = footage.begin_segment("cam", T0 + timedelta(minutes=1))
    fresh.temp.write_bytes(b"just started")
    other = FootageStore(db, footage.root)  # another process sees the files, not what is pending
    assert other.clean_orphans() == 1  # the old one; the fresh one is within the grace period
    assert files_under(footage.root) == [f"cam/2026-11-27/{fresh.temp.name}"]
    footage.discard(fresh)
    footage.discard(writing)


def test_a_segment_under_a_superseded_lease_is_refused_and_leaves_nothing(footage: FootageStore) -> None:
    new, old = FencedSegments(footage, token=9), FencedSegments(footage, token=4)
    kept = new.begin_segment("cam", T0)
    kept.temp.write_bytes(b"the camera's holder")
    segment = new.add_segment(kept, T0 + timedelta(seconds=60))
    late = old.begin_segment("cam", T0 + timedelta(minutes=1))  # its last holder, still recording
    late.temp.write_bytes(b"written after it lost the camera")
    with pytest.raises(Fenced, match="superseded"):
        old.add_segment(late, T0 + timedelta(minutes=2))
    assert footage.segments("cam", T0, T0 + timedelta(hours=1)) == [segment]
    assert files_under(footage.root) == [segment.path]
