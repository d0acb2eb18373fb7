"""Looking at sightings (`sightings.views`): a camera outside the caller's scope is refused
and audited, a crop outside it is answered as one that does not exist, every look names
what it showed, and the command line's list puts the sightings that started last first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from citywatch.audit.looks import api, command
from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.domain.audit import Actor
from citywatch.domain.errors import NotFound, OutOfScope
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.runtime.usecases import sighting_views
from citywatch.sightings.views import view_crop, view_latest, view_page
from tests.store.helpers import T0, sighting

SAM = Actor("sam", "supervisor")
OLGA = Actor("olga", "operator", frozenset({"gate-1"}))
CROP = b"\xff\xd8 a face \xff\xd9"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    cameras = [CameraSettings(id="gate-1", url="rtsp://gate"), CameraSettings(id="roof", url="rtsp://roof")]
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", cameras=cameras))
    yield runtime
    runtime.close()


def _store(rt: Runtime, camera: str, *, start_s: float, track: int) -> int:
    saved = rt.sightings.add_sighting(
        sighting(camera_id=camera, start=T0 + timedelta(seconds=start_s), crop=CROP, track_id=track)
    )
    return saved.sighting_id


def test_a_page_shows_only_the_scope_and_records_what_it_showed(rt: Runtime) -> None:
    mine = _store(rt, "gate-1", start_s=0, track=1)
    _store(rt, "roof", start_s=1, track=2)
    rows = view_page(sighting_views(rt), OLGA, limit=10, asked=api("/api/sightings"))
    assert [s.id for s in rows] == [mine]
    (look,) = rt.audit_log.page(limit=1, action="sighting.view")
    assert look.actor == "olga" and look.object == f"sightings:{mine}-{mine}"
    assert look.params["ids"] == [mine] and look.result_count == 1


def test_a_camera_outside_the_scope_is_refused_and_audited_as_asked(rt: Runtime) -> None:
    _store(rt, "roof", start_s=0, track=1)
    with pytest.raises(OutOfScope):
        view_latest(
            sighting_views(rt), OLGA, limit=10, camera="roof", asked=command("citywatch sightings list")
        )
    (refusal,) = rt.audit_log.page(limit=1, action="access.refused")
    assert refusal.object == "command:citywatch sightings list"
    assert refusal.params["cameras"] == ["roof"]
    assert rt.audit_log.page(limit=1, action="sighting.view") == []


def test_a_crop_outside_the_scope_reads_as_one_that_does_not_exist(rt: Runtime) -> None:
    theirs = _store(rt, "roof", start_s=0, track=1)
    views = sighting_views(rt)
    with pytest.raises(OutOfScope) as outside:
        view_crop(views, OLGA, theirs, asked=api(f"/api/sightings/{theirs}/crop"))
    with pytest.raises(NotFound) as missing:
        view_crop(views, OLGA, theirs + 100, asked=api(f"/api/sightings/{theirs + 100}/crop"))
    assert str(outside.value) == f"no sighting with id {theirs}"
    assert str(missing.value) == f"no sighting with id {theirs + 100}"
    assert rt.audit_log.page(limit=1, action="sighting.crop") == []
    assert view_crop(views, SAM, theirs, asked=api(f"/api/sightings/{theirs}/crop")) == CROP
    (read,) = rt.audit_log.page(limit=1, action="sighting.crop")
    assert read.actor == "sam" and read.object == f"sighting:{theirs}" and read.params["camera"] == "roof"


def test_the_latest_are_those_that_started_last_a_page_those_stored_last(rt: Runtime) -> None:
    # a long track is stored when it ends: after a shorter one that started later
    later = _store(rt, "gate-1", start_s=60, track=1)
    earlier = _store(rt, "gate-1", start_s=0, track=2)
    views = sighting_views(rt)
    assert [s.id for s in view_latest(views, SAM, limit=1, asked=command("citywatch sightings list"))] == [
        later
    ]
    assert [s.id for s in view_page(views, SAM, limit=1, asked=api("/api/sightings"))] == [earlier]
