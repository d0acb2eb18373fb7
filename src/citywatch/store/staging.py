"""Files written before the rows that reference them: a blob is durable (fsynced) before the
transaction that names it commits, so a crash leaves either the row with its file or an
orphan file, which `clean_orphans` removes later (never one younger than ORPHAN_GRACE_S, nor
one whose row is being committed now)."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from citywatch.domain.errors import InvalidInput, Unavailable
from citywatch.store.blobs import BlobRef, BlobStore
from citywatch.store.db import Database

log = logging.getLogger(__name__)

ORPHAN_GRACE_S = 30.0
"""Blobs younger than this are never taken for orphans: their row may be about to commit."""
REFERENCES_FOLDER = "references"
CROPS_FOLDER = "crops"
REQUEST_PHOTOS_FOLDER = "requests"
"""Subject-access requesters' own photos, kept until each request is answered."""


class Staging:
    """The blobs of one store being committed, shielded from its orphan cleaning."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self._db = db
        self._blobs = blobs
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    @contextmanager
    def staged(self, blob: BlobRef) -> Iterator[None]:
        """While the row for `blob` is being committed: shield it from orphan cleaning, and
        delete it if the transaction fails."""
        with self._lock:
            self._pending.add(blob.path)
        try:
            yield
        except BaseException:
            try:
                self._blobs.delete(blob.path)
            except Exception:
                log.warning("cannot delete %s after a failed transaction", blob.path, exc_info=True)
            raise
        finally:
            with self._lock:
                self._pending.discard(blob.path)

    def unlink_after_commit(self, path: str) -> bool:
        """Unlink a file whose rows are gone already; one that cannot be unlinked now is left
        for the orphan cleaning rather than failing what removed its rows."""
        try:
            return self._blobs.delete(path)
        except Unavailable:
            log.exception("cannot unlink %s; the orphan cleaning will retry", path)
            return False

    def clean_orphans(
        self, folder: str, referenced: Callable[[Session], set[str]], older_than_s: float = ORPHAN_GRACE_S
    ) -> int:
        """Delete the files under `folder` that no row references (`referenced`) and that are
        older than `older_than_s`; returns the count."""
        if not (older_than_s >= 0 and math.isfinite(older_than_s)):
            raise InvalidInput(f"older_than_s must be a non-negative number, got {older_than_s}")
        # Files first, then in-flight blobs, then rows: a blob committed meanwhile is in the rows.
        candidates = self._blobs.orphans(set(), folder=folder, older_than_s=older_than_s)
        with self._lock:
            keep = set(self._pending)
        with self._db.session(write=False) as session:
            keep |= referenced(session)
        removed = sum(1 for path in candidates if path not in keep and self._blobs.delete(path))
        if removed:
            log.info("removed %d orphan files under %s", removed, folder)
        return removed


WORK_FOLDER = "tmp"
"""Under the data folder: the working files of an export being made (the unblurred cut of
a subject-access clip among them), removed when it ends, or by `clean_work_folder`."""
