"""Case search: the stored sightings of one face, inside a case (its legal basis, an
authorisation in force naming the cameras, a bounded window), audited whether it runs
(`search.photo`) or is refused as untargeted (`search.refused`). The command line and the
API both search through `case_search` (with a `CaseSearcher` of what it draws on); each
checks the caller's camera scope first."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from citywatch.audit.hooks import Audit
from citywatch.config.pipeline import MatchingSettings
from citywatch.config.vision import QualitySettings
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.errors import InvalidInput
from citywatch.domain.ports import Detector, Embedder
from citywatch.governance.service import GovernanceService
from citywatch.search.photo import CaseScope, SearchHit, find_authorisation, scope_problem, search_by_photo
from citywatch.sightings.store import SightingStore


@dataclass(frozen=True, slots=True)
class CaseSearcher:
    """What a case search draws on."""

    sightings: SightingStore
    """The stored sightings searched."""
    governance: GovernanceService
    """Authorisations (enforced before each search, so what a lapsed one derived is gone)."""
    load_detector: Callable[[], Detector]
    load_embedder: Callable[[], Embedder]
    """The models, loaded when a search runs (a refused one loads neither)."""
    quality: QualitySettings
    """Which face in the photo is clear enough to search with."""
    matching: MatchingSettings
    """The defaults (`search_threshold`, `search_limit`) and the longest window
    (`search_max_window_h`)."""
    audit: Audit
    """Records the search, or its refusal, as the searcher."""

    @property
    def detector(self) -> Detector:
        return self.load_detector()

    @property
    def embedder(self) -> Embedder:
        return self.load_embedder()


@dataclass(frozen=True, slots=True)
class CaseSearch:
    """What a case search asks for; the scope is checked by `case_search`, not here."""

    case: str
    legal_basis: str
    authorisation: str
    """The reference of the authorisation in force that names the cameras."""
    cameras: list[str]
    since: datetime | None
    until: datetime | None
    limit: int | None = None
    """At most this many hits (default: `matching.search_limit`)."""
    threshold: float | None = None
    """Farthest distance shown (default: `matching.search_threshold`)."""


def case_search(searcher: CaseSearcher, photo: Path, search: CaseSearch, *, by: Actor) -> list[SearchHit]:
    """The sightings nearer than the threshold to the one face in `photo`, nearest first.

    Raises InvalidInput (after auditing `search.refused`) when the search is not targeted: no
    case, legal basis, cameras or start, too long a window, or no authorisation in force that
    covers the cameras and the window. The photo is audited by its SHA-256, never kept."""
    searcher.governance.enforce()  # what a lapsed authorisation derived is gone before anyone looks
    m = searcher.matching
    threshold = search.threshold or m.search_threshold
    authorisation = find_authorisation(searcher.governance, search.authorisation)
    scope = CaseScope(
        case=search.case,
        legal_basis=search.legal_basis,
        cameras=search.cameras,
        since=search.since,
        until=search.until,
        authorisation=authorisation,
    )
    photo_ref = (
        f"photo-sha256:{hashlib.sha256(photo.read_bytes()).hexdigest()}" if photo.is_file() else str(photo)
    )
    params: dict[str, object] = {
        "cameras": scope.cameras,
        "since": None if search.since is None else search.since.isoformat(),
        "until": None if search.until is None else search.until.isoformat(),
        "model": searcher.embedder.name,
        "threshold": threshold,
    }
    problem = scope_problem(scope, max_window=timedelta(hours=m.search_max_window_h), now=datetime.now(UTC))
    if search.authorisation and authorisation is None:
        problem = f"no authorisation {search.authorisation!r} is on record"
    searched = AuditEvent(
        Action.SEARCH_PHOTO,
        photo_ref,
        legal_basis=search.legal_basis,
        authorisation=search.authorisation,
        case=search.case,
        params=params,
    )
    if problem is not None:
        searcher.audit(
            replace(searched, action=Action.SEARCH_REFUSED, params=params | {"reason": problem}), by
        )
        raise InvalidInput(f"search refused: {problem}")
    hits = search_by_photo(
        photo,
        store=searcher.sightings,
        detector=searcher.detector,
        embedder=searcher.embedder,
        quality=searcher.quality,
        threshold=threshold,
        limit=search.limit or m.search_limit,
        cameras=scope.cameras,
        since=scope.since,
        until=scope.until,
    )
    searcher.audit(replace(searched, result_count=len(hits)), by)
    return hits
