"""The blob store for crops, reference images and requesters' photos: the seam
(`BlobStore`) and its embedded adapter, files under one root (`LocalBlobStore`); the
scale-out adapter is S3-compatible object storage (`store.s3`), chosen by the `storage`
setting (`open_blobs`).

A local blob is written to a temporary file in its final folder, flushed and fsynced, renamed
into place, and the folder fsynced; a crash leaves the old state or the whole new file,
never a torn one. Paths handed out are relative to the store's root, with `/` separators,
the same on every adapter: a row names its blob the same way wherever the blob lies.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from citywatch.domain.errors import InvalidInput, NotFound, Unavailable

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
_SEGMENT = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.][A-Za-z0-9_.-]{0,119}$")
SUFFIX = re.compile(r"^\.?([A-Za-z0-9]{1,10})$")
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class BlobRef:
    path: str
    """Relative to the store's root, `/`-separated."""
    sha256: str
    size: int


class BlobStore(Protocol):
    """Where blobs lie: written whole and durably before `put` returns, read back, deleted
    with every old version, listed for orphans. Raises `InvalidInput` for a bad path,
    `NotFound` for a missing blob, `Unavailable` when the storage cannot be reached or is full."""

    def put(self, data: bytes, *, folder: str, suffix: str) -> BlobRef:
        """Write `data` to a new blob in `folder` (a unique name) and return where it lies."""
        ...

    def read(self, path: str) -> bytes: ...

    def exists(self, path: str) -> bool: ...

    def delete(self, path: str) -> bool:
        """Delete a blob physically, with every version the storage keeps; False when it was
        already gone."""
        ...

    def orphans(self, referenced: set[str], *, folder: str = "", older_than_s: float = 0.0) -> list[str]:
        """Blobs under `folder` not in `referenced` and older than `older_than_s`, sorted."""
        ...

    def locator(self, path: str) -> str:
        """Where a person finds the blob: a file's absolute path, or an object's URL."""
        ...

    def sweep_empty_days(self, folder: str, *, keep: Collection[str], older_than_s: float) -> int:
        """Remove the per-day folders under `folder` that a purge emptied (none on object
        storage, which has no folders); returns how many went."""
        ...


class LocalBlobStore:
    """Files under `root`; folders are created on first use."""

    def __init__(self, root: Path) -> None:
        self._root = root.absolute()
        self._renamed: dict[Path, int] = {}
        """Per folder: how many files have been renamed into it (a rename's number)."""
        self._synced: dict[Path, int] = {}
        """Per folder: the renames its latest folder fsync covers (all numbered up to it)."""
        self._count_lock = threading.Lock()
        self._sync_locks: dict[Path, threading.Lock] = {}

    @property
    def root(self) -> Path:
        return self._root

    def put(self, data: bytes, *, folder: str, suffix: str) -> BlobRef:
        """Write `data` durably to a new file in `folder` and return where it lies."""
        rel_folder, name, digest = new_blob(data, folder=folder, suffix=suffix)
        directory = self._root.joinpath(*rel_folder.parts)
        rel = (rel_folder / name).as_posix()
        final = directory / name
        tmp = directory / f".{name}{TMP_SUFFIX}"
        placed = False
        try:
            make_dirs(directory)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
            placed = True
            self._sync_folder(directory)
        except OSError as exc:
            _unlink_quietly(tmp)
            if placed:
                _unlink_quietly(final)
            if exc.errno in _DISK_FULL:
                raise Unavailable(f"disk full while writing {rel} under {self._root}") from exc
            raise Unavailable(f"cannot write {rel} under {self._root}: {exc.strerror or exc}") from exc
        return BlobRef(path=rel, sha256=digest, size=len(data))

    def _sync_folder(self, directory: Path) -> None:
        """Make the latest rename into `directory` durable (fsync the folder), once for all the
        puts renamed there meanwhile: a folder fsync that starts after a rename covers it, so
        puts side by side (a batch of crops) share one instead of queueing for one each."""
        with self._count_lock:
            mine = self._renamed[directory] = self._renamed.get(directory, 0) + 1
            lock = self._sync_locks.setdefault(directory, threading.Lock())
        with lock:
            with self._count_lock:
                if self._synced.get(directory, 0) >= mine:
                    return  # an fsync that started after this rename has finished
                covers = self._renamed[directory]
            fsync_dir(directory)
            with self._count_lock:
                self._synced[directory] = max(self._synced.get(directory, 0), covers)

    def read(self, path: str) -> bytes:
        target = self.absolute(path)
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"blob {path} not found under {self._root}") from None
        except OSError as exc:
            raise Unavailable(f"cannot read blob {path}: {exc.strerror or exc}") from exc

    def absolute(self, path: str) -> Path:
        """The file behind a relative blob path; paths leaving the root are refused."""
        if not path:
            raise InvalidInput("blob path is empty")
        return self._root.joinpath(*relative(path, what="path").parts)

    def exists(self, path: str) -> bool:
        return self.absolute(path).is_file()

    def locator(self, path: str) -> str:
        return str(self.absolute(path))

    def sweep_empty_days(self, folder: str, *, keep: Collection[str], older_than_s: float) -> int:
        base = self._root.joinpath(*relative(folder, what="folder").parts) if folder else self._root
        return remove_empty_days(base, keep=keep, older_than_s=older_than_s)

    def delete(self, path: str) -> bool:
        """Unlink a blob (durably); False when it was already gone."""
        target = self.absolute(path)
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise Unavailable(f"cannot delete blob {path}: {exc.strerror or exc}") from exc
        try:
            fsync_dir(target.parent)
        except OSError:
            log.warning("cannot fsync %s after deleting a blob", target.parent, exc_info=True)
        return True

    def orphans(self, referenced: set[str], *, folder: str = "", older_than_s: float = 0.0) -> list[str]:
        """Files under `folder` (recursively) that are not in `referenced`, sorted.

        Left-over temporary files count as orphans. `older_than_s` spares files modified
        more recently, so a blob written just before its row is committed is not taken.
        """
        base = self._root.joinpath(*relative(folder, what="folder").parts) if folder else self._root
        if not base.is_dir():
            return []
        cutoff = time.time() - older_than_s
        found: list[str] = []
        for dirpath, _dirnames, filenames in os.walk(base):
            for filename in filenames:
                full = Path(dirpath) / filename
                rel = full.relative_to(self._root).as_posix()
                if rel in referenced:
                    continue
                try:
                    if older_than_s > 0 and full.stat().st_mtime > cutoff:
                        continue
                except FileNotFoundError:
                    continue
                found.append(rel)
        return sorted(found)


def new_blob(data: bytes, *, folder: str, suffix: str) -> tuple[PurePosixPath, str, str]:
    """A new blob's folder (checked), unique name and SHA-256, the same on every adapter."""
    rel_folder = relative(folder, what="folder")
    match = SUFFIX.match(suffix)
    if match is None:
        raise InvalidInput(f"blob suffix {suffix!r} is not a short alphanumeric extension")
    digest = hashlib.sha256(data).hexdigest()
    return rel_folder, f"{digest[:16]}-{uuid.uuid4().hex[:16]}.{match.group(1).lower()}", digest


def relative(path: str, *, what: str) -> PurePosixPath:
    pure = PurePosixPath(path.replace("\\", "/"))
    if path and (pure.is_absolute() or not all(_SEGMENT.match(part) for part in pure.parts)):
        raise InvalidInput(f"blob {what} {path!r} must be relative, without '..' or unusual characters")
    return pure


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def make_dirs(directory: Path) -> None:
    """Create `directory` and its missing parents, each new entry made durable in its parent
    before anything is put in it."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=0o700)
        except FileExistsError:
            continue
        fsync_dir(new.parent)


def remove_empty_days(root: Path, *, keep: Collection[str] = (), older_than_s: float = 0.0) -> int:
    """Remove the empty per-day folders (named `YYYY-MM-DD`, at any depth) under `root` that
    a purge emptied; returns how many went.

    Folders named in `keep` (today's: a writer may be about to use it) and folders changed
    within `older_than_s` (one just made for a file about to be written) are spared. `rmdir`
    itself refuses a folder that is not empty, so a file placed meanwhile is never lost.
    """
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for dirpath, _dirnames, _filenames in os.walk(root, topdown=False):
        folder = Path(dirpath)
        if folder == root or not _DAY.match(folder.name) or folder.name in keep:
            continue
        try:
            if older_than_s > 0 and folder.stat().st_mtime > cutoff:
                continue
            folder.rmdir()
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno not in {errno.ENOTEMPTY, errno.EEXIST}:
                log.warning("cannot remove the empty folder %s: %s", folder, exc.strerror or exc)
            continue
        removed += 1
        try:
            fsync_dir(folder.parent)
        except OSError:
            log.warning("cannot fsync %s after removing an empty folder", folder.parent, exc_info=True)
    return removed


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new entry in `directory` durable."""
    if os.name == "nt":  # Windows cannot open folders for fsync; NTFS journals renames.
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("cannot remove %s", path, exc_info=True)
