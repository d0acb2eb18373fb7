import numpy as np
import pytest

from citywatch.domain.matching import Candidate, GalleryEntry, MatchDecision
from citywatch.match.index import WatchlistIndex, aggregate, decide

LIMITS = {1: (0.5, 0.05), 2: (0.3, 0.0)}


def cand(pid: int, distance: float, watchlist: int = 1) -> Candidate:
    return Candidate(pid, f"p{pid}", watchlist, f"w{watchlist}", distance)


@pytest.mark.parametrize(
    ("candidates", "decision", "best"),
    [
        ([], MatchDecision.UNKNOWN_NO_GALLERY, None),
        ([cand(1, 0.4)], MatchDecision.MATCH, 1),
        ([cand(1, 0.5)], MatchDecision.UNKNOWN_DISTANCE, 1),  # threshold is strict
        ([cand(2, 0.45), cand(1, 0.30)], MatchDecision.MATCH, 1),
        ([cand(1, 0.40), cand(2, 0.43)], MatchDecision.UNKNOWN_MARGIN, 1),
        ([cand(1, 0.40), cand(2, 0.46)], MatchDecision.MATCH, 1),
        ([cand(3, 0.35, watchlist=2)], MatchDecision.UNKNOWN_DISTANCE, 3),  # per-watchlist threshold
    ],
)
def test_decide(candidates: list[Candidate], decision: MatchDecision, best: int | None) -> None:
    result = decide(candidates, LIMITS)
    assert result.decision is decision
    assert (result.best.person_id if result.best else None) == best
    assert result.is_match == (decision is MatchDecision.MATCH)


def entry(tid: int, pid: int, vec: list[float]) -> GalleryEntry:
    return GalleryEntry(tid, pid, f"p{pid}", 1, "w1", 0.5, 0.05, np.array(vec, np.float32))


def test_index_takes_each_persons_nearest_template() -> None:
    index = WatchlistIndex([entry(1, 1, [0, 0]), entry(2, 1, [1, 1]), entry(3, 2, [0.9, 0.9])], dim=2)
    result = index.match(np.array([1.0, 1.0], np.float32))
    assert result.best is not None and result.best.person_id == 1
    assert result.best.distance == pytest.approx(0.0)
    assert result.runner_up is not None and result.runner_up.person_id == 2
    assert result.margin == pytest.approx(np.hypot(0.1, 0.1), abs=1e-6)
    assert result.decision is MatchDecision.MATCH
    assert "margin" in result.explain()


def test_empty_index_answers_unknown() -> None:
    result = WatchlistIndex([], dim=2).match(np.zeros(2, np.float32))
    assert result.decision is MatchDecision.UNKNOWN_NO_GALLERY
    assert not result.is_match


def test_aggregate_is_the_mean() -> None:
    assert aggregate(np.array([[0, 2], [2, 4]], np.float32)).tolist() == [1, 3]
