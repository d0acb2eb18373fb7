"""Export packages on disk: `<data_dir>/exports/<YYYY-MM-DD>/<name>.zip`, each recorded by a
row of `exports` (path relative to the exports root).

A package is built tmp → fsync → rename and then recorded; a crash in between leaves a whole
zip, or a `.tmp-*` file, that no row records. `clean_orphan_exports` removes those, so that no
export lies on disk as if it were complete without the record that puts it under retention.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from citywatch.domain.errors import InvalidInput, NotFound, Unavailable
from citywatch.store.blobs import BlobStore
from citywatch.store.db import Database
from citywatch.store.footage import ORPHAN_GRACE_S
from citywatch.store.tables import ExportRow

log = logging.getLogger(__name__)

EXPORTS_FOLDER = "exports"
"""The exports root's name under the data folder."""


@dataclass(frozen=True, slots=True)
class ExportInfo:
    """A recorded export package; `path` is relative to the exports root."""

    id: int
    request_id: int | None
    reference: str
    path: str
    size: int
    sha256: str
    created_by: str
    created_at: datetime


def exports_page(db: Database, *, limit: int, before_id: int | None = None) -> list[ExportInfo]:
    """Recorded export packages, newest first, at most `limit`, ids below `before_id`."""
    query = select(ExportRow).order_by(ExportRow.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(ExportRow.id < before_id)
    with db.session(write=False) as session:
        return [_export(row) for row in session.scalars(query)]


def get_export(db: Database, export_id: int) -> ExportInfo:
    with db.session(write=False) as session:
        row = session.get(ExportRow, export_id)
        if row is None:
            raise NotFound(f"no export with id {export_id}")
        return _export(row)


def _export(row: ExportRow) -> ExportInfo:
    return ExportInfo(
        id=row.id,
        request_id=row.request_id,
        reference=row.reference,
        path=row.path,
        size=row.size,
        sha256=row.sha256,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def clean_orphan_exports(db: Database, root: Path, *, older_than_s: float = ORPHAN_GRACE_S) -> int:
    """Delete files under `root` that no `exports` row records (whole zips and temporary
    files of a package a crash interrupted); returns the count. Files changed within
    `older_than_s` are spared: a package may be being built or recorded right now."""
    if not (older_than_s >= 0 and math.isfinite(older_than_s)):
        raise InvalidInput(f"older_than_s must be a non-negative number, got {older_than_s}")
    files = BlobStore(root)
    # Files first, then rows: a package recorded meanwhile is in the rows.
    candidates = files.orphans(set(), older_than_s=older_than_s)
    if not candidates:
        return 0
    with db.session(write=False) as session:
        recorded = set(session.scalars(select(ExportRow.path)))
    removed = 0
    for path in candidates:
        if path in recorded:
            continue
        try:
            removed += files.delete(path)
        except (Unavailable, InvalidInput):
            log.exception("cannot remove the unrecorded export file %s", path)
    if removed:
        log.info("removed %d export file(s) no export record names", removed)
    return removed
