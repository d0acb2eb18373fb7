"""The store's id-cursor pages (the API's lists): newest first, stable however sighting times
interleave, filtered by camera and scope."""

from __future__ import annotations

from datetime import timedelta

import pytest

from citywatch.domain.errors import InvalidInput, NotFound
from citywatch.domain.matching import Candidate, MatchDecision, MatchResult
from tests.fakes.stores import Stores
from tests.store.helpers import T0, sighting


def test_sightings_page_by_id_not_by_time(store: Stores) -> None:
    # stored out of time order: the page follows the ids, so a cursor never skips or repeats
    starts = [T0 + timedelta(minutes=m) for m in (5, 1, 9, 3, 7)]
    ids = [
        store.sightings.add_sighting(sighting(camera_id=f"cam-{i % 2}", start=s, track_id=i)).sighting_id
        for i, s in enumerate(starts)
    ]
    seen, before = [], None
    while page := store.sightings.sightings_page(2, before_id=before):
        seen += [s.id for s in page]
        before = page[-1].id
    assert seen == sorted(ids, reverse=True)
    assert [s.id for s in store.sightings.sightings_page(10, camera_id="cam-1")] == [ids[3], ids[1]]
    assert [s.id for s in store.sightings.sightings_page(10, camera_ids={"cam-0"})] == [
        ids[4],
        ids[2],
        ids[0],
    ]
    assert store.sightings.sightings_page(10, camera_ids=set()) == []
    assert store.sightings.get_sighting(ids[0]).started_at == starts[0]


@pytest.mark.parametrize("limit", [0, -1, 10_001])
def test_a_page_size_out_of_bounds_is_refused(store: Stores, limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        store.sightings.sightings_page(limit)
    with pytest.raises(InvalidInput, match="limit"):
        store.alerts.alerts_page(limit)
    with pytest.raises(InvalidInput, match="limit"):
        store.watchlists.persons_page(limit)


def test_missing_records_are_not_found(store: Stores) -> None:
    with pytest.raises(NotFound, match="alert"):
        store.alerts.get_alert(1)
    with pytest.raises(NotFound, match="sighting"):
        store.sightings.get_sighting(1)
    with pytest.raises(NotFound):
        store.watchlists.persons_page(10, watchlist_name="nope")


def test_persons_page_in_id_order_after_a_cursor(store: Stores) -> None:
    store.watchlists.create_watchlist("a")
    store.watchlists.create_watchlist("b")
    ids = [store.watchlists.add_person("a" if i % 2 else "b", f"P{i}").id for i in range(5)]
    assert [p.id for p in store.watchlists.persons_page(2)] == ids[:2]
    assert [p.id for p in store.watchlists.persons_page(2, after_id=ids[1])] == ids[2:4]
    assert [p.id for p in store.watchlists.persons_page(10, watchlist_name="a")] == [ids[1], ids[3]]


def test_sighting_margins_in_one_call_skip_what_is_gone(store: Stores) -> None:
    best, second = Candidate(1, "A", 1, "w", 0.30), Candidate(2, "B", 1, "w", 0.42)
    matched = MatchResult(MatchDecision.MATCH, best, second, 0.55, 0.04)
    with_margin = store.sightings.add_sighting(sighting(match=matched, track_id=1)).sighting_id
    without = store.sightings.add_sighting(sighting(track_id=2)).sighting_id
    margins = store.sightings.sighting_margins([with_margin, without, 999])
    assert margins.keys() == {with_margin, without}  # 999: not stored (or purged since)
    assert margins[with_margin] == pytest.approx(0.12) and margins[without] is None
    assert store.sightings.sighting_margins([]) == {}
