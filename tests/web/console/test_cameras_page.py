"""The cameras page: each camera in scope with its state, its mode now and why, a snapshot
through the audited route (faces pixelated unless the frame's mode identified), and the SVG
map with a marker per located camera and a polygon per zone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from citywatch.domain.audit import Actor
from citywatch.domain.frames import Frame
from citywatch.domain.policy import AuthorisationStatus, GeoPoint
from citywatch.governance.records import NewAuthorisation
from citywatch.pipeline.worker import CameraWorker
from tests.fakes.vision import ListSource
from tests.web.console.harness import SCOPED, Console, console_settings, open_console

ANN = Actor("ann", "admin")
SAM = Actor("sam", "supervisor")


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    yield from open_console(console_settings(tmp_path))


def add_zones(console: Console) -> None:
    square = [GeoPoint(51.5005, -0.1260), GeoPoint(51.5015, -0.1260), GeoPoint(51.5015, -0.1240)]
    console.rt.governance.add_zone("station", polygon=square, cameras=[], protected=False, by=ANN)
    church = [GeoPoint(51.5025, -0.1210), GeoPoint(51.5035, -0.1210), GeoPoint(51.5035, -0.1190)]
    console.rt.governance.add_zone("church", polygon=church, cameras=[], protected=True, by=ANN)
    console.rt.governance.add_zone("roofs", polygon=[], cameras=["roof-3"], protected=False, by=ANN)


def test_the_page_lists_each_camera_with_its_mode_reasons_and_state(console: Console) -> None:
    page = console.get("/console/cameras", "olga")
    assert page.status_code == 200, page.text
    html = page.text
    for camera in ("gate-1", "hall-2", "roof-3"):
        assert f'class="card camera-card" data-camera-id="{camera}" data-state="not running"' in html
    assert "no authorisation in force names camera gate-1" in html  # watchlist asked, detect given
    assert 'data-mode="detect"' in html
    assert "Not running in this process" in html  # no worker: no snapshot offered
    assert '<script src="/static/cameras.js" defer></script>' in html
    assert "<script>" not in html and "style=" not in html


def test_the_map_has_a_marker_per_located_camera_and_a_polygon_per_zone(console: Console) -> None:
    add_zones(console)
    html = console.get("/console/cameras", "olga").text
    svg = html[html.index("<svg") : html.index("</svg>")]
    markers = re.findall(r'<g class="marker [^"]*" data-camera-id="([^"]+)"', svg)
    assert sorted(markers) == ["gate-1", "hall-2"]  # roof-3 has no location
    assert 'data-unlocated="roof-3"' in html
    zones = dict(re.findall(r'data-zone="([^"]+)" data-protected="(yes|no)"', svg))
    assert zones == {"station": "no", "church": "yes"}  # "roofs" names a camera, no polygon
    assert svg.count("<polygon") == 2
    assert 'stroke-dasharray="8 5"' in svg  # the protected one is drawn apart
    assert ">North gate</text>" in svg and ">Town hall</text>" in svg
    for x, y in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', svg):
        assert 0 <= float(x) <= 800 and 0 <= float(y) <= 520
    assert "roofs (protected)" not in html and "roofs: roof-3" in html


def test_an_operator_limited_to_one_camera_sees_only_that_camera(console: Console) -> None:
    html = console.get("/console/cameras", SCOPED).text
    assert re.findall(r'camera-card" data-camera-id="([^"]+)"', html) == ["gate-1"]
    assert 'data-camera-id="hall-2"' not in html  # not on the map either
    refused = console.get("/api/cameras/hall-2/snapshot", SCOPED, accept="application/json")
    assert refused.status_code == 404  # answered as a camera that does not exist
    assert refused.json()["detail"] == "no camera 'hall-2' within your scope"
    assert console.audited("access.refused")[-1].params["cameras"] == ["hall-2"]


def test_without_a_session_the_browser_is_sent_to_sign_in(console: Console) -> None:
    response = console.get("/console/cameras", None)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/console/cameras"


def test_a_role_without_policy_read_gets_the_not_allowed_page(console: Console) -> None:
    response = console.get("/console/cameras", "ian")  # investigator
    assert response.status_code == 403
    assert "Not allowed" in response.text and "policy.read" in response.text


def test_the_auditor_sees_cameras_but_no_footage(console: Console) -> None:
    run_camera(console, "gate-1")
    html = console.get("/console/cameras", "aude").text
    assert 'data-camera-id="gate-1"' in html and "/snapshot" not in html
    response = console.get("/api/cameras/gate-1/snapshot", "aude", accept="application/json")
    assert response.status_code == 403


def test_a_snapshot_says_why_there_is_none(console: Console) -> None:
    stopped = console.get("/api/cameras/gate-1/snapshot", "olga", accept="application/json")
    assert stopped.status_code == 503
    assert "not running" in stopped.json()["detail"]
    run_camera(console, "gate-1")  # a worker, but no frame yet
    waiting = console.get("/api/cameras/gate-1/snapshot", "olga", accept="application/json")
    assert waiting.status_code == 404
    assert "no frame to show yet" in waiting.json()["detail"]
    assert console.get("/api/cameras/nowhere/snapshot", "olga", accept="application/json").status_code == 404
    assert console.audited("camera.snapshot") == []  # nothing was shown


def test_a_stopped_camera_shows_no_frame(console: Console) -> None:
    worker = run_camera(console, "gate-1")
    worker.start()  # its source has no frame: the worker ends at once
    assert worker.join(5)
    stopped = console.get("/api/cameras/gate-1/snapshot", "olga", accept="application/json")
    assert stopped.status_code == 503
    assert "has stopped: its last frame is no longer shown" in stopped.json()["detail"]
    assert console.audited("camera.snapshot") == []


def test_a_camera_that_failed_to_open_is_shown_failed_with_its_error(console: Console) -> None:
    console.rt.live.fail("gate-1", "cannot open rtsp://gate-1: connection refused")
    html = console.get("/console/cameras", "olga").text
    assert 'data-camera-id="gate-1" data-state="failed"' in html
    assert "cannot open rtsp://gate-1: connection refused" in html
    assert 'src="/api/cameras/gate-1/snapshot"' not in html  # no frame to offer
    cameras = console.get("/api/cameras", "olga", accept="application/json").json()["items"]
    assert {c["id"]: c["state"] for c in cameras}["gate-1"] == "failed"
    refused = console.get("/api/cameras/gate-1/snapshot", "olga", accept="application/json")
    assert refused.status_code == 503 and "failed to open" in refused.json()["detail"]


def run_camera(console: Console, camera_id: str) -> CameraWorker:
    """A camera worker as `citywatch run` builds it, fed by hand (its threads never start)."""
    camera = next(c for c in console.rt.settings.cameras if c.id == camera_id)
    worker = CameraWorker(ListSource([], camera_id=camera_id), console.rt.pipeline(camera), live=True)
    console.rt.live.add(worker)
    return worker


def face_frame(shared_data: Path, camera_id: str) -> Frame:
    """A synthetic 640x480 scene with one real face in it."""
    face = cv2.imread(str(shared_data / "face_recognition" / "examples" / "obama.jpg"))
    assert face is not None
    face = cv2.resize(face, (300, 300 * face.shape[0] // face.shape[1]))
    scene = np.full((480, 640, 3), 90, np.uint8)
    h, w = face.shape[:2]
    scene[60 : 60 + h, 170 : 170 + w] = face[: 480 - 60]
    return Frame(camera_id, 0, 0.0, datetime.now(UTC), scene)


def detail_inside(jpeg: bytes, box: np.ndarray) -> float:
    """How much fine detail the image holds inside `box` (mean absolute Laplacian), away from
    the outline drawn on it."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    x0, y0, x1, y1 = (int(v) for v in box)
    inside = image[y0 + 6 : y1 - 6, x0 + 6 : x1 - 6].astype(np.float64)
    return float(np.abs(cv2.Laplacian(inside, cv2.CV_64F)).mean())


def authorise(console: Console, camera_id: str) -> None:
    now = datetime.now(UTC)
    console.rt.watchlists.create_watchlist("wanted")
    new = NewAuthorisation(
        reference="W-1",
        issuer="Crown Court",
        legal_basis="warrant",
        objective="find a missing person",
        cameras=[camera_id],
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=2),
        watchlists=["wanted"],
    )
    console.rt.governance.request(new, by=ANN, urgent_deadline=timedelta(hours=24))
    console.rt.governance.decide("W-1", AuthorisationStatus.APPROVED, by=SAM)


@pytest.mark.data
def test_a_snapshot_blurs_faces_unless_the_mode_identifies_and_every_view_is_audited(
    console: Console, shared_data: Path
) -> None:
    authorise(console, "gate-1")  # gate-1 identifies; hall-2 stays at detect
    shown = {}
    for camera_id in ("gate-1", "hall-2"):
        worker = run_camera(console, camera_id)
        worker.pipeline.process(face_frame(shared_data, camera_id))
        view = console.rt.live.view(camera_id, identifies_now=True)
        assert view is not None and len(view.boxes) == 1, "the face was not found"
        response = console.get(f"/api/cameras/{camera_id}/snapshot", "olga", accept="image/*")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"] == "no-store"
        shown[camera_id] = (response, view.boxes[0])

    identified, detected = shown["gate-1"], shown["hall-2"]
    assert identified[0].headers["x-citywatch-blurred"] == "no"
    assert detected[0].headers["x-citywatch-blurred"] == "yes"
    sharp = detail_inside(identified[0].content, identified[1])
    blurred = detail_inside(detected[0].content, detected[1])
    assert blurred < 0.25 * sharp, (blurred, sharp)

    records = console.audited("camera.snapshot")
    assert [(r.actor, r.object, r.params["blurred"], r.params["mode"]) for r in records] == [
        ("olga", "camera:gate-1", False, "watchlist"),
        ("olga", "camera:hall-2", True, "detect"),
    ]
    html = console.get("/console/cameras", "olga").text
    assert 'src="/api/cameras/gate-1/snapshot"' in html and 'data-mode="watchlist"' in html

    # the authorisation is revoked: the frame seen under it is no longer shown unblurred
    console.rt.governance.decide("W-1", AuthorisationStatus.REVOKED, by=SAM)
    console.rt.policy.refresh()
    lapsed = console.get("/api/cameras/gate-1/snapshot", "olga", accept="image/*")
    assert lapsed.status_code == 200 and lapsed.headers["x-citywatch-blurred"] == "yes"
    assert detail_inside(lapsed.content, identified[1]) < 0.25 * sharp
    last = console.audited("camera.snapshot")[-1]
    assert (last.params["mode"], last.params["mode_now"], last.params["blurred"]) == (
        "watchlist",
        "detect",
        True,
    )
