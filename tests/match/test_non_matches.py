"""The memory of dismissed faces, pure: a match stands unless the face is nearer to a face an
operator dismissed as not that person than to the person's own templates."""

from __future__ import annotations

import numpy as np
import pytest

from citywatch.domain.matching import Candidate, GalleryEntry, MatchDecision, MatchResult, NonMatch
from citywatch.match.index import WatchlistIndex, unless_dismissed


def result(decision: MatchDecision, distance: float = 0.40) -> MatchResult:
    best = Candidate(1, "Ann", 1, "wanted", distance)
    return MatchResult(decision, best, Candidate(2, "Bob", 1, "wanted", 0.58), 0.5, 0.05)


@pytest.mark.parametrize(
    ("decision", "non_match_distance", "expected"),
    [
        (MatchDecision.MATCH, None, MatchDecision.MATCH),  # nothing remembered
        (MatchDecision.MATCH, 0.10, MatchDecision.UNKNOWN_NON_MATCH),  # nearer the dismissed face
        (MatchDecision.MATCH, 0.39, MatchDecision.UNKNOWN_NON_MATCH),
        (MatchDecision.MATCH, 0.40, MatchDecision.MATCH),  # a tie keeps the match (strictly nearer)
        (MatchDecision.MATCH, 0.70, MatchDecision.MATCH),  # nearer the person
        (MatchDecision.UNKNOWN_DISTANCE, 0.01, MatchDecision.UNKNOWN_DISTANCE),  # no match to veto
        (MatchDecision.UNKNOWN_MARGIN, 0.01, MatchDecision.UNKNOWN_MARGIN),
    ],
)
def test_unless_dismissed(
    decision: MatchDecision, non_match_distance: float | None, expected: MatchDecision
) -> None:
    before = result(decision)
    after = unless_dismissed(before, non_match_distance)
    assert after.decision is expected
    assert after.best == before.best  # who it was nearest to stays explained
    assert not after.is_match or expected is MatchDecision.MATCH
    if expected is MatchDecision.UNKNOWN_NON_MATCH:
        assert "dismissed as not this person" in after.explain()


def entry(pid: int, vec: list[float]) -> GalleryEntry:
    return GalleryEntry(pid, pid, f"p{pid}", 1, "w1", 0.5, 0.0, np.array(vec, np.float32))


ANN_TEMPLATE = [0.0, 0.0]
LOOK_ALIKE = [0.3, 0.0]  # 0.3 from Ann's template: a match, but an operator said "not Ann"


@pytest.mark.parametrize(
    ("probe", "remembered", "decision"),
    [
        ([0.3, 0.0], [NonMatch(1, np.array(LOOK_ALIKE, np.float32))], MatchDecision.UNKNOWN_NON_MATCH),
        ([0.25, 0.0], [NonMatch(1, np.array(LOOK_ALIKE, np.float32))], MatchDecision.UNKNOWN_NON_MATCH),
        ([0.1, 0.0], [NonMatch(1, np.array(LOOK_ALIKE, np.float32))], MatchDecision.MATCH),  # Ann herself
        ([0.3, 0.0], [NonMatch(2, np.array(LOOK_ALIKE, np.float32))], MatchDecision.MATCH),  # another's
        (
            [0.3, 0.0],
            [NonMatch(1, np.array([0.3, 0.0, 0.0], np.float32))],
            MatchDecision.MATCH,
        ),  # other model
        ([0.3, 0.0], [], MatchDecision.MATCH),
    ],
)
def test_the_index_vetoes_a_face_nearer_a_dismissed_one(
    probe: list[float], remembered: list[NonMatch], decision: MatchDecision
) -> None:
    index = WatchlistIndex([entry(1, ANN_TEMPLATE), entry(2, [5.0, 5.0])], dim=2, non_matches=remembered)
    got = index.match(np.array(probe, np.float32))
    assert got.decision is decision
    assert got.best is not None and got.best.person_id == 1
