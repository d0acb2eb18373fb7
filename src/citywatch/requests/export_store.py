"""Export packages on disk: `<data_dir>/exports/<YYYY-MM-DD>/<name>.zip`, each recorded by a
row of `exports` (path relative to the exports root).

A package is built tmp → fsync → rename and then recorded; a crash in between leaves a whole
zip, or a `.tmp-*` file, that no row records. `clean_orphan_exports` removes those, so that no
export lies on disk as if it were complete without the record that puts it under retention.

An export touches the cameras of the request it fulfils; a user limited to some cameras sees
only exports wholly within that scope (citywatch.domain.access.within_scope), and none whose
request is gone (its cameras can no longer be told).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from citywatch.domain.access import within_scope
from citywatch.domain.audit import Actor
from citywatch.domain.errors import InvalidInput, NotFound, Unavailable
from citywatch.retention.segments import ORPHAN_GRACE_S
from citywatch.store.blobs import LocalBlobStore
from citywatch.store.db import Database
from citywatch.store.retention_tables import ExportRow, RequestRow

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
    cameras: list[str] | None
    """The cameras of the request it fulfils; None once that request is gone."""


def exports_page(
    db: Database, *, limit: int, before_id: int | None = None, visible_to: Actor | None = None
) -> list[ExportInfo]:
    """Recorded export packages, newest first, at most `limit`, ids below `before_id`; with
    `visible_to`, only those wholly within that actor's camera scope."""
    query = (
        select(ExportRow, RequestRow.cameras)
        .outerjoin(RequestRow, RequestRow.id == ExportRow.request_id)
        .order_by(ExportRow.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(ExportRow.id < before_id)
    with db.session(write=False) as session:
        if visible_to is not None and visible_to.cameras is not None:
            requests = session.execute(select(RequestRow.id, RequestRow.cameras)).all()
            visible = [i for i, cameras in requests if within_scope(visible_to, json.loads(cameras))]
            query = query.where(ExportRow.request_id.in_(visible))
        return [_export(row, cameras) for row, cameras in session.execute(query)]


def get_export(db: Database, export_id: int) -> ExportInfo:
    with db.session(write=False) as session:
        query = (
            select(ExportRow, RequestRow.cameras)
            .outerjoin(RequestRow, RequestRow.id == ExportRow.request_id)
            .where(ExportRow.id == export_id)
        )
        found = session.execute(query).first()
        if found is None:
            raise NotFound(f"no export with id {export_id}")
        return _export(*found)


def _export(row: ExportRow, cameras: str | None) -> ExportInfo:
    return ExportInfo(
        id=row.id,
        request_id=row.request_id,
        reference=row.reference,
        path=row.path,
        size=row.size,
        sha256=row.sha256,
        created_by=row.created_by,
        created_at=row.created_at,
        cameras=None if cameras is None else json.loads(cameras),
    )


def clean_orphan_exports(db: Database, root: Path, *, older_than_s: float = ORPHAN_GRACE_S) -> int:
    """Delete files under `root` that no `exports` row records (whole zips and temporary
    files of a package a crash interrupted); returns the count. Files changed within
    `older_than_s` are spared: a package may be being built or recorded right now."""
    if not (older_than_s >= 0 and math.isfinite(older_than_s)):
        raise InvalidInput(f"older_than_s must be a non-negative number, got {older_than_s}")
    files = LocalBlobStore(root)
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
