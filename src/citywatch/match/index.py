"""Exact in-process watchlist index, the threshold-plus-margin decision and the memory of
dismissed faces.

`decide` and `unless_dismissed` are the pure rules; `WatchlistIndex` holds the gallery as
one matrix and the remembered non-matches per person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from citywatch.domain.errors import InvalidInput
from citywatch.domain.faces import FloatArray
from citywatch.domain.matching import (
    Candidate,
    GalleryEntry,
    MatchDecision,
    MatchResult,
    NonMatch,
    Template,
)


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


def unless_dismissed(result: MatchResult, non_match_distance: float | None) -> MatchResult:
    """A match stands unless the face is nearer to a face an operator dismissed as not the
    matched person (`non_match_distance`: the nearest of that person's remembered
    non-matches; None when there are none) than to the person's own nearest template.

    A vetoed match names no one (UNKNOWN_NON_MATCH): the runner-up is not promoted, since a
    face an operator took for a look-alike of one person is no safer a match for another.
    """
    best = result.best
    if not result.is_match or best is None or non_match_distance is None:
        return result
    if non_match_distance < best.distance:
        return MatchResult(
            MatchDecision.UNKNOWN_NON_MATCH, best, result.runner_up, result.threshold, result.margin_required
        )
    return result


@dataclass(frozen=True, slots=True)
class PersonRef:
    person_id: int
    person_name: str
    watchlist_id: int
    watchlist_name: str


class WatchlistIndex:
    """All templates of the active watchlists in one (M, D) float32 matrix, rows grouped by
    person; exact search.

    A probe costs one matrix-vector product (squared distances from precomputed norms), a
    per-person minimum (`np.minimum.reduceat`) and an exact re-check of the two nearest
    persons: no Python loop over templates. A match is then checked against the matched
    person's remembered non-matches (`unless_dismissed`).
    """

    def __init__(
        self, entries: Sequence[GalleryEntry], dim: int, non_matches: Sequence[NonMatch] = ()
    ) -> None:
        vectors = np.stack([e.vector for e in entries]) if entries else np.zeros((0, dim), np.float32)
        persons = {
            e.person_id: PersonRef(e.person_id, e.person_name, e.watchlist_id, e.watchlist_name)
            for e in entries
        }
        limits = {e.watchlist_id: (e.threshold, e.margin) for e in entries}
        self._setup(vectors, np.array([e.person_id for e in entries], np.int64), persons, limits, dim)
        self._non_matches = _by_person(non_matches, dim)

    @classmethod
    def from_arrays(
        cls,
        vectors: FloatArray,
        person_ids: npt.NDArray[np.int64],
        persons: dict[int, PersonRef],
        limits: dict[int, tuple[float, float]],
    ) -> WatchlistIndex:
        """Build from arrays directly (large galleries, benchmarks)."""
        index = cls.__new__(cls)
        index._setup(vectors, person_ids, persons, limits, vectors.shape[1])
        index._non_matches = {}
        return index

    def _setup(
        self,
        vectors: npt.ArrayLike,
        person_ids: npt.NDArray[np.int64],
        persons: dict[int, PersonRef],
        limits: dict[int, tuple[float, float]],
        dim: int,
    ) -> None:
        matrix = np.asarray(vectors, np.float32).reshape(-1, dim) if np.size(vectors) else np.zeros((0, dim))
        if matrix.shape[1] != dim:
            raise InvalidInput(f"gallery templates have {matrix.shape[1]} dimensions, expected {dim}")
        order = np.argsort(person_ids, kind="stable")
        self.dim = dim
        self._matrix = np.ascontiguousarray(matrix[order], np.float32)
        self._sq_norms = (self._matrix.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
        sorted_ids = person_ids[order]
        self._starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]]) if len(order) else order
        self._ends = np.r_[self._starts[1:], len(order)].astype(np.int64)
        self._row_person = sorted_ids[self._starts] if len(order) else sorted_ids
        self._persons = persons
        self._limits = limits

    def __len__(self) -> int:
        return len(self._matrix)

    @property
    def persons(self) -> int:
        return len(self._starts)

    def match(self, probe: Template) -> MatchResult:
        if probe.shape != (self.dim,):
            raise InvalidInput(f"probe has shape {probe.shape}, expected ({self.dim},)")
        result = decide(self.nearest_persons(probe, 2), self._limits)
        if not result.is_match or result.best is None:
            return result
        remembered = self._non_matches.get(result.best.person_id)
        if remembered is None:
            return result
        nearest = float(np.sqrt(((remembered - np.asarray(probe, np.float32)) ** 2).sum(axis=1).min()))
        return unless_dismissed(result, nearest)

    @property
    def non_matches(self) -> int:
        """How many dismissed faces are remembered (for persons of this gallery or not)."""
        return sum(len(v) for v in self._non_matches.values())

    def nearest_persons(self, probe: Template, k: int) -> list[Candidate]:
        """The `k` nearest persons, each at the distance of their nearest template."""
        if len(self._matrix) == 0:
            return []
        p = np.asarray(probe, np.float32)
        d2 = self._sq_norms - 2.0 * (self._matrix @ p) + float(p @ p)
        per_person = np.minimum.reduceat(d2, self._starts)
        # a little slack: the expanded form may swap persons closer than its rounding error
        wide = min(k + 2, len(per_person))
        top = np.argpartition(per_person, wide - 1)[:wide]
        out = []
        for i in top:
            rows = self._matrix[self._starts[i] : self._ends[i]]
            exact = float(np.sqrt(((rows - p) ** 2).sum(axis=1).min()))  # no cancellation error
            ref = self._persons[int(self._row_person[i])]
            out.append(Candidate(ref.person_id, ref.person_name, ref.watchlist_id, ref.watchlist_name, exact))
        return sorted(out, key=lambda c: c.distance)[:k]


def _by_person(non_matches: Sequence[NonMatch], dim: int) -> dict[int, FloatArray]:
    """The remembered non-matches of the given dimension, one (K, D) matrix per person."""
    grouped: dict[int, list[Template]] = {}
    for n in non_matches:
        if n.vector.shape == (dim,):  # another model's face cannot be compared
            grouped.setdefault(n.person_id, []).append(n.vector)
    return {p: np.stack(v).astype(np.float32) for p, v in grouped.items()}
