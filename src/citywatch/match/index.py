"""Exact in-process watchlist index and the threshold-plus-margin decision.

`decide` is the pure rule; `WatchlistIndex` holds the gallery as one matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from citywatch.domain.errors import InvalidInput
from citywatch.domain.faces import FloatArray
from citywatch.domain.matching import Candidate, GalleryEntry, MatchDecision, MatchResult, Template


def aggregate(templates: FloatArray) -> Template:
    """One template for a track: the mean of its best shots' templates."""
    if templates.ndim != 2 or len(templates) == 0:
        raise InvalidInput("aggregate needs at least one template")
    return np.asarray(templates.mean(axis=0), np.float32)


def decide(candidates: Sequence[Candidate], threshold_for: dict[int, tuple[float, float]]) -> MatchResult:
    """Match when the nearest person is nearer than their watchlist's threshold and the
    runner-up person is farther by at least that watchlist's margin.

    `candidates` hold each person's nearest distance, in any order; `threshold_for`
    maps a watchlist id to its (threshold, margin).
    """
    ranked = sorted(candidates, key=lambda c: c.distance)
    if not ranked:
        return MatchResult(MatchDecision.UNKNOWN_NO_GALLERY, None, None, 0.0, 0.0)
    best = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else None
    threshold, margin = threshold_for[best.watchlist_id]
    if best.distance >= threshold:
        decision = MatchDecision.UNKNOWN_DISTANCE
    elif runner_up is not None and runner_up.distance - best.distance < margin:
        decision = MatchDecision.UNKNOWN_MARGIN
    else:
        decision = MatchDecision.MATCH
    return MatchResult(decision, best, runner_up, threshold, margin)


class WatchlistIndex:
    """All templates of the active watchlists in one (M, D) matrix; exact search."""

    def __init__(self, entries: Sequence[GalleryEntry], dim: int) -> None:
        self.dim = dim
        self._entries = list(entries)
        self._matrix = (
            np.stack([e.vector for e in entries]).astype(np.float32)
            if entries
            else np.zeros((0, dim), np.float32)
        )
        if self._matrix.shape[1] != dim:
            raise InvalidInput(f"gallery templates have {self._matrix.shape[1]} dimensions, expected {dim}")
        self._person = np.array([e.person_id for e in entries], np.int64)
        self._limits = {e.watchlist_id: (e.threshold, e.margin) for e in entries}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def persons(self) -> int:
        return len(set(self._person.tolist()))

    def match(self, probe: Template) -> MatchResult:
        if probe.shape != (self.dim,):
            raise InvalidInput(f"probe has shape {probe.shape}, expected ({self.dim},)")
        return decide(self.nearest_per_person(probe), self._limits)

    def nearest_per_person(self, probe: Template) -> list[Candidate]:
        if not self._entries:
            return []
        dist = np.linalg.norm(self._matrix - probe[None, :], axis=1)
        best: dict[int, int] = {}
        for row in np.argsort(dist):
            best.setdefault(int(self._person[row]), int(row))
        return [
            Candidate(
                person_id=self._entries[row].person_id,
                person_name=self._entries[row].person_name,
                watchlist_id=self._entries[row].watchlist_id,
                watchlist_name=self._entries[row].watchlist_name,
                distance=float(dist[row]),
            )
            for row in best.values()
        ]
