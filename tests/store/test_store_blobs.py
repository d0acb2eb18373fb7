"""BlobStore: atomic, durable writes, safe paths, orphans, and disk-full handling."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from citywatch.domain.errors import InvalidInput, NotFound, Unavailable
from citywatch.store import blobs as blobs_module
from citywatch.store.blobs import TMP_SUFFIX, LocalBlobStore
from tests.store.helpers import files_under


def test_put_then_read_round_trips(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = os.urandom(10_000)
    ref = store.put(data, folder="crops/2026-03-01", suffix=".jpg")
    assert ref.path.startswith("crops/2026-03-01/")
    assert ref.path.endswith(".jpg")
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size == len(data)
    assert store.read(ref.path) == data
    assert store.absolute(ref.path) == tmp_path / "blobs" / "crops" / "2026-03-01" / Path(ref.path).name


def test_put_leaves_no_temporary_file_and_private_permissions(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    refs = [store.put(b"x" * n, folder="references", suffix="png") for n in range(1, 6)]
    files = files_under(tmp_path)
    assert [f.name for f in files] == sorted(Path(r.path).name for r in refs)
    assert not any(f.name.endswith(TMP_SUFFIX) for f in files)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_equal_content_gets_distinct_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    a = store.put(b"same", folder="crops", suffix=".jpg")
    b = store.put(b"same", folder="crops", suffix=".jpg")
    assert a.path != b.path
    assert a.sha256 == b.sha256
    store.delete(a.path)
    assert store.read(b.path) == b"same"


@pytest.mark.parametrize(
    ("folder", "suffix"),
    [
        ("../outside", ".jpg"),
        ("/etc", ".jpg"),
        ("crops/../../x", ".jpg"),
        ("crops/a b", ".jpg"),
        ("crops", ".j/pg"),
        ("crops", ""),
        ("crops", ".averyveryverylongsuffix"),
    ],
)
def test_unsafe_folders_and_suffixes_are_refused(tmp_path: Path, folder: str, suffix: str) -> None:
    with pytest.raises(InvalidInput):
        LocalBlobStore(tmp_path / "blobs").put(b"data", folder=folder, suffix=suffix)
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("path", ["../x.jpg", "/etc/passwd", "crops/../../x", "", "crops/.."])
def test_paths_outside_the_root_are_refused(tmp_path: Path, path: str) -> None:
    store = LocalBlobStore(tmp_path)
    for call in (store.absolute, store.read, store.delete):
        with pytest.raises(InvalidInput):
            call(path)


def test_read_missing_is_not_found_and_delete_missing_is_fine(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(NotFound):
        store.read("crops/nothing.jpg")
    assert store.delete("crops/nothing.jpg") is False
    ref = store.put(b"x", folder="crops", suffix=".jpg")
    assert store.delete(ref.path) is True
    assert not store.absolute(ref.path).exists()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_disk_full_is_unavailable_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    store = LocalBlobStore(tmp_path)

    def full(fd: int, data: bytes) -> None:
        os.write(fd, data[:3])  # a partial write happened before the disk filled
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(blobs_module, "_write_all", full)
    with pytest.raises(Unavailable, match="disk full while writing crops/2026-03-01/"):
        store.put(b"0123456789", folder="crops/2026-03-01", suffix=".jpg")
    assert files_under(tmp_path) == []


def test_a_failed_rename_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalBlobStore(tmp_path)

    def refuse(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(blobs_module.os, "replace", refuse)
    with pytest.raises(Unavailable, match="cannot write"):
        store.put(b"data", folder="crops", suffix=".jpg")
    monkeypatch.undo()
    assert files_under(tmp_path) == []


def test_orphans_are_unreferenced_files_including_temporaries(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    kept = store.put(b"a", folder="crops/2026-03-01", suffix=".jpg")
    lost = store.put(b"b", folder="crops/2026-03-02", suffix=".jpg")
    other = store.put(b"c", folder="references", suffix=".jpg")
    tmp = tmp_path / "crops" / "2026-03-01" / f".half-written.jpg{TMP_SUFFIX}"
    tmp.write_bytes(b"half")
    orphans = store.orphans({kept.path}, folder="crops")
    assert orphans == sorted([lost.path, f"crops/2026-03-01/.half-written.jpg{TMP_SUFFIX}"])
    assert other.path not in orphans
    assert store.orphans({kept.path, other.path}) == orphans
    for path in orphans:
        assert store.delete(path)
    assert store.orphans({kept.path}, folder="crops") == []


def test_orphans_spare_recent_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    old = store.put(b"old", folder="crops", suffix=".jpg")
    new = store.put(b"new", folder="crops", suffix=".jpg")
    an_hour_ago = time.time() - 3600
    os.utime(store.absolute(old.path), (an_hour_ago, an_hour_ago))
    assert store.orphans(set(), folder="crops", older_than_s=60) == [old.path]
    assert store.orphans(set(), folder="crops") == sorted([old.path, new.path])


def test_orphans_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert LocalBlobStore(tmp_path / "none").orphans(set(), folder="crops") == []


def test_puts_side_by_side_share_folder_fsyncs_and_each_is_covered_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A put returns only once an fsync of its folder that started after its rename has ended;
    puts running together share such fsyncs instead of queueing for one each."""
    store = LocalBlobStore(tmp_path / "blobs")
    synced: list[int] = []
    real = blobs_module.fsync_dir

    def counted(directory: Path) -> None:
        synced.append(len(list(directory.glob("*.jpg"))))  # the renames this fsync covers
        time.sleep(0.01)  # a disk's flush takes a while: others rename meanwhile
        real(directory)

    monkeypatch.setattr(blobs_module, "fsync_dir", counted)
    with ThreadPoolExecutor(16) as pool:
        refs = list(
            pool.map(lambda n: store.put(f"crop {n}".encode(), folder="crops/d", suffix=".jpg"), range(64))
        )
    assert all(store.read(ref.path) == f"crop {n}".encode() for n, ref in enumerate(refs))
    assert 0 < len(synced) < 64
    assert synced[-1] == 64  # the last fsync came after the last rename
