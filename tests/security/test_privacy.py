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

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from citywatch.media.images import read_image
from citywatch.store.records import SightingRecord
from tests.api.harness import Api, api_settings, open_api
from tests.store.helpers import no_match

NOW = datetime.now(UTC)
EXAMPLES = "face_recognition/examples"


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
        rt.store.add_sighting(
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
