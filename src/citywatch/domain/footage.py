"""Footage segments as they cross from the recorder to the store, and the seam between them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Segment:
    """One indexed footage file: a whole MP4 of one camera, `started_at` ≤ t < `ended_at`."""

    id: int
    camera_id: str
    day: str
    """The UTC day it starts on, `YYYY-MM-DD`: the folder it lies in."""
    started_at: datetime
    """Wall-clock time of its first frame (a keyframe)."""
    ended_at: datetime
    path: str
    """Relative to the footage root, `/`-separated."""
    size: int
    sha256: str
    created_at: datetime

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class PendingSegment:
    """A segment being written: not yet durable, not indexed."""

    camera_id: str
    started_at: datetime
    path: str
    """Where it will lie once placed, relative to the footage root."""
    temp: Path
    """The temporary file to write, beside its final place."""


class SegmentSink(Protocol):
    """Where a recorder's segments go: a temporary file to write, then placed and indexed."""

    def begin_segment(self, camera_id: str, started_at: datetime) -> PendingSegment:
        """A new temporary file (its folder exists); raises `Unavailable` when it cannot be made."""
        ...

    def add_segment(self, pending: PendingSegment, ended_at: datetime) -> Segment:
        """Make the written file durable, place it and index it; on failure nothing is left
        behind (no file, no row) and `Unavailable` is raised."""
        ...

    def discard(self, pending: PendingSegment) -> None:
        """Remove an unfinished segment's temporary file."""
        ...
