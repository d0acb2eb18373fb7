"""`Runtime.recover()`: export files no row records (a crash between building a package and
recording it) are removed, temporary ones too; per-day folders a purge emptied go at the next
recover, never today's, never one just made, never one with a file in it."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime
from citywatch.store.blobs import make_dirs, remove_empty_days
from citywatch.store.retention_tables import ExportRow
from tests.store.helpers import T0, files_under, sighting

DAY0 = T0.date().isoformat()


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


def age(*paths: Path, seconds: float = 3600) -> None:
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def record_export(rt: Runtime, relative: str, data: bytes, *, created_at: datetime) -> Path:
    path = rt.settings.data_dir / "exports" / relative
    make_dirs(path.parent)
    path.write_bytes(data)
    with rt.database.session() as session:
        session.add(
            ExportRow(
                request_id=None,
                reference="MET-7",
                path=relative,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                created_by="sam",
                created_at=created_at,
            )
        )
    return path


def test_export_files_no_row_records_are_removed_with_partial_ones(rt: Runtime) -> None:
    now = datetime.now(UTC)
    recorded = record_export(rt, f"{DAY0}/request-1-120000.zip", b"PK whole, recorded", created_at=now)
    folder = recorded.parent
    unrecorded = folder / "request-2-120500.zip"  # built, then the process died before recording it
    unrecorded.write_bytes(b"PK whole, never recorded")
    partial = folder / ".tmp-k3j_x9.zip"  # died while writing the package
    partial.write_bytes(b"PK half")
    being_built = folder / ".tmp-fresh01.zip"  # another process writing right now
    being_built.write_bytes(b"PK growing")
    age(recorded, unrecorded, partial)

    assert rt.recover() == 2
    assert sorted(p.name for p in folder.iterdir()) == [".tmp-fresh01.zip", "request-1-120000.zip"]
    assert recorded.read_bytes() == b"PK whole, recorded"
    assert rt.recover() == 0  # nothing more to do; the young file is left to its writer


def test_day_folders_a_purge_emptied_go_at_the_next_recover_never_todays(rt: Runtime) -> None:
    data = rt.settings.data_dir
    rt.sightings.add_sighting(sighting(camera_id="cam-1", start=T0))
    pending = rt.footage.begin_segment("cam-1", T0)
    pending.temp.write_bytes(b"mp4 segment")
    rt.footage.add_segment(pending, T0.replace(minute=1))
    record_export(rt, f"{DAY0}/request-1-120000.zip", b"PK", created_at=T0)
    now = datetime.now(UTC)
    rt.footage.discard(rt.footage.begin_segment("cam-1", now))  # today's folder, made, still empty
    for folder in (data / "blobs/crops" / today(), data / "exports" / today()):
        make_dirs(folder)
    old_days = [data / "footage/cam-1" / DAY0, data / "blobs/crops" / DAY0, data / "exports" / DAY0]
    assert all(d.is_dir() for d in old_days)

    receipt = rt.purge()  # everything of T0 has long expired
    assert receipt is not None and receipt.counts["sightings"] == receipt.counts["footage"] == 1
    assert files_under(data / "footage") == files_under(data / "exports") == []
    assert all(d.is_dir() for d in old_days)  # just emptied: a writer may still be about to use them

    age(*old_days)
    rt.recover()
    assert not any(d.exists() for d in old_days)
    assert (data / "footage/cam-1" / today()).is_dir()
    assert (data / "blobs/crops" / today()).is_dir() and (data / "exports" / today()).is_dir()
    assert (data / "footage/cam-1").is_dir()  # only day folders go


def test_remove_empty_days_spares_files_today_young_and_other_folders(tmp_path: Path) -> None:
    root = tmp_path / "root"
    empty_old = root / "cam-1" / "2026-03-01"
    with_file = root / "cam-1" / "2026-03-02"
    young = root / "cam-2" / "2026-03-01"
    todays = root / "cam-2" / "2026-11-27"
    not_a_day = root / "cam-3" / "misc"
    for folder in (empty_old, with_file, young, todays, not_a_day):
        folder.mkdir(parents=True)
    (with_file / "a.mp4").write_bytes(b"kept")
    age(empty_old, with_file, todays, not_a_day)

    assert remove_empty_days(root, keep={"2026-11-27"}, older_than_s=120) == 1
    assert not empty_old.exists()
    assert with_file.is_dir() and young.is_dir() and todays.is_dir() and not_a_day.is_dir()
    assert remove_empty_days(root, keep={"2026-11-27"}) == 1  # no grace: the young one goes too
    assert not young.exists() and todays.is_dir()
    assert remove_empty_days(tmp_path / "absent") == 0
