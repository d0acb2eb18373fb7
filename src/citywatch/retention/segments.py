"""Footage segments on disk and their index (`recordings`): placed durably, found by time,
deleted physically, orphans cleaned.

Layout: `<root>/<camera>/<YYYY-MM-DD>/<start>.mp4` (root = `<data_dir>/footage`), one folder
per camera and UTC day, so that a purge removes whole days. `Segment.path` is relative to the
root. A segment is written to a temporary file beside its final place (`.<name>.tmp`),
fsynced, renamed into place, its folder fsynced, and only then indexed: a crash leaves a whole
indexed segment, or a file without a row that `clean_orphans` removes on the next start.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from citywatch.domain.clock import Clock, utc_now
from citywatch.domain.errors import Fenced, InvalidInput, NotFound, Unavailable
from citywatch.domain.footage import PendingSegment, Segment
from citywatch.store.blobs import TMP_SUFFIX, LocalBlobStore, fsync_dir, make_dirs
from citywatch.store.db import Database
from citywatch.store.retention_tables import RecordingRow
from citywatch.store.sighting_queries import pass_fence

log = logging.getLogger(__name__)

FOOTAGE_FOLDER = "footage"
"""The footage root's name under the data folder."""
ORPHAN_GRACE_S = 120.0
"""Files younger than this are never taken for orphans: another process may be writing them."""
_CAMERA = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_CHUNK = 1 << 20


def describe_os_error(exc: OSError) -> str:
    """`disk full` for ENOSPC/EDQUOT, else the system's reason."""
    if exc.errno in _DISK_FULL:
        return "disk full"
    return exc.strerror or str(exc) or type(exc).__name__


def sync_and_hash(path: Path) -> tuple[int, str]:
    """fsync a written file; return its size and SHA-256 (read back from the page cache)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("r+b") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
        os.fsync(file.fileno())
    return size, digest.hexdigest()


def unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("cannot remove %s", path, exc_info=True)


class FootageArchive(Protocol):
    """Where placed segments are kept off this machine (S3-compatible object storage,
    `store.s3`), under the same relative paths."""

    url: str

    def put_file(self, path: str, source: Path, *, sha256: str) -> None: ...

    def download(self, path: str, target: Path) -> None: ...

    def exists(self, path: str) -> bool: ...

    def delete(self, path: str) -> bool: ...

    def orphans(self, referenced: set[str], *, folder: str = "", older_than_s: float = 0.0) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Spool:
    """Segments placed and indexed on this machine, not yet in the archive."""

    segments: int = 0
    bytes: int = 0
    oldest_s: float = 0.0
    """Age of the oldest, by its file's time."""
    last_error: str | None = None
    """Why the last upload failed, until one succeeds."""


class FootageStore:
    """Footage files under `root`, indexed in the `recordings` table; with an `archive`,
    `root` is a spool: `archive_spooled` moves each placed segment to the archive, and a
    segment is read from wherever it lies (`local_file`).

    For the purge: `remove_rows` (inside the caller's transaction, with its receipt) and then
    `unlink` after the commit; or `delete_segments`, which does both. Either way a crash in
    between leaves files without rows, which `clean_orphans` deletes (in the archive too).
    """

    def __init__(
        self, db: Database, root: Path, *, clock: Clock = utc_now, archive: FootageArchive | None = None
    ) -> None:
        self._db = db
        self._files = LocalBlobStore(root)
        self._clock = clock
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()
        self._archive = archive
        self._moving = threading.Lock()
        """Held while one segment moves to the archive, and while segments are unlinked: a
        purge never races an upload into leaving an object behind."""
        self._archive_error: str | None = None

    @property
    def root(self) -> Path:
        return self._files.root

    def absolute(self, path: str) -> Path:
        """The file behind a segment's relative path; paths leaving the root are refused."""
        return self._files.absolute(path)

    # --- writing ----------------------------------------------------------------------------

    def begin_segment(self, camera_id: str, started_at: datetime) -> PendingSegment:
        """A temporary file for a segment of `camera_id` starting at `started_at`, in the
        folder of its UTC day (created durably). Raises `Unavailable` when it cannot be made."""
        camera = _camera(camera_id)
        started = _aware(started_at, "started_at")
        day = started.strftime("%Y-%m-%d")
        folder = self.root / camera / day
        try:
            make_dirs(folder)
        except OSError as exc:
            raise Unavailable(
                f"cannot create {folder} for camera {camera}'s footage: {describe_os_error(exc)}"
            ) from exc
        stem = started.strftime("%Y%m%dT%H%M%S.%fZ")
        with self._pending_lock:
            for n in range(1, 1000):
                name = f"{stem}.mp4" if n == 1 else f"{stem}-{n}.mp4"
                path = f"{camera}/{day}/{name}"
                temp = folder / f".{name}{TMP_SUFFIX}"
                if path not in self._pending and not (folder / name).exists() and not temp.exists():
                    break
            else:  # pragma: no cover - a thousand segments starting in the same microsecond
                raise Unavailable(f"camera {camera}: no free name for a segment at {stem}")
            self._pending.update((path, _temp_path(path)))
        try:  # created here, its owner's alone (0600): the writer (PyAV) truncates and keeps the mode
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        except OSError as exc:
            with self._pending_lock:
                self._pending.difference_update((path, _temp_path(path)))
            raise Unavailable(
                f"cannot create {temp} for camera {camera}'s footage: {describe_os_error(exc)}"
            ) from exc
        return PendingSegment(camera_id=camera, started_at=started, path=path, temp=temp)

    def add_segment(
        self, pending: PendingSegment, ended_at: datetime, *, token: int | None = None
    ) -> Segment:
        """fsync the written temporary file, hash it, rename it into place, fsync its folder,
        and index it. On failure both files are removed, no row is written, and `Unavailable`
        (disk full, I/O error, database error) or `InvalidInput` is raised. With a camera
        lease's `token` (a city's worker), a segment made under a superseded token is refused
        in the index's transaction (`Fenced`), and its files removed."""
        final = self.absolute(pending.path)
        placed = False
        try:
            ended = _aware(ended_at, "ended_at")
            if ended < pending.started_at:
                raise InvalidInput(
                    f"segment {pending.path} ends ({ended.isoformat()}) before it starts "
                    f"({pending.started_at.isoformat()})"
                )
            try:
                size, digest = sync_and_hash(pending.temp)
                os.replace(pending.temp, final)
                placed = True
                fsync_dir(final.parent)
            except OSError as exc:
                raise Unavailable(
                    f"{describe_os_error(exc)} while writing footage {pending.path} under {self.root}"
                ) from exc
            with self._db.session() as session:
                if token is not None and not pass_fence(session, pending.camera_id, token, self._clock()):
                    raise Fenced(f"camera {pending.camera_id}: segment made under a superseded lease")
                row = RecordingRow(
                    camera_id=pending.camera_id,
                    day=pending.started_at.strftime("%Y-%m-%d"),
                    started_at=pending.started_at,
                    ended_at=ended,
                    path=pending.path,
                    size=size,
                    sha256=digest,
                    created_at=self._clock(),
                )
                session.add(row)
                session.flush()
                segment = _segment(row)
        except BaseException:
            unlink_quietly(pending.temp)
            if placed:
                unlink_quietly(final)
            raise
        finally:
            self._release(pending)
        return segment

    def discard(self, pending: PendingSegment) -> None:
        """Remove an unfinished segment's temporary file (and its place, if it got that far)."""
        unlink_quietly(pending.temp)
        self._release(pending)

    # --- reading ----------------------------------------------------------------------------

    def segments(self, camera_id: str, since: datetime, until: datetime) -> list[Segment]:
        """The segments of `camera_id` that overlap [since, until), oldest first."""
        start, end = _aware(since, "since"), _aware(until, "until")
        with self._db.session(write=False) as session:
            rows = session.scalars(
                select(RecordingRow)
                .where(
                    RecordingRow.camera_id == camera_id,
                    RecordingRow.started_at < end,
                    RecordingRow.ended_at > start,
                )
                .order_by(RecordingRow.started_at, RecordingRow.id)
            ).all()
            return [_segment(r) for r in rows]

    def segment(self, segment_id: int) -> Segment:
        with self._db.session(write=False) as session:
            row = session.get(RecordingRow, segment_id)
            if row is None:
                raise NotFound(f"no footage segment #{segment_id}")
            return _segment(row)

    def has_footage(self, camera_id: str) -> bool:
        """Whether any segment of `camera_id` is indexed."""
        with self._db.session(write=False) as session:
            return (
                session.scalars(
                    select(RecordingRow.id).where(RecordingRow.camera_id == camera_id).limit(1)
                ).first()
                is not None
            )

    # --- deleting ---------------------------------------------------------------------------

    def remove_rows(self, session: Session, segment_ids: Collection[int]) -> list[Segment]:
        """Delete the index rows of `segment_ids` in the caller's transaction; returns what they
        were (paths and hashes, for a receipt). Call `unlink` with them once it commits."""
        if not segment_ids:
            return []
        rows = session.scalars(select(RecordingRow).where(RecordingRow.id.in_(list(segment_ids)))).all()
        removed = [_segment(r) for r in rows]
        session.execute(delete(RecordingRow).where(RecordingRow.id.in_([s.id for s in removed])))
        return sorted(removed, key=lambda s: (s.started_at, s.id))

    def unlink(self, segments: Iterable[Segment]) -> int:
        """Delete the segments' files physically (unlink, folder fsynced; in the archive with
        every version); returns how many were there. A file that cannot be deleted now is
        logged and left for `clean_orphans`."""
        removed = 0
        for segment in segments:
            try:
                removed += self.delete_file(segment.path)
            except Unavailable:
                log.exception("cannot delete %s; clean_orphans will retry", segment.path)
        return removed

    def delete_file(self, path: str) -> bool:
        """Delete one segment's file wherever it lies (the spool, the archive with every
        version); False when it was nowhere. `Unavailable` when it cannot be deleted now."""
        with self._moving:
            here = self._files.delete(path)
            there = self._archive is not None and self._archive.delete(path)
        return here or there

    def delete_segments(self, segment_ids: Collection[int]) -> list[Segment]:
        """Delete rows, then files, of `segment_ids`; returns the segments deleted."""
        with self._db.session() as session:
            removed = self.remove_rows(session, segment_ids)
        self.unlink(removed)
        return removed

    def clean_orphans(self, *, older_than_s: float = ORPHAN_GRACE_S) -> int:
        """Delete files under the root that no row references: temporary files of a segment a
        crash interrupted, and segments placed but never indexed. Returns the count."""
        if not (older_than_s >= 0 and math.isfinite(older_than_s)):
            raise InvalidInput(f"older_than_s must be a non-negative number, got {older_than_s}")
        # Files first, then in-flight ones, then rows: a segment indexed meanwhile is in the rows.
        candidates = self._files.orphans(set(), older_than_s=older_than_s)
        with self._pending_lock:
            keep = set(self._pending)
        with self._db.session(write=False) as session:
            keep |= set(session.scalars(select(RecordingRow.path)).all())
        removed = 0
        for path in candidates:
            if path in keep:
                continue
            try:
                removed += self._files.delete(path)
            except Unavailable:
                log.exception("cannot remove orphan footage file %s", path)
        removed += self._clean_archive(keep, older_than_s)
        if removed:
            log.info("removed %d footage file(s) left without an index row", removed)
        return removed

    def _clean_archive(self, keep: set[str], older_than_s: float) -> int:
        if self._archive is None:
            return 0
        try:
            with self._moving:
                gone = self._archive.orphans(keep, older_than_s=older_than_s)
                return sum(self._archive.delete(path) for path in gone)
        except Unavailable:
            log.exception("cannot clean the footage archive %s; the next round retries", self._archive.url)
            return 0

    # --- the archive ------------------------------------------------------------------------

    def archive_spooled(self, *, limit: int = 100) -> int:
        """Move up to `limit` placed and indexed segments from the spool to the archive,
        oldest first, each removed here once the archive holds it whole; returns how many
        moved. Stops at the first failure, remembered (`spool`) until an upload succeeds, so
        that recording goes on into the spool while the archive is away."""
        if self._archive is None:
            return 0
        moved = 0
        for path in self._spooled()[:limit]:
            with self._moving:
                with self._db.session(write=False) as session:
                    digest = session.scalars(
                        select(RecordingRow.sha256).where(RecordingRow.path == path)
                    ).first()
                local = self.absolute(path)
                if digest is None or not local.is_file():
                    continue  # purged meanwhile, or not indexed yet
                try:
                    self._archive.put_file(path, local, sha256=digest)
                except Unavailable as exc:
                    self._archive_error = str(exc)
                    log.warning("footage stays in the spool: %s", exc)
                    return moved
                unlink_quietly(local)
            self._archive_error = None
            moved += 1
        return moved

    def spool(self) -> Spool | None:
        """What waits in the spool for the archive; None without an archive (no spool)."""
        if self._archive is None:
            return None
        now = time.time()
        sizes, oldest = 0, now
        paths = self._spooled()
        for path in paths:
            try:
                stat = self.absolute(path).stat()
            except FileNotFoundError:
                continue
            sizes += stat.st_size
            oldest = min(oldest, stat.st_mtime)
        return Spool(len(paths), sizes, max(0.0, now - oldest), self._archive_error)

    def _spooled(self) -> list[str]:
        """Placed segment files in the spool (not the temporary ones being written), oldest
        name first (names are start times)."""
        placed = [p for p in self._files.orphans(set()) if not p.rpartition("/")[2].startswith(".")]
        return sorted(placed, key=lambda p: p.rpartition("/")[2])

    def has_file(self, segment: Segment) -> bool:
        """Whether the segment's file lies in the spool or the archive."""
        if self.absolute(segment.path).is_file():
            return True
        return self._archive is not None and self._archive.exists(segment.path)

    @contextmanager
    def local_file(self, segment: Segment, work: Path) -> Iterator[Path]:
        """The segment as a file to read: its own in the spool, else a copy from the archive
        in the folder `work`, removed afterwards. `NotFound` when it lies in neither."""
        here = self.absolute(segment.path)
        if here.is_file():
            yield here
            return
        if self._archive is None:
            raise NotFound(
                f"segment #{segment.id} of camera {segment.camera_id}: its file {segment.path} is missing"
            )
        copy = work / f".segment-{segment.id}-{uuid.uuid4().hex[:8]}.mp4"
        try:
            try:
                self._archive.download(segment.path, copy)
            except NotFound:
                raise NotFound(
                    f"segment #{segment.id} of camera {segment.camera_id}: its file {segment.path} is "
                    f"missing from the spool and from {self._archive.url}"
                ) from None
            yield copy
        finally:
            unlink_quietly(copy)

    def _release(self, pending: PendingSegment) -> None:
        with self._pending_lock:
            self._pending.difference_update((pending.path, _temp_path(pending.path)))


def _temp_path(path: str) -> str:
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name}{TMP_SUFFIX}"


def _camera(camera_id: str) -> str:
    if not _CAMERA.match(camera_id):
        raise InvalidInput(
            f"camera id {camera_id!r} cannot name a footage folder (letters, digits, _ . -; "
            "not starting with a dot)"
        )
    return camera_id


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be a timezone-aware datetime, got {value.isoformat()}")
    return value.astimezone(UTC)


def _segment(row: RecordingRow) -> Segment:
    return Segment(
        id=row.id,
        camera_id=row.camera_id,
        day=row.day,
        started_at=row.started_at,
        ended_at=row.ended_at,
        path=row.path,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
    )


@dataclass(frozen=True, slots=True)
class FencedSegments:
    """A city worker's recorder sink: each segment indexed under the camera lease's token."""

    footage: FootageStore
    token: int

    def begin_segment(self, camera_id: str, started_at: datetime) -> PendingSegment:
        return self.footage.begin_segment(camera_id, started_at)

    def add_segment(self, pending: PendingSegment, ended_at: datetime) -> Segment:
        return self.footage.add_segment(pending, ended_at, token=self.token)

    def discard(self, pending: PendingSegment) -> None:
        self.footage.discard(pending)
