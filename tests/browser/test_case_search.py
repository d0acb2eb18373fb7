"""Case search in a real browser: an investigator picks the authorisation the case runs
under, uploads a photo of Lin-Manuel Miranda, and sees his stored sightings from the
Hamilton clip ranked nearest first, on a timeline and in a table; the nearest one's crop,
and its clip from the recorded footage."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.browser.conftest import SignedIn
from tests.browser.harness import (
    AUTHORISATION,
    STAGE,
    Console,
    console_settings,
    lin_photo,
    play,
    serve,
    wait_for,
    watch_for_lin,
)
from tests.browser.pw import expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Console]:
    """The whole clip watched (at full speed, recorded) before anyone searches."""
    settings = console_settings(tmp_path_factory.mktemp("search"), shared_data, replay=False, recording=True)
    with serve(settings) as console:
        watch_for_lin(console.rt, shared_data)
        assert play(console.rt).join(120), "the clip was not watched in time"
        assert console.rt.sightings.list_sightings(limit=1), "the clip left no sighting"
        yield console


def test_a_photo_finds_the_persons_sightings_ranked(
    signed_in: SignedIn, watched: Console, shared_data: Path
) -> None:
    page = signed_in(watched, "ian")
    page.goto(watched.at("/console/search"))
    form = page.locator("form[name=case-search]")
    form.get_by_label("Authorisation").select_option(AUTHORISATION)
    form.get_by_label("Case id").fill("C-2026-42")
    expect(form.get_by_label(STAGE)).to_be_checked()
    form.get_by_label("Photo of the face").set_input_files(lin_photo(shared_data))
    form.get_by_role("button", name="Search").click()

    results = page.locator("#search-results")
    expect(results).to_be_visible()
    rows = results.locator("table[data-table=hits] tbody tr")
    expect(rows.first).to_be_visible()
    count = rows.count()
    assert count >= 1
    assert [rows.nth(i).get_attribute("data-rank") for i in range(count)] == [
        str(i + 1) for i in range(count)
    ]
    distances = [
        float(rows.nth(i).locator("[data-distance]").get_attribute("data-distance") or "nan")
        for i in range(count)
    ]
    assert distances == sorted(distances) and distances[0] < watched.rt.settings.matching.search_threshold
    assert {rows.nth(i).get_attribute("data-camera") for i in range(count)} == {STAGE}
    expect(results.locator("[data-timeline] g.mark")).to_have_count(count)

    # the nearest is chosen: its crop, then its clip from the recorded footage
    detail = results.locator("[data-hit-detail]")
    expect(detail).to_be_visible()
    expect(detail).to_have_attribute("data-sighting-id", rows.first.get_attribute("data-sighting-id") or "")
    crop = detail.get_by_role("img", name="face crop of the chosen sighting")
    wait_for(partial(crop.evaluate, "i => i.complete && i.naturalWidth > 0"), 5, "the crop loaded")
    detail.get_by_role("button", name="Open the clip").click()
    video = detail.locator("video[data-clip]")
    expect(video).to_be_visible()
    wait_for(partial(video.evaluate, "v => v.src.startsWith('blob:')"), 10, "the clip loaded")

    searched = [e for e in watched.rt.audit_log.entries() if e.action == "search.photo"]
    assert [(e.actor, e.case, e.authorisation) for e in searched] == [("ian", "C-2026-42", AUTHORISATION)]
    clips = [e for e in watched.rt.audit_log.entries() if e.action == "clip.export"]
    assert [(e.actor, e.case, e.authorisation) for e in clips] == [("ian", "C-2026-42", AUTHORISATION)]
