"""Plain records that cross the store's boundary; no ORM object ever leaves a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from citywatch.domain.matching import MatchResult, Template
from citywatch.domain.watchlists import AlertStatus, WatchlistCategory

__all__ = ["AlertStatus", "WatchlistCategory"]  # re-exported: the store's records use them


@dataclass(frozen=True, slots=True)
class WatchlistInfo:
    id: int
    name: str
    category: WatchlistCategory
    threshold: float | None
    """Euclidean distance threshold; None means the configured default."""
    margin: float | None
    """Margin over the runner-up; None means the configured default."""
    active: bool
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PersonInfo:
    id: int
    watchlist_id: int
    watchlist_name: str
    display_name: str
    notes: str
    created_at: datetime
    updated_at: datetime
    reference_images: int
    templates: int


@dataclass(frozen=True, slots=True)
class NewReference:
    """A reference image to enrol, with where it came from, why it may be used, and its template."""

    image_bytes: bytes
    suffix: str
    source: str
    legal_basis: str
    model: str
    vector: Template


@dataclass(frozen=True, slots=True)
class RemovalReceipt:
    """What `remove_person` deleted: counts and content hashes, never the data itself."""

    person_id: int
    reference_images: int
    templates: int
    blob_sha256s: tuple[str, ...]
    blobs_unlinked: int
    """Reference image files actually unlinked (fewer than `reference_images` if some were missing)."""


@dataclass(frozen=True, slots=True)
class SightingRecord:
    """A finished track as the pipeline hands it to the store."""

    camera_id: str
    track_id: int
    started_at: datetime
    ended_at: datetime
    detections: int
    quality: float
    crop_jpeg: bytes
    model: str
    template: Template | None
    """None where the processing mode keeps no template."""
    match: MatchResult


@dataclass(frozen=True, slots=True)
class SightingSaved:
    sighting_id: int
    alert_id: int | None
    crop_path: str
    """Relative to the blob store's root."""


@dataclass(frozen=True, slots=True)
class SearchCandidate:
    """A stored sighting with its template, as case search compares it."""

    id: int
    camera_id: str
    started_at: datetime
    ended_at: datetime
    crop_path: str
    """Absolute path of the best-shot crop."""
    quality: float
    vector: Template


@dataclass(frozen=True, slots=True)
class SightingInfo:
    id: int
    camera_id: str
    track_id: int
    day: str
    started_at: datetime
    ended_at: datetime
    detections: int
    quality: float
    crop_path: str
    """Relative to the blob store's root."""
    crop_sha256: str
    model: str
    has_template: bool
    person_id: int | None
    person_name: str | None
    watchlist_id: int | None
    distance: float | None
    margin: float | None
    decision: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AlertInfo:
    id: int
    sighting_id: int
    camera_id: str
    person_id: int | None
    person_name: str
    watchlist_id: int | None
    watchlist_name: str
    distance: float
    status: AlertStatus
    created_at: datetime
