"""What a crash leaves behind, tidied at start: files written before a row that never
committed (or whose row a purge deleted before the unlink), and the per-day folders purges
emptied (never today's)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from citywatch.retention.segments import ORPHAN_GRACE_S
from citywatch.store.blobs import BlobStore, remove_empty_days

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Orphans:
    cleaners: Sequence[Callable[[], int]]
    """Each removes one kind of file left without its row (crops, references, requester photos,
    footage, exports, working files) and says how many."""
    day_folders: Sequence[Path]
    """Roots of per-day folders (footage, exports) whose emptied days go."""
    blob_day_folders: Sequence[tuple[BlobStore, str]] = field(default=())
    """Folders of per-day folders in a blob store (crops), swept by the store itself."""

    def recover(self, today: date) -> int:
        """Remove the orphan files, then the empty per-day folders; returns the files removed."""
        removed = sum(clean() for clean in self.cleaners)
        if removed:
            log.info("removed %d file(s) left without a database row by an earlier crash", removed)
        keep = {today.isoformat()}
        folders = sum(
            remove_empty_days(root, keep=keep, older_than_s=ORPHAN_GRACE_S) for root in self.day_folders
        ) + sum(
            blobs.sweep_empty_days(folder, keep=keep, older_than_s=ORPHAN_GRACE_S)
            for blobs, folder in self.blob_day_folders
        )
        if folders:
            log.info("removed %d empty per-day folder(s)", folders)
        return removed
