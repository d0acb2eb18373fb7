"""The gallery the cameras match against: loaded once, then reloaded in the background when
older than its refresh, the loaded one serving meanwhile (a camera never waits for a reload)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from citywatch.config.pipeline import MatchingSettings
from citywatch.domain.records import NewReference
from citywatch.runtime.build import Runtime
from citywatch.watchlists.gallery import Gallery
from tests.store.helpers import DIM, JPEG_STUB, MODEL, vector


@dataclass
class Named:
    """The embedder the gallery asks for: only its name and dimension matter here."""

    name: str = MODEL
    dim: int = DIM


def enrol(rt: Runtime, name: str, seed: int) -> None:
    reference = NewReference(JPEG_STUB, ".jpg", "test photo", "test", MODEL, vector(seed))
    rt.watchlists.enroll([reference], watchlist_name="default", display_name=name)


def test_a_stale_gallery_serves_while_the_next_loads_then_the_next_serves(rt: Runtime) -> None:
    rt.watchlists.ensure_watchlist("default")
    enrol(rt, "First", 1)
    gallery = Gallery(rt.watchlists, Named, MatchingSettings(), refresh_s=0.2)  # type: ignore[arg-type]
    first = gallery.index()
    assert first.persons == 1
    assert gallery.index() is first  # fresh: no reload
    enrol(rt, "Second", 2)
    time.sleep(0.3)
    assert gallery.index() is first  # stale: served while the next one loads
    deadline = time.monotonic() + 10
    while (current := gallery.index()) is first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert current.persons == 2
    assert current.match(vector(2)).best is not None
    assert current.match(vector(2)).best.person_name == "Second"  # type: ignore[union-attr]


def test_news_of_a_change_reloads_at_once_whatever_the_loaded_ones_age(rt: Runtime) -> None:
    rt.watchlists.ensure_watchlist("default")
    enrol(rt, "First", 1)
    gallery = Gallery(rt.watchlists, Named, MatchingSettings(), refresh_s=3600)  # type: ignore[arg-type]
    first = gallery.index()
    enrol(rt, "Second", 2)
    assert gallery.index() is first  # an hour's refresh: not reloaded by age
    gallery.invalidate()
    deadline = time.monotonic() + 10
    while (current := gallery.index()) is first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert current.persons == 2
