"""Templates, watchlist entries and the explained answer of a 1:N search."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

Template = npt.NDArray[np.float32]
"""A face embedding, shape (D,), for the model named beside it."""


class MatchDecision(StrEnum):
    MATCH = "match"
    UNKNOWN_NO_GALLERY = "unknown: no active watchlist templates"
    UNKNOWN_DISTANCE = "unknown: nearest person is farther than the threshold"
    UNKNOWN_MARGIN = "unknown: runner-up too close (margin not met)"
    UNKNOWN_NON_MATCH = "unknown: closer to a face dismissed as not this person"
    """The nearest person matched, but the face is nearer still to one an operator dismissed
    as a false match of that person (see citywatch.match.index.unless_dismissed)."""
    UNKNOWN = "unknown"
    """Reason withheld: in watchlist mode nothing is said about a face that matched no one."""


@dataclass(frozen=True, slots=True)
class GalleryEntry:
    """One enrolled template of a person on an active watchlist."""

    template_id: int
    person_id: int
    person_name: str
    watchlist_id: int
    watchlist_name: str
    threshold: float
    margin: float
    vector: Template


@dataclass(frozen=True, slots=True)
class NonMatch:
    """A face an operator dismissed as not this person: it must not alert for them again."""

    person_id: int
    vector: Template


@dataclass(frozen=True, slots=True)
class Candidate:
    """The nearest template of one person."""

    person_id: int
    person_name: str
    watchlist_id: int
    watchlist_name: str
    distance: float


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Answer of a 1:N search, with what it was decided on (distances are Euclidean)."""

    decision: MatchDecision
    best: Candidate | None
    runner_up: Candidate | None
    threshold: float
    margin_required: float

    @property
    def is_match(self) -> bool:
        return self.decision is MatchDecision.MATCH

    @property
    def margin(self) -> float | None:
        """How much farther the runner-up person is than the best one (None without a runner-up)."""
        if self.best is None or self.runner_up is None:
            return None
        return self.runner_up.distance - self.best.distance

    def explain(self) -> str:
        if self.best is None:
            return str(self.decision)
        margin = "no runner-up" if self.margin is None else f"margin {self.margin:.3f}"
        return (
            f"{self.decision}; nearest {self.best.person_name} at {self.best.distance:.3f} "
            f"(threshold {self.threshold:.3f}), {margin} (required {self.margin_required:.3f})"
        )
