"""The cameras page in a real browser while two cameras play the Hamilton clip in the
server's process: the map draws both cameras and the zones (a protected one dashed), each
card says the camera is live and in which mode, and each shows its latest frame with the
faces outlined, pixelated on the camera that only detects."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from citywatch.config.ingest import CameraSettings
from citywatch.domain.audit import Actor
from citywatch.domain.policy import GeoPoint, ProcessingMode
from tests.browser.conftest import SignedIn
from tests.browser.harness import STAGE, Console, console_settings, serve, wait_for, watch_for_lin
from tests.browser.pw import expect

pytestmark = pytest.mark.browser

LOBBY = "lobby"
SQUARE = [GeoPoint(40.7582, -73.9885), GeoPoint(40.7600, -73.9893), GeoPoint(40.7606, -73.9861)]
CHAPEL = [GeoPoint(40.7596, -73.9857), GeoPoint(40.7601, -73.9860), GeoPoint(40.7603, -73.9853)]


@pytest.fixture(scope="module")
def playing(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Console]:
    settings = console_settings(tmp_path_factory.mktemp("cameras"), shared_data)
    stage = settings.cameras[0]
    lobby = CameraSettings(
        id=LOBBY,
        name="Theatre lobby",
        url=stage.url,
        mode=ProcessingMode.DETECT,
        location=(40.75928, -73.98652),
        source=stage.source,
    )
    settings = settings.model_copy(update={"cameras": [stage, lobby]})
    with serve(settings) as console:
        rt, ada = console.rt, Actor("ada", "admin")
        watch_for_lin(rt, shared_data)  # the stage identifies under an authorisation
        rt.governance.add_zone("theatre-district", polygon=SQUARE, cameras=[], protected=False, by=ada)
        rt.governance.add_zone("chapel", polygon=CHAPEL, cameras=[], protected=True, by=ada)
        rt.policy.refresh()
        for camera in settings.cameras:
            rt.camera_worker(camera).start()
        for camera in settings.cameras:
            wait_for(partial(rt.live.view, camera.id, identifies_now=False), 30, f"a frame from {camera.id}")
        yield console


def test_the_map_the_state_and_a_snapshot_of_each_camera(signed_in: SignedIn, playing: Console) -> None:
    page = signed_in(playing, "sam")
    blurred: dict[str, str] = {}
    page.on(
        "response",
        lambda r: (
            blurred.__setitem__(r.url.split("/")[-2], r.headers.get("x-citywatch-blurred", ""))
            if "/snapshot" in r.url
            else None
        ),
    )
    page.goto(playing.at("/console/cameras"))

    site = page.locator("svg#camera-map")
    for camera in (STAGE, LOBBY):
        expect(site.locator(f'g.marker[data-camera-id="{camera}"]')).to_have_count(1)
    expect(site.locator('g.zone[data-zone="theatre-district"][data-protected="no"]')).to_have_count(1)
    expect(site.locator('g.zone[data-zone="chapel"][data-protected="yes"]')).to_have_count(1)

    for camera, mode in ((STAGE, "watchlist"), (LOBBY, "detect")):
        card = page.locator(f'article.camera-card[data-camera-id="{camera}"]')
        expect(card).to_have_attribute("data-state", "live")
        expect(card).to_have_attribute("data-mode", mode)
        snapshot = card.locator(f'img[data-snapshot="{camera}"]')
        snapshot.scroll_into_view_if_needed()  # loaded lazily, once on screen
        wait_for(partial(snapshot.evaluate, "i => i.complete && i.naturalWidth > 0"), 10, f"{camera}'s frame")
    expect(page.get_by_role("img", name="latest frame of Theatre lobby, faces blurred")).to_be_visible()
    assert blurred == {STAGE: "no", LOBBY: "yes"}
    seen = {e.object: e.params for e in playing.rt.audit_log.entries() if e.action == "camera.snapshot"}
    assert {seen[f"camera:{c}"]["blurred"] for c in (STAGE, LOBBY)} == {False, True}
