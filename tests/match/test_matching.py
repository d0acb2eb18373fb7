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


def test_index_agrees_with_brute_force_on_random_galleries() -> None:
    rng = np.random.default_rng(7)
    person_of_row = rng.integers(0, 40, size=300)  # persons in no particular order, 1-15 templates each
    vectors = rng.normal(0, 0.1, (300, 16)).astype(np.float32)
    entries = [
        entry(i, int(p), v.tolist()) for i, (p, v) in enumerate(zip(person_of_row, vectors, strict=True))
    ]
    index = WatchlistIndex(entries, dim=16)
    for probe in rng.normal(0, 0.1, (25, 16)).astype(np.float32):
        dist = np.linalg.norm(vectors - probe, axis=1)
        per_person = {int(p): float(dist[person_of_row == p].min()) for p in set(person_of_row.tolist())}
        expected = sorted(per_person.items(), key=lambda kv: kv[1])[:2]
        got = index.nearest_persons(probe, 2)
        assert [(c.person_id, round(c.distance, 5)) for c in got] == [(p, round(d, 5)) for p, d in expected]
