"""Export packages on disk: `<data_dir>/exports/<YYYY-MM-DD>/<name>.zip`, each recorded by a
row of `exports` (path relative to the exports root).

A package is built tmp → fsync → rename and then recorded; a crash in between leaves a whole
zip, or a `.tmp-*` file, that no row records. `clean_orphan_exports` removes those, so that no
export lies on disk as if it were complete without the record that puts it under retention.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from sqlalchemy import select

from citywatch.domain.errors import InvalidInput, Unavailable
from citywatch.store.blobs import BlobStore
from citywatch.store.db import Database
from citywatch.store.footage import ORPHAN_GRACE_S
from citywatch.store.tables import ExportRow

log = logging.getLogger(__name__)

EXPORTS_FOLDER = "exports"
"""The exports root's name under the data folder."""


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
