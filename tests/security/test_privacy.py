"""Attack tests for issue 13's privacy findings (a public report with no side channel, privacy
that fails closed): each replays the attack against the real code and fails if it works again.

(a) filing a subject-access request with a photo of someone filmed, and of someone not, must
    move every public figure of the transparency report alike;
(b) a clip of a camera that did not identify is blurred past recognition unless a case and
    an authorisation name it;
(c) an object outside the caller's camera scope is answered as one that does not exist;
(d) the data folder is 0700 and its files 0600;
(e) one process owns a data folder at a time.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from citywatch.config.ingest import CameraSettings, SourceSettings
from citywatch.domain.audit import Action, Actor, AuditEvent
from citywatch.domain.policy import AuthorisationStatus, CameraPlace, ProcessingMode
from citywatch.domain.records import SightingRecord
from citywatch.governance.records import NewAuthorisation
from citywatch.ingest.file import FileSource
from citywatch.ingest.recorder import Recorder
from citywatch.media.images import read_image
from citywatch.media.video import video_frames
from citywatch.retention.footage import clip_in_clear, export_clip, identified_on_record
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.runtime.usecases import clips
from citywatch.store.retention_tables import ExportRow
from tests.conftest import make_settings
from tests.fakes.accounts import own_token
from tests.ingest.conftest import HAMILTON
from tests.ingest.test_recorder import T0
from tests.integration.cli_helpers import citywatch, cli_env
from tests.store.helpers import a_match, no_match, sighting
from tests.web.api.harness import Api, api_settings, open_api
from tests.web.api.test_footage_routes import authorise

NOW = datetime.now(UTC)
EXAMPLES = "face_recognition/examples"
CAMERA = "gate-1"


# --- (a) the transparency report tells nobody whether a face was filmed ----------------------


@pytest.fixture
def filmed(tmp_path: Path, shared_data: Path) -> Iterator[Api]:
    """An API whose camera gate-1 kept a sighting of Obama (with his template) half an hour ago."""
    for api in open_api(api_settings(tmp_path)):
        rt = api.rt
        image = read_image(shared_data / EXAMPLES / "obama.jpg")
        faces = rt.detector.detect(image)
        template = rt.embedder.embed(image, faces[:1])[0]
        start = NOW - timedelta(minutes=30)
        rt.sightings.add_sighting(
            SightingRecord(
                camera_id="gate-1",
                track_id=1,
                started_at=start,
                ended_at=start + timedelta(seconds=3),
                detections=5,
                quality=0.9,
                crop_jpeg=(shared_data / EXAMPLES / "obama.jpg").read_bytes(),
                model=rt.embedder.name,
                template=template,
                match=no_match(),
            )
        )
        yield api


def _figures(value: Any, path: str = "") -> dict[str, float]:
    """Every number of a report (JSON), by its path; the clock's fields left out."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _figures(item, f"{path}/{key}").items()}
    if isinstance(value, list):
        keyed = (
            (("/".join(str(i.get(k)) for k in ("kind", "status", "legal_basis") if k in i)) or str(n), i)
            for n, i in enumerate(value)
            if isinstance(i, dict)
        )
        return {k: v for key, item in keyed for k, v in _figures(item, f"{path}/{key}").items()}
    if isinstance(value, bool) or not isinstance(value, int | float):
        return {}
    return {path: float(value)}


def _page_figures(html: str) -> dict[str, float]:
    """Every figure and bar the public page shows."""
    figures = {f"figure/{k}": float(v) for k, v in re.findall(r'data-figure="([^"]+)">(\d+)<', html)}
    bars = {f"bar/{k}": float(v) for k, v in re.findall(r'data-bar="([^"]*)" data-value="(\d+)"', html)}
    return {**figures, **bars}


def _public(api: Api) -> dict[str, float]:
    report = api.call("GET", "/api/transparency")
    page = api.client.get("/transparency")
    assert report.status_code == 200 and page.status_code == 200
    return {**_figures(report.json()), **_page_figures(page.text)}


def _moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in before.keys() | after.keys()}


def _file_publicly(api: Api, photo: Path) -> httpx.Response:
    return api.call(
        "POST",
        "/api/public/requests",
        data={
            "requester": "Someone",
            "contact": "someone@example.org",
            "cameras": ["gate-1"],
            "starts_at": (NOW - timedelta(hours=1)).isoformat(),
            "ends_at": (NOW - timedelta(minutes=1)).isoformat(),
        },
        files={"photo": (photo.name, photo.read_bytes(), "image/jpeg")},
    )


def test_a_subject_access_request_moves_the_public_figures_alike_whether_or_not_a_face_was_found(
    filmed: Api, shared_data: Path
) -> None:
    api = filmed
    before = _public(api)
    absent = _file_publicly(api, shared_data / EXAMPLES / "biden.jpg")
    assert absent.status_code == 201, absent.text
    after_absent = _public(api)
    present = _file_publicly(api, shared_data / EXAMPLES / "obama.jpg")
    assert present.status_code == 201, present.text
    after_present = _public(api)
    # the requester's own answer says nothing of the search either: the same fields, the same
    # words, but for the request's own reference and its deadline (counted from its filing)
    own = {"reference", "deadline"}
    assert absent.json().keys() == present.json().keys()
    same = {k: v for k, v in absent.json().items() if k not in own}
    assert same == {k: v for k, v in present.json().items() if k not in own}
    # the search did find Obama (else the test proves nothing) and did not find Biden
    requests = {r["reference"]: r for r in api.call("GET", "/api/requests", "ian").json()["items"]}
    found = api.rt.requests.get(requests[present.json()["reference"]]["id"])
    missed = api.rt.requests.get(requests[absent.json()["reference"]]["id"])
    assert _moved(before, after_absent) == _moved(after_absent, after_present)
    assert _moved(before, after_absent)["/holds/in_force"] == 1  # every request holds its scope
    held = {h.hold.reference: h.hold for h in api.rt.retention.holds()}
    assert held[f"request:{found.reference}"].items  # what the search found is held by name
    assert not held[f"request:{missed.reference}"].items

    # and answering them (a supervisor refuses both) moves them alike too
    for info in (missed, found):
        refused = api.call("POST", f"/api/requests/{info.id}/refuse", "sam", json={"reason": "test"})
        assert refused.status_code == 200, refused.text
        if info is missed:
            after_missed_refused = _public(api)
    after_found_refused = _public(api)
    assert _moved(after_present, after_missed_refused) == _moved(after_missed_refused, after_found_refused)


# --- (b) footage from a camera that did not identify comes out blurred -------------------------


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Api]:
    """The Hamilton clip (faces in clear) recorded by gate-1, a camera that records and never
    identifies; W-7, an approved authorisation in force, names gate-1."""
    for api in open_api(api_settings(tmp_path_factory.mktemp("footage"))):
        recorder = Recorder(CAMERA, api.rt.footage, segment_s=3.0, allowed=lambda _at: True)
        source = FileSource(CAMERA, shared_data / HAMILTON, SourceSettings(), started_at=T0, tap=recorder)
        for _ in source.frames():
            pass
        recorder.close()
        authorise(api, "W-7", [CAMERA])
        yield api


def _faces_in(api: Api, path: Path) -> int:
    """Faces the redaction detector (YuNet) finds in the video at `path`, twice a second."""
    detector = api.rt.redaction_detector
    return sum(len(detector.detect(f.image)) for f in video_frames(path, every_s=0.5))


def _clip(api: Api, tmp_path: Path, **query: str) -> tuple[httpx.Response, Path]:
    window = {"camera": CAMERA, "since": T0.isoformat(), "until": (T0 + timedelta(seconds=6)).isoformat()}
    response = api.call("GET", "/api/recordings/clip", "olga", params={**window, **query})
    path = tmp_path / f"clip-{len(list(tmp_path.iterdir()))}.mp4"
    path.write_bytes(response.content)
    return response, path


def test_a_clip_of_a_camera_that_did_not_identify_is_blurred_past_any_face(
    recorded: Api, tmp_path: Path
) -> None:
    api = recorded
    raw = tmp_path / "raw.mp4"
    export_clip(
        api.rt.footage, CAMERA, T0, T0 + timedelta(seconds=6), raw, configured=True, publish=lambda _c: None
    )
    assert _faces_in(api, raw) > 5  # the footage itself shows faces

    response, clip = _clip(api, tmp_path)
    assert response.status_code == 200, response.text
    assert response.headers["X-Citywatch-Blurred"] == "yes"
    assert _faces_in(api, clip) == 0  # not one face the detector can find, blurred or missed
    (event,) = [e for e in api.rt.audit_log.entries() if e.action == "clip.export"]
    assert event.params["blurred"] is True

    # a case under an authorisation that names the camera opens it in clear (audited as such)
    response, clip = _clip(api, tmp_path, case="C-1", authorisation="W-7")
    assert response.status_code == 200, response.text
    assert response.headers["X-Citywatch-Blurred"] == "no"
    assert _faces_in(api, clip) > 5


def test_the_clip_command_blurs_the_same_footage(recorded: Api, tmp_path: Path, shared_data: Path) -> None:
    api = recorded
    since, until = T0.isoformat(), (T0 + timedelta(seconds=6)).isoformat()
    out = tmp_path / "cli.mp4"
    done = citywatch(
        api.rt.settings.data_dir.parent, shared_data, "clip", CAMERA, since, until, "-o", str(out)
    )
    assert done.code == 0, done.stderr
    assert "blurred" in done.stdout
    assert _faces_in(api, out) == 0


# --- (c) out of scope is answered as not there -------------------------------------------------


@pytest.fixture
def scoped(tmp_path: Path) -> Iterator[tuple[Api, dict[str, int]]]:
    """Objects of gate-1 (an alert, a sighting, a request, a hold, an export), and one user
    per role limited to camera hall-2."""
    for api in open_api(api_settings(tmp_path)):
        rt = api.rt
        for name, role in (("hal", "operator"), ("sid", "supervisor"), ("ivo", "investigator")):
            rt.users.add_user(name, role, cameras=["hall-2"])
            api.tokens[name] = own_token(rt.users, name).token
        saved = rt.sightings.add_sighting(sighting(camera_id=CAMERA, start=NOW, match=a_match(1, 1)))
        window = {"starts_at": (NOW - timedelta(hours=2)).isoformat(), "ends_at": NOW.isoformat()}
        hold = api.call(
            "POST",
            "/api/holds",
            "ian",
            json={"reference": "case:1", "reason": "evidence", "cameras": [CAMERA], **window},
        )
        request = api.call(
            "POST",
            "/api/requests",
            "ian",
            json={"reference": "MET-1", "requester": "Police", "cameras": [CAMERA], **window},
        )
        assert hold.status_code == request.status_code == 201, (hold.text, request.text)
        with rt.database.session() as session:
            export = ExportRow(
                request_id=request.json()["id"],
                reference="MET-1",
                path="MET-1.zip",
                size=1,
                sha256="0" * 64,
                created_by="sam",
                created_at=NOW,
            )
            session.add(export)
            session.flush()
            export_id = export.id
        assert saved.alert_id is not None
        yield (
            api,
            {
                "alert": saved.alert_id,
                "sighting": saved.sighting_id,
                "hold": hold.json()["id"],
                "request": request.json()["id"],
                "export": export_id,
            },
        )


SCOPED_ROUTES = [
    ("GET", "/api/alerts/{}", "hal", "alert"),
    ("POST", "/api/alerts/{}/acknowledge", "hal", "alert"),
    ("GET", "/api/sightings/{}/crop", "hal", "sighting"),
    ("POST", "/api/requests/{}/review", "sid", "request"),
    ("POST", "/api/holds/{}/extend", "ivo", "hold"),
    ("POST", "/api/holds/{}/release", "ivo", "hold"),
    ("GET", "/api/exports/{}/package", "sid", "export"),
]


@pytest.mark.parametrize(("method", "path", "user", "kind"), SCOPED_ROUTES)
def test_an_object_outside_the_callers_scope_is_answered_as_one_that_does_not_exist(
    scoped: tuple[Api, dict[str, int]], method: str, path: str, user: str, kind: str
) -> None:
    api, ids = scoped
    there, missing = ids[kind], 999_999
    bodies = {"/extend": {"expires_at": None}, "/release": {"reason": "no longer needed"}}
    body = next((b for end, b in bodies.items() if path.endswith(end)), {})
    outside = api.call(method, path.format(there), user, json=body)
    absent = api.call(method, path.format(missing), user, json=body)
    assert (outside.status_code, absent.status_code) == (404, 404), (outside.text, absent.text)
    assert outside.json() == {
        **absent.json(),
        "detail": absent.json()["detail"].replace(str(missing), str(there)),
    }
    refused = [e for e in api.rt.audit_log.entries() if e.action == "access.refused" and e.actor == user]
    assert len(refused) == 1 and refused[0].params["cameras"] == [CAMERA]  # still audited inside


@pytest.mark.parametrize("kind", ["requests", "holds"])
def test_naming_a_camera_outside_ones_scope_is_answered_as_naming_one_that_does_not_exist(
    scoped: tuple[Api, dict[str, int]], kind: str
) -> None:
    """Filing a request or placing a hold that names a camera: a camera beyond the caller's
    scope gets the answer an absent camera gets, and no answer lists the cameras beyond it."""
    api, _ = scoped
    window = {"starts_at": (NOW - timedelta(hours=2)).isoformat(), "ends_at": NOW.isoformat()}

    def name(camera: str) -> httpx.Response:
        body = {"reference": f"X-{camera}", "cameras": [camera], **window}
        extra = {"requester": "Police"} if kind == "requests" else {"reason": "evidence"}
        return api.call("POST", f"/api/{kind}", "ivo", json={**body, **extra})

    outside, absent = name(CAMERA), name("gate-404")
    assert outside.status_code == absent.status_code != 201, (outside.text, absent.text)
    assert outside.json() == {**absent.json(), "detail": absent.json()["detail"].replace("gate-404", CAMERA)}
    assert CAMERA not in absent.json()["detail"], absent.text  # what lies beyond is not listed


@pytest.mark.parametrize("kind", ["sighting", "alert"])
def test_naming_an_item_outside_ones_scope_in_a_hold_is_answered_as_naming_one_that_does_not_exist(
    scoped: tuple[Api, dict[str, int]], kind: str
) -> None:
    api, ids = scoped
    there, missing = ids[kind], 999_999

    def hold(item_id: int) -> httpx.Response:
        body = {"reference": "case:9", "reason": "evidence", "items": [{"kind": kind, "id": item_id}]}
        return api.call("POST", "/api/holds", "ivo", json=body)

    outside, absent = hold(there), hold(missing)
    assert (outside.status_code, absent.status_code) == (404, 404), (outside.text, absent.text)
    assert outside.json() == {
        **absent.json(),
        "detail": absent.json()["detail"].replace(str(missing), str(there)),
    }
    refused = [e for e in api.rt.audit_log.entries() if e.action == "access.refused" and e.actor == "ivo"]
    assert len(refused) == 1 and refused[0].params["cameras"] == [CAMERA]  # still audited inside


# --- (d) the data folder is the owner's alone ----------------------------------------------------


def _loose(root: Path) -> list[str]:
    """Every entry under `root` (itself included) that anyone but its owner can read or enter."""
    entries = [root, *root.rglob("*")]
    return [
        f"{p.relative_to(root.parent)} {p.stat().st_mode & 0o777:o}"
        for p in entries
        if p.stat().st_mode & 0o077
    ]


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A shell's usual umask (022): what citywatch creates must not depend on it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_data_folder_and_everything_in_it_is_readable_by_its_owner_alone(
    tmp_path: Path, shared_data: Path, open_umask: None
) -> None:
    settings = make_settings(tmp_path, shared_data)
    rt = build_runtime(settings)
    try:
        recorder = Recorder(CAMERA, rt.footage, segment_s=3.0, allowed=lambda _at: True)
        source = FileSource(CAMERA, shared_data / HAMILTON, SourceSettings(), started_at=T0, tap=recorder)
        for _ in source.frames():
            pass
        recorder.close()
        rt.sightings.add_sighting(sighting(camera_id=CAMERA, start=NOW))
        rt.audit(AuditEvent(Action.CAMERA_START, "camera:test"))
        data = settings.data_dir
        assert (data / "citywatch.db-wal").exists()  # the WAL is there to be checked
        assert list((data / "footage").rglob("*.mp4"))
        assert _loose(data) == []
    finally:
        rt.close()


def _opened(rt: Runtime) -> None:
    """Open the runtime's data folder (its database), then close it."""
    try:
        rt.audit(AuditEvent(Action.CAMERA_START, "camera:test"))
    finally:
        rt.close()


def test_a_data_folder_left_open_is_tightened_at_start_and_said_so(
    tmp_path: Path, shared_data: Path, open_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, shared_data)
    _opened(build_runtime(settings))
    data = settings.data_dir
    data.chmod(0o755)
    (data / "citywatch.db").chmod(0o644)
    caplog.set_level(logging.WARNING)
    _opened(build_runtime(settings))
    assert _loose(data) == []
    assert f"{data}: tightened" in caplog.text


# --- (e) one process owns a data folder -----------------------------------------------------------


def test_a_second_run_on_the_same_data_folder_says_who_owns_it_and_stops(
    tmp_path: Path, shared_data: Path
) -> None:
    (tmp_path / "citywatch.yaml").write_text(
        """\
cameras:
  - id: dead
    url: rtsp://127.0.0.1:9/nothing
    source: {open_timeout_s: 1, reconnect_attempts: 1000, reconnect_initial_s: 0.5}
"""
    )
    env = cli_env(tmp_path, shared_data)
    command = [sys.executable, "-m", "citywatch"]
    first = subprocess.Popen(
        [*command, "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lock = tmp_path / "data" / "citywatch.lock"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and first.poll() is None:
            if lock.exists() and f"pid {first.pid}" in lock.read_text():
                break
            time.sleep(0.1)
        assert first.poll() is None, first.communicate()

        def beside(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*command, *args],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        for second in (["run"], ["watch", str(shared_data / HAMILTON), "--camera-id", "dead"]):
            done = beside(*second)
            assert done.returncode != 0, done.stdout
            assert f"pid {first.pid}" in done.stderr and "citywatch run" in done.stderr, done.stderr
            assert "Traceback" not in done.stderr
        # a short command still works beside the running one (SQLite's own locking)
        listed = beside("alerts", "list")
        assert listed.returncode == 0, listed.stderr
    finally:
        first.send_signal(signal.SIGINT)
        _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err


def test_a_clip_is_in_clear_only_if_the_camera_identified_throughout_or_a_case_opens_it(
    tmp_path: Path, shared_data: Path
) -> None:
    """clip_in_clear, the rule behind (b): W-9 lets gate-1 (configured `watchlist`) identify
    from `start` on; a window wholly after it is vouched for once the camera's pipeline has
    recorded it identifying, one that straddles it never is."""
    camera = CameraSettings(id=CAMERA, url="unused.mp4", mode=ProcessingMode.WATCHLIST)
    rt = build_runtime(make_settings(tmp_path, shared_data, cameras=[camera]))
    try:
        start = NOW - timedelta(hours=1)
        rt.governance.request(
            NewAuthorisation(
                reference="W-9",
                issuer="court",
                legal_basis="warrant",
                objective="test",
                cameras=[CAMERA],
                starts_at=start,
                ends_at=NOW + timedelta(days=1),
            ),
            by=Actor("ivy", "investigator"),
            urgent_deadline=timedelta(hours=24),
        )
        rt.governance.decide("W-9", AuthorisationStatus.APPROVED, by=Actor("sam", "supervisor"))
        rt.policy.refresh()
        after = (start + timedelta(minutes=1), start + timedelta(minutes=2))
        straddling = (start - timedelta(minutes=1), start + timedelta(minutes=1))
        # the policy on record allows it, but nothing recorded the camera identifying then
        # (its pipeline had not decided): not vouched for
        assert not clip_in_clear(clips(rt), CAMERA, *after, case="", authorisation="")
        # the pipeline decides (a `camera.mode` record, now): from then on it is
        decided = datetime.now(UTC)
        rt.policy.decide(CameraPlace(CAMERA, ProcessingMode.WATCHLIST), decided)
        since_then = (decided + timedelta(seconds=1), decided + timedelta(minutes=1))
        assert clip_in_clear(clips(rt), CAMERA, *since_then, case="", authorisation="")
        assert not clip_in_clear(clips(rt), CAMERA, *after, case="", authorisation="")
        assert not clip_in_clear(clips(rt), CAMERA, *straddling, case="", authorisation="")
        assert clip_in_clear(clips(rt), CAMERA, *straddling, case="C-1", authorisation="W-9")
        assert not clip_in_clear(clips(rt), CAMERA, *straddling, case="C-1", authorisation="")
        assert not clip_in_clear(clips(rt), "not-configured", *since_then, case="", authorisation="")
    finally:
        rt.close()


H = timedelta(hours=1)
W, D = ProcessingMode.WATCHLIST, ProcessingMode.DETECT


@pytest.mark.parametrize(
    ("modes", "vouched"),
    [
        ([], False),  # nothing recorded: the pipeline never decided
        ([(NOW - 2 * H, W)], True),  # identifying since before the window
        ([(NOW, W)], True),  # from the window's very start
        ([(NOW + H, W)], False),  # only from inside the window
        ([(NOW + H, W), (NOW - 2 * H, W)], True),  # identifying throughout, twice recorded
        ([(NOW + H, D), (NOW - 2 * H, W)], False),  # identification stopped inside the window
        ([(NOW + H, W), (NOW - 2 * H, D)], False),  # it started only inside the window
        ([(NOW - H, W), (NOW - 2 * H, D)], True),  # started before the window
    ],
)
def test_only_the_modes_recorded_at_the_time_vouch_for_a_clip(
    modes: list[tuple[datetime, ProcessingMode]], vouched: bool
) -> None:
    """identified_on_record: the `camera.mode` records (newest first) up to a window's end,
    the window starting at NOW."""
    assert identified_on_record(modes, NOW) is vouched
