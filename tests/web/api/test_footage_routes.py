"""Recorded footage and export packages over HTTP, on the shared Hamilton clip recorded as
camera gate-1: the segments of a window (a page at a time), a clip cut from them as one MP4,
an export downloaded and checked; every read of footage audited as its reader, a camera
outside the caller's scope refused (audited), unknown ids 404, impossible windows 422."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from citywatch.config.ingest import SourceSettings
from citywatch.ingest.file import FileSource
from citywatch.ingest.recorder import Recorder
from citywatch.requests.export_store import EXPORTS_FOLDER
from citywatch.store.staging import WORK_FOLDER
from tests.fakes.accounts import own_token
from tests.ingest.conftest import HAMILTON
from tests.ingest.test_recorder import T0
from tests.web.api.harness import Api, api_settings, open_api

CAMERA = "gate-1"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Api]:
    """The Hamilton clip recorded as gate-1 in 3 s segments (three of them), once per module."""
    for api in open_api(api_settings(tmp_path_factory.mktemp("footage"))):
        recorder = Recorder(CAMERA, api.rt.footage, segment_s=3.0, allowed=lambda _at: True)
        source = FileSource(CAMERA, shared_data / HAMILTON, SourceSettings(), started_at=T0, tap=recorder)
        for _ in source.frames():
            pass
        recorder.close()
        api.rt.users.add_user("hal", "operator", cameras=["hall-2"])
        api.tokens["hal"] = own_token(api.rt.users, "hal", "test").token
        authorise(api, "W-7", [CAMERA])
        authorise(api, "W-HALL", ["hall-2"])
        authorise(api, "W-PENDING", [CAMERA], approve=False)
        authorise(api, "W-URGENT", [CAMERA], approve=False, urgent=True)
        yield api


def authorise(
    api: Api, reference: str, cameras: list[str], *, approve: bool = True, urgent: bool = False
) -> None:
    """An authorisation requested by one supervisor and (unless not `approve`) approved by another."""
    now = datetime.now(UTC)
    asked = {
        "reference": reference,
        "issuer": "District Court",
        "legal_basis": f"warrant {reference}",
        "objective": f"case under {reference}",
        "cameras": cameras,
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
        "urgent": urgent,
    }
    assert api.call("POST", "/api/authorisations", "sam", json=asked).status_code == 201
    if approve:
        assert api.call("POST", f"/api/authorisations/{reference}/approve", "sue").status_code == 200


def window(start_s: float, end_s: float) -> dict[str, str]:
    return {
        "camera": CAMERA,
        "since": (T0 + timedelta(seconds=start_s)).isoformat(),
        "until": (T0 + timedelta(seconds=end_s)).isoformat(),
    }


def audited(api: Api, action: str) -> list[Any]:
    return [e for e in api.rt.audit_log.entries() if e.action == action]


def test_the_segments_of_a_window_page_newest_first_and_are_audited(api: Api) -> None:
    seen, before = [], None
    while True:
        params: dict[str, Any] = (
            window(0, 60) | {"limit": 2} | ({} if before is None else {"before_id": before})
        )
        page = api.call("GET", "/api/recordings", "olga", params=params)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        if (before := page.json()["next_before_id"]) is None:
            break
    assert len(seen) == 3 and [s["id"] for s in seen] == sorted((s["id"] for s in seen), reverse=True)
    assert all(s["camera_id"] == CAMERA and "path" not in s for s in seen)
    views = [e for e in audited(api, "recording.view") if e.actor == "olga"]
    assert [v.object for v in views] == [f"camera:{CAMERA}"] * 2
    assert sorted(i for v in views for i in v.params["ids"]) == sorted(s["id"] for s in seen)
    later = api.call("GET", "/api/recordings", "olga", params=window(3600, 7200)).json()
    assert later == {"items": [], "next_before_id": None}


def test_a_clip_is_one_mp4_audited_before_it_is_sent_and_not_kept(api: Api) -> None:
    response = api.call("GET", "/api/recordings/clip", "sam", params=window(3.5, 6.5))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    assert response.content[4:8] == b"ftyp"
    digest = hashlib.sha256(response.content).hexdigest()
    assert response.headers["x-content-sha256"] == digest
    [clip] = [e for e in audited(api, "clip.export") if e.actor == "sam"]
    assert clip.object == f"camera:{CAMERA}" and clip.params["sha256"] == digest
    assert len(clip.params["segments"]) == 2 and clip.params["file"].startswith("download:clip-gate-1-")
    # gate-1 records and never identifies: no case opened it, so every frame is blurred
    assert response.headers["X-Citywatch-Blurred"] == "yes" and clip.params["blurred"] is True
    assert not list((api.rt.settings.data_dir / WORK_FOLDER).glob("clip-*"))  # removed once sent


def test_a_clip_opened_for_a_case_carries_its_case_and_authorisation(api: Api) -> None:
    params = window(3.5, 6.5) | {"case": "C-2026-42", "authorisation": "W-7"}
    response = api.call("GET", "/api/recordings/clip", "ian", params=params)
    assert response.status_code == 200, response.text
    [clip] = [e for e in audited(api, "clip.export") if e.actor == "ian"]
    assert (clip.case, clip.authorisation) == ("C-2026-42", "W-7")
    assert response.headers["X-Citywatch-Blurred"] == "no" and clip.params["blurred"] is False


@pytest.mark.parametrize(
    ("basis", "status", "words"),
    [
        ({"authorisation": "W-NONE"}, 404, "no authorisation 'W-NONE' is on record"),
        ({"authorisation": "W-HALL"}, 403, "authorisation W-HALL does not name camera(s) gate-1"),
        ({"authorisation": "W-PENDING"}, 403, "authorisation W-PENDING is not in force (pending"),
        ({"authorisation": "W-URGENT"}, 403, "authorisation W-URGENT is urgent, not yet approved"),
        ({}, 422, "a clip opened for a case names the authorisation it is opened under"),
    ],
    ids=["unknown", "not naming the camera", "not in force", "not approved", "no authorisation"],
)
def test_a_clip_claiming_a_basis_it_lacks_is_refused_and_audited(
    api: Api, basis: dict[str, str], status: int, words: str
) -> None:
    """The audit record of a clip never claims an authorisation that does not cover it."""
    before = len(audited(api, "clip.export"))
    params = window(3.5, 6.5) | {"case": "C-2026-43"} | basis
    response = api.call("GET", "/api/recordings/clip", "ian", params=params)
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(f"clip refused: {words}")
    assert len(audited(api, "clip.export")) == before
    refused = audited(api, "clip.refused")[-1]
    assert (refused.actor, refused.object, refused.case) == ("ian", f"camera:{CAMERA}", "C-2026-43")
    assert refused.authorisation == basis.get("authorisation", "") and words in refused.params["reason"]


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        (window(6.5, 3.5), 422, "start before it ends"),
        (window(3600, 3700), 404, "no footage"),
        (window(1, 2) | {"camera": "nowhere"}, 404, "unknown camera"),
        (window(1, 2) | {"since": "2026-11-27T08:00:01"}, 422, "timezone"),
        (window(1, 2) | {"camera": "../etc"}, 422, "camera"),
        ({"camera": CAMERA}, 422, "since"),
        (window(0, 600.5), 422, "a clip may be at most 600 s long (api.clip_max_s)"),
        (window(1, 2) | {"case": ""}, 422, "case"),
    ],
    ids=[
        "reversed",
        "no footage",
        "unknown camera",
        "naive time",
        "bad camera id",
        "no window",
        "too long",
        "empty case",
    ],
)
def test_a_clip_that_cannot_be_cut_is_refused(
    api: Api, params: dict[str, str], status: int, words: str
) -> None:
    before = len(audited(api, "clip.export"))
    response = api.call("GET", "/api/recordings/clip", "sam", params=params)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert len(audited(api, "clip.export")) == before


@pytest.mark.parametrize("path", ["/api/recordings", "/api/recordings/clip"])
def test_a_camera_outside_the_callers_scope_is_refused_and_audited(api: Api, path: str) -> None:
    response = api.call("GET", path, "hal", params=window(0, 60))
    # answered as a camera that does not exist, exactly as one hal's scope lacks and nobody has
    unknown = api.call("GET", path, "hal", params={**window(0, 60), "camera": "no-such-camera"})
    assert response.status_code == unknown.status_code == 404
    assert response.json()["detail"] == f"no camera '{CAMERA}' within your scope"
    assert unknown.json()["detail"] == "no camera 'no-such-camera' within your scope"
    refused = [e for e in audited(api, "access.refused") if e.actor == "hal" and e.object == f"api:{path}"]
    assert [e.params["cameras"] for e in refused[-2:]] == [[CAMERA], ["no-such-camera"]]


# --- exports -----------------------------------------------------------------------------------


def test_an_export_is_listed_downloaded_and_checked(api: Api) -> None:
    request = {
        "reference": "MET-7",
        "requester": "Metropolitan Police, DC Shaw",
        "contact": "dc.shaw@example.org",
        "cameras": [CAMERA],
        "starts_at": (T0 + timedelta(seconds=1)).isoformat(),
        "ends_at": (T0 + timedelta(seconds=4)).isoformat(),
    }
    request_id = api.call("POST", "/api/requests", "ian", json=request).json()["id"]
    approved = api.call("POST", f"/api/requests/{request_id}/approve", "sam")
    assert approved.status_code == 200, approved.text
    export_id = approved.json()["export_id"]

    [listed] = api.call("GET", "/api/exports", "aude").json()["items"]
    assert (listed["id"], listed["request_id"], listed["reference"]) == (export_id, request_id, "MET-7")

    package = api.call("GET", listed["download_url"], "sue")
    assert package.status_code == 200 and package.headers["content-type"] == "application/zip"
    assert hashlib.sha256(package.content).hexdigest() == listed["sha256"]
    assert [(e.actor, e.object) for e in audited(api, "export.download")] == [("sue", f"export:{export_id}")]

    verdict = api.call("POST", f"/api/exports/{export_id}/verify", "aude")
    assert verdict.status_code == 200 and verdict.json()["ok"], verdict.json()
    assert verdict.json()["files"] > 0 and verdict.json()["reference"] == "MET-7"
    [checked] = audited(api, "export.verify")
    assert (checked.actor, checked.object, checked.params["ok"]) == ("aude", f"export:{export_id}", True)

    stored = next((api.rt.settings.data_dir / EXPORTS_FOLDER).rglob("*.zip"))
    original = stored.read_bytes()
    try:
        with zipfile.ZipFile(stored, "a") as zf:
            zf.writestr("extra.txt", "slipped in")
        bad = api.call("POST", f"/api/exports/{export_id}/verify", "aude").json()
        assert not bad["ok"] and bad["problem"]
        stored.unlink()
        assert api.call("GET", listed["download_url"], "sue").status_code == 404
    finally:
        stored.write_bytes(original)
    assert api.call("GET", "/api/exports/999/package", "sue").status_code == 404
    assert api.call("POST", "/api/exports/999/verify", "aude").status_code == 404
    assert api.call("GET", "/api/exports?limit=0", "aude").status_code == 422
