"""Enrolment: reference photos of a person, each with its source and legal basis, become templates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from citywatch.config.vision import QualitySettings
from citywatch.domain.audit import Actor
from citywatch.domain.errors import InvalidInput
from citywatch.domain.ports import Detector, Embedder
from citywatch.domain.records import NewReference, PersonInfo
from citywatch.domain.watchlists import WatchlistCategory
from citywatch.vision.photo import one_face
from citywatch.watchlists.service import WatchlistService


class Enrolment:
    def __init__(
        self, *, store: WatchlistService, detector: Detector, embedder: Embedder, quality: QualitySettings
    ) -> None:
        self._store = store
        self._detector = detector
        self._embedder = embedder
        self._quality = quality

    def enroll(
        self,
        *,
        name: str,
        images: Sequence[Path],
        watchlist: str,
        source: str,
        legal_basis: str,
        notes: str = "",
        category: WatchlistCategory = WatchlistCategory.WANTED,
        person_id: int | None = None,
        proposer: Actor | None,
    ) -> PersonInfo:
        """Check every image first (one face each), then store the person and templates.

        With `person_id`, the images are added to that person instead of a new one. With
        `proposer`, the addition waits for a second person's approval (two-person rule);
        None stores it active at once, which only a throwaway store (a benchmark) may do.
        """
        if not images:
            raise InvalidInput("give at least one reference image")
        if not source.strip() or not legal_basis.strip():
            raise InvalidInput("every reference image needs a source and a legal basis")
        faces = [one_face(p, self._detector, self._embedder, self._quality) for p in images]
        references = [
            NewReference(
                image_bytes=face.path.read_bytes(),
                suffix=face.path.suffix.lower() or ".jpg",
                source=source,
                legal_basis=legal_basis,
                model=self._embedder.name,
                vector=face.template,
            )
            for face in faces
        ]
        if person_id is not None:
            return self._store.enroll(references, person_id=person_id, proposer=proposer)
        self._store.ensure_watchlist(watchlist, category)
        return self._store.enroll(
            references, watchlist_name=watchlist, display_name=name, notes=notes, proposer=proposer
        )
