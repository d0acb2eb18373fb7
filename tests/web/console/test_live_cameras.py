"""The registry the cameras page reads: a worker's state in the console's words, a live
camera gone quiet shown as stalled, a camera that failed to open shown as failed, the latest
frame only, blurred unless the mode it was seen in and the mode now both identify, never shown
once old or once its worker stopped; and the map's projection."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from citywatch.domain.errors import NotFound, Unavailable
from citywatch.domain.frames import Frame
from citywatch.domain.policy import GeoPoint, ProcessingMode, Zone
from citywatch.domain.ports import SourceState
from citywatch.pipeline.live import LiveCameras, LiveState
from citywatch.pipeline.worker import CameraWorker
from citywatch.web.console.sitemap import HEIGHT, PAD, WIDTH, Pin, site_map
from tests.fakes.vision import ListSource, fixed_policy, frame_with_faces
from tests.pipeline.test_camera import KNOWN_GREEN, pipeline

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def frame(i: int) -> Frame:
    return Frame("cam", i, i / 10, T0 + timedelta(seconds=i / 10), frame_with_faces([(50, 50, KNOWN_GREEN)]))


def worker(mode: ProcessingMode = ProcessingMode.DETECT, frames: list[Frame] | None = None) -> CameraWorker:
    p, _det, _emb = pipeline(mode, [])
    return CameraWorker(ListSource(frames or [], camera_id="cam"), p, live=True)


def test_a_camera_without_a_worker_is_not_running() -> None:
    live = LiveCameras()
    assert live.status("cam").state is LiveState.NOT_RUNNING
    assert live.view("cam", identifies_now=True) is None


def test_states_in_the_consoles_words_and_a_quiet_live_camera_is_stalled() -> None:
    live = LiveCameras(stalled_after_s=0.05)
    w = worker()
    live.add(w)
    assert live.status("cam").state is LiveState.OPENING
    w.source.health.state = SourceState.RUNNING
    w.last_frame_s = time.monotonic()
    status = live.status("cam")
    assert status.state is LiveState.LIVE and status.last_frame_at is not None
    time.sleep(0.1)
    assert live.status("cam").state is LiveState.STALLED
    w.source.health.state = SourceState.RECONNECTING
    assert live.status("cam").state is LiveState.RECONNECTING
    w.source.health.state = SourceState.ENDED
    assert live.status("cam").state is LiveState.STOPPED


def test_a_later_worker_replaces_the_earlier_one() -> None:
    live = LiveCameras()
    first, second = worker(), worker()
    live.add(first)
    live.add(second)
    assert live.worker("cam") is second


def test_the_view_is_the_latest_frame_blurred_by_the_mode_it_was_seen_in() -> None:
    live = LiveCameras()
    w = worker(ProcessingMode.DETECT)
    live.add(w)
    original = frame(0).image
    w.pipeline.process(frame(0))
    view = live.view("cam", identifies_now=True)
    assert view is not None and view.blurred and view.mode is ProcessingMode.DETECT
    assert len(view.boxes) == 1 and not np.array_equal(view.image, original)
    # the policy turning to identification later does not unblur a frame seen in detect mode
    w.pipeline._policy = fixed_policy(ProcessingMode.WATCHLIST)
    w.pipeline.decision = w.pipeline._policy(T0)
    again = live.view("cam", identifies_now=True)
    assert again is not None and again.blurred
    w.pipeline.process(frame(1))
    identified = live.view("cam", identifies_now=True)
    assert identified is not None and not identified.blurred
    assert np.array_equal(identified.image, frame(1).image)


def test_a_frame_seen_identifying_is_blurred_once_the_mode_now_no_longer_identifies() -> None:
    live = LiveCameras()
    w = worker(ProcessingMode.WATCHLIST)
    live.add(w)
    w.pipeline.process(frame(0))
    sharp = live.view("cam", identifies_now=True)
    assert sharp is not None and not sharp.blurred
    # the authorisation lapsed after the frame was seen: it is pixelated again when shown
    lapsed = live.view("cam", identifies_now=False)
    assert lapsed is not None and lapsed.blurred and lapsed.mode is ProcessingMode.WATCHLIST
    assert not np.array_equal(lapsed.image, frame(0).image)


def test_a_frame_older_than_the_stall_limit_is_not_shown() -> None:
    live = LiveCameras(stalled_after_s=0.05)
    w = worker(ProcessingMode.DETECT)
    live.add(w)
    w.pipeline.process(frame(0))
    assert live.view("cam", identifies_now=False) is not None
    time.sleep(0.1)
    assert live.view("cam", identifies_now=False) is None
    with pytest.raises(Unavailable, match="looked at no frame for"):
        live.frame("cam", identifies_now=False)


def test_a_stopped_workers_last_frame_is_dropped_and_not_shown() -> None:
    live = LiveCameras()
    w = worker(ProcessingMode.WATCHLIST, [frame(0)])
    live.add(w)
    w.start()
    assert w.join(5)
    assert w.pipeline.stats.frames == 1
    assert w.pipeline.view(identifies_now=True) is None  # gone from memory as the worker ended
    with pytest.raises(Unavailable, match="has stopped"):
        live.frame("cam", identifies_now=True)


def test_no_frame_yet_and_no_worker_say_so() -> None:
    live = LiveCameras()
    with pytest.raises(Unavailable, match="not running here"):
        live.frame("cam", identifies_now=False)
    live.add(worker())
    with pytest.raises(NotFound, match="no frame to show yet"):
        live.frame("cam", identifies_now=False)


def test_a_camera_that_failed_to_open_is_failed_with_its_error_until_a_worker_replaces_it() -> None:
    live = LiveCameras()
    live.fail("cam", "cannot open rtsp://gate: connection refused")
    status = live.status("cam")
    assert status.state is LiveState.FAILED and status.error == "cannot open rtsp://gate: connection refused"
    assert [(s.camera_id, s.state, s.error) for s in live.failed()] == [
        ("cam", "failed", "cannot open rtsp://gate: connection refused")
    ]
    assert live.workers() == []
    with pytest.raises(Unavailable, match="failed to open"):
        live.frame("cam", identifies_now=False)
    live.add(worker())
    assert live.failed() == [] and live.status("cam").state is LiveState.OPENING


def test_the_map_fits_cameras_and_zones_north_up_with_longitude_shrunk_by_latitude() -> None:
    pins = [Pin("a", "A", (60.0, 10.0)), Pin("b", "B", (60.01, 10.02))]
    zone = Zone("z", (GeoPoint(60.0, 10.0), GeoPoint(60.005, 10.0), GeoPoint(60.005, 10.01)), protected=True)
    drawn = site_map(pins, [zone, Zone("named", cameras=frozenset({"a"}))])
    a, b = drawn.markers
    assert b.y < a.y  # north is up
    # at 60° a degree of longitude is half a degree of latitude: 0.02° east ≈ 0.01° north
    assert abs((b.x - a.x) - (a.y - b.y)) < 1.0
    for m in drawn.markers:
        assert PAD - 0.1 <= m.x <= WIDTH - PAD + 0.1 and PAD - 0.1 <= m.y <= HEIGHT - PAD + 0.1
    assert [area.name for area in drawn.areas] == ["z"] and drawn.areas[0].protected
    assert len(drawn.areas[0].points.split()) == 3
    assert drawn.bar_m > 0 and 0 < drawn.bar_units <= WIDTH


def test_a_lone_camera_is_not_blown_up_and_nothing_to_draw_is_empty() -> None:
    lone = site_map([Pin("a", "A", (51.5, -0.12))], [])
    assert (lone.markers[0].x, lone.markers[0].y) == (WIDTH / 2, HEIGHT / 2)
    assert lone.bar_m < 1000  # a couple of hundred metres across, not a continent
    assert site_map([], []).empty
