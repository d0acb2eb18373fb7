"""Search by photo: the stored sightings of one face, ranked by distance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from citywatch.config.vision import QualitySettings
from citywatch.domain.errors import NotFound
from citywatch.domain.matching import Template
from citywatch.domain.policy import Authorisation, AuthorisationStatus, Window
from citywatch.domain.ports import Detector, Embedder
from citywatch.domain.records import SearchCandidate
from citywatch.governance.service import GovernanceService
from citywatch.sightings.store import SightingStore
from citywatch.vision.photo import one_face


@dataclass(frozen=True, slots=True)
class SearchHit:
    rank: int
    sighting_id: int
    camera_id: str
    started_at: datetime
    ended_at: datetime
    distance: float
    quality: float
    crop_path: str


@dataclass(frozen=True, slots=True)
class CaseScope:
    """What makes a search targeted and allowed: a case, its legal basis, an authorisation in
    force naming the cameras, and a bounded window inside the authorisation's."""

    case: str
    legal_basis: str
    cameras: list[str]
    since: datetime | None
    until: datetime | None
    authorisation: Authorisation | None = None


def scope_problem(scope: CaseScope, *, max_window: timedelta, now: datetime) -> str | None:
    """Why a search would be untargeted, or None when its scope is acceptable. Pure."""
    if not scope.case.strip():
        return "a case id is required (--case)"
    if not scope.legal_basis.strip():
        return "the case's legal basis is required (--legal-basis)"
    if not scope.cameras:
        return "named cameras are required (--cameras)"
    if scope.since is None:
        return "the start of the time window is required (--since)"
    until = scope.until or now
    if until < scope.since:
        return "the time window ends before it starts"
    if until - scope.since > max_window:
        hours = max_window.total_seconds() / 3600
        return f"the time window is longer than the {hours:g} h a case search may cover"
    return authorisation_problem(scope.authorisation, scope.cameras, Window(scope.since, until), now)


def find_authorisation(governance: GovernanceService, reference: str) -> Authorisation | None:
    """The authorisation on record as `reference`; None when none is named or none is on
    record. Case search and clips opened for a case both look authorisations up here."""
    if not reference:
        return None
    try:
        return governance.authorisation(reference).authorisation
    except NotFound:
        return None


def authorisation_problem(
    auth: Authorisation | None, cameras: list[str], window: Window, now: datetime
) -> str | None:
    """Why `auth` does not cover `cameras` over `window` now (missing, not in force, urgent
    and not yet approved, not naming a camera, or the window reaching outside its own), or
    None when it does. An open end of `window` is not checked. Pure."""
    if auth is None:
        return "an authorisation is required (--authorisation)"
    if not auth.in_force(now):
        return f"authorisation {auth.reference} is not in force ({auth.status}, {_span(auth.window)})"
    if auth.status is not AuthorisationStatus.APPROVED:
        return f"authorisation {auth.reference} is urgent, not yet approved: case search needs approval"
    if outside := sorted(set(cameras) - auth.cameras):
        return f"authorisation {auth.reference} does not name camera(s) {', '.join(outside)}"
    lo, hi = auth.window.start, auth.window.end
    if (lo is not None and window.start is not None and window.start < lo) or (
        hi is not None and window.end is not None and window.end > hi
    ):
        return f"the time window reaches outside authorisation {auth.reference} ({_span(auth.window)})"
    return None


def _span(window: Window) -> str:
    def iso(t: datetime | None) -> str:
        return "open" if t is None else t.isoformat(timespec="minutes")

    return f"{iso(window.start)} to {iso(window.end)}"


def search_by_photo(
    photo: Path,
    *,
    store: SightingStore,
    detector: Detector,
    embedder: Embedder,
    quality: QualitySettings,
    threshold: float,
    limit: int,
    cameras: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[SearchHit]:
    """Sightings nearer than `threshold`, nearest first, at most `limit`.

    Only sightings that kept a template (investigate mode) can be found.
    """
    probe = one_face(photo, detector, embedder, quality, largest=True).template
    candidates = store.sightings_for_search(embedder.name, cameras, since, until)
    return rank(probe, candidates, threshold=threshold, limit=limit)


def rank(
    probe: Template, candidates: list[SearchCandidate], *, threshold: float, limit: int
) -> list[SearchHit]:
    """The candidates nearer than `threshold`, nearest first, at most `limit`."""
    if not candidates:
        return []
    matrix = np.stack([c.vector for c in candidates])
    distance = np.linalg.norm(matrix - probe[None], axis=1)
    nearest = np.argsort(distance)[:limit]
    order = [int(i) for i in nearest if distance[i] < threshold]
    return [
        SearchHit(
            rank=position,
            sighting_id=candidates[i].id,
            camera_id=candidates[i].camera_id,
            started_at=candidates[i].started_at,
            ended_at=candidates[i].ended_at,
            distance=float(distance[i]),
            quality=candidates[i].quality,
            crop_path=candidates[i].crop_path,
        )
        for position, i in enumerate(order, start=1)
    ]
