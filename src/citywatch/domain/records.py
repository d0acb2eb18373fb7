"""Plain records that cross the store's boundary; no ORM object ever leaves a session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from citywatch.domain.audit import Action
from citywatch.domain.matching import MatchResult, Template
from citywatch.domain.watchlists import AlertStatus, Severity, WatchlistCategory

__all__ = ["AlertStatus", "Severity", "WatchlistCategory"]  # re-exported: the store's records use them


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
    severity: Severity = Severity.MEDIUM
    """What its alerts are raised at."""


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
    status: str = "active"
    """`pending` until a second person approves the addition (two-person rule), then `active`;
    only active persons are matched."""
    proposed_by: str = ""
    approved_by: str = ""


@dataclass(frozen=True, slots=True)
class ReferenceInfo:
    """A stored reference image of a person: where it came from and why it may be used. The
    image itself is read through the blob store, and each read is audited by its caller."""

    id: int
    person_id: int
    blob_path: str
    sha256: str
    source: str
    legal_basis: str
    created_at: datetime


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
    authorisation_id: int | None = None
    """The authorisation it was derived under (its artefacts go if that lapses)."""
    order_id: int | None = None
    """The stay-at-home order the person was seen violating: its alert is an `order_violation`."""


@dataclass(frozen=True, slots=True)
class SightingOrigin:
    """Where a sighting handed over the bus was made: its key (the same sighting delivered
    twice is stored once) and the fencing token of the camera lease it was made under."""

    key: str
    token: int


@dataclass(frozen=True, slots=True)
class SightingSaved:
    sighting_id: int
    alert_id: int | None
    crop_path: str
    """Relative to the blob store's root."""
    cooldown_of: int | None = None
    """A match that raised no alert because it fell within this earlier alert's cooldown
    (the same person on the same camera: one alert per episode)."""
    duplicate: bool = False
    """Stored already, under the same source key (a second delivery from the bus)."""


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
    severity: Severity = Severity.MEDIUM
    """Copied from the watchlist when the alert was raised."""
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    decided_by: str | None = None
    """Who confirmed it (the second person) or dismissed it."""
    decided_at: datetime | None = None
    dismiss_reason: str | None = None
    kind: str = "match"
    """`match`, or `order_violation`: seen outside a stay-at-home order's area."""
    order_id: int | None = None


class ChangeKind(StrEnum):
    """Changes that need a second person before they take effect (two-person rule)."""

    PERSON_ADD = "person.add"
    """A new person on a watchlist: matched only once approved."""
    PERSON_REFERENCE = "person.reference"
    """New reference images for an existing person: their templates are matched once approved."""
    PERSON_MOVE = Action.PERSON_MOVE
    """A person moved onto another watchlist: new members of that list, matched under its
    threshold and the authorisations bound to it, once approved."""
    WATCHLIST_THRESHOLD = Action.WATCHLIST_THRESHOLD
    """A raised (looser) distance threshold."""
    WATCHLIST_MARGIN = Action.WATCHLIST_MARGIN
    """A lowered (looser) margin over the runner-up."""
    HOLD_PLACE = Action.HOLD_PLACE
    """A city-wide or long legal hold: it protects at once, for retention.hold_pending_hours,
    and for as long as it asked once approved (refused: released)."""
    HOLD_RELEASE = Action.HOLD_RELEASE
    """Releasing a legal hold another person placed: released once approved."""


class ChangeStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class ChangeInfo:
    """A change proposed by one person and decided by another; `params` never hold biometric data."""

    id: int
    kind: ChangeKind
    object: str
    """What it changes, e.g. `person:12`, `watchlist:3`."""
    params: Mapping[str, Any]
    status: ChangeStatus
    proposed_by: str
    proposed_role: str
    proposed_by_service: bool
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str = ""
    """Why it was refused, when it was."""


@dataclass(frozen=True, slots=True)
class TuningResult:
    """What became of a request to change a watchlist's threshold or margin."""

    watchlist: str
    setting: str
    """`threshold` or `margin`."""
    before: float
    """The value in force before (the configured default where the watchlist had none)."""
    requested: float
    change: ChangeInfo | None = None
    """The change waiting for a second person; None when it applied at once (not looser)."""

    @property
    def applied(self) -> bool:
        return self.change is None


@dataclass(frozen=True, slots=True)
class NewWatchlist:
    """A created watchlist, and what became of the looser settings it was asked for."""

    watchlist: WatchlistInfo
    """As created: a looser threshold or margin asked for is not in it (the default is)."""
    tuning: tuple[TuningResult, ...] = ()
    """One pending change per looser setting, waiting for a second person."""


@dataclass(frozen=True, slots=True)
class AlertReview:
    """An alert after a review step, with who has confirmed it so far."""

    alert: AlertInfo
    confirmed_by: tuple[str, ...] = ()
    """Names of the people who confirmed it, in order."""
    non_match_id: int | None = None
    """Dismissed as a false match: the remembered non-match (the face will not alert for
    this person again)."""
    not_remembered: str = ""
    """Dismissed as a false match but nothing remembered: why (e.g. the sighting's template
    has expired)."""


class RequestKind(StrEnum):
    SUBJECT_ACCESS = "subject_access"
    LAW_ENFORCEMENT = "law_enforcement"


class RequestStatus(StrEnum):
    FILED = "filed"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REFUSED = "refused"
    FULFILLED = "fulfilled"
    CLOSED = "closed"
