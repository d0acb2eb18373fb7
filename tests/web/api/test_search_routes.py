"""Case search by upload, in process: a real photo finds the stored sighting of its face under
an approved authorisation, nearest first, audited as the investigator with the case; an
untargeted search is refused and audited; the upload is bounded and checked (413, 415, 422)
before any model loads; a camera outside the caller's scope is refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citywatch.media.images import encode_jpeg
from citywatch.store.staging import WORK_FOLDER
from citywatch.vision.photo import one_face
from tests.fakes.accounts import own_token
from tests.store.helpers import sighting
from tests.web.api.harness import Api, api_settings, open_api

OBAMA = Path("face_recognition/examples/obama.jpg")
BIDEN = Path("face_recognition/examples/biden.jpg")


def ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


FIELDS = {
    "case": "C-2026-0042",
    "legal_basis": "court order 2026/77",
    "authorisation": "W-1",
    "cameras": "gate-1",
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """Bounded uploads (400 kB a photo); an investigator limited to another camera."""
    settings = api_settings(tmp_path_factory.mktemp("search"), enrol_image_max_mb=0.4)
    for api in open_api(settings):
        api.rt.users.add_user("ivy", "investigator", cameras=["hall-2"])
        api.tokens["ivy"] = own_token(api.rt.users, "ivy", "test").token
        yield api


def search(api: Api, user: str, photo: bytes | None, **fields: Any) -> Any:
    data = FIELDS | {"since": ago(60)} | fields
    if photo is None:  # still multipart: the cameras as a part of their own
        cameras = data.pop("cameras")
        return api.call("POST", "/api/search", user, data=data, files=[("cameras", (None, cameras))])
    return api.call(
        "POST", "/api/search", user, data=data, files=[("photo", ("probe.jpg", photo, "image/jpeg"))]
    )


def blank_jpeg() -> bytes:
    return encode_jpeg(np.full((64, 64, 3), 128, np.uint8))


def audited(api: Api, action: str) -> list[Any]:
    return [e for e in api.rt.audit_log.entries() if e.action == action]


def models_loaded(api: Api) -> bool:
    return "detector" in vars(api.rt) or "embedder" in vars(api.rt)


@pytest.mark.parametrize(
    ("photo", "fields", "status", "says"),
    [
        (b"\xff\xd8\xff" + b"0" * 500_000, {}, 413, "bytes"),
        (b"\xff\xd8\xff" + b"0" * 1_600_000, {}, 413, "the upload is"),
        (b"just some words", {}, 422, "not a JPEG or PNG"),
        (b"\xff\xd8\xff\xe0 truncated", {}, 422, "probe.jpg"),
        (None, {}, 422, "photo"),
        ("BLANK", {"case": ""}, 422, "case"),
        ("BLANK", {"since": "yesterday"}, 422, "since"),
        ("BLANK", {"cameras": "gate 1"}, 422, "cameras"),
        ("BLANK", {"threshold": "7"}, 422, "threshold"),
        ("BLANK", {"surprise": "1"}, 422, "surprise"),
    ],
    ids=[
        "photo too large",
        "upload too large",
        "not an image",
        "corrupt",
        "no photo",
        "no case",
        "bad time",
        "bad camera",
        "threshold",
        "extra",
    ],
)
def test_a_bad_upload_is_refused_before_any_model_loads(
    api: Api, photo: bytes | str | None, fields: dict[str, str], status: int, says: str
) -> None:
    data = blank_jpeg() if photo == "BLANK" else photo
    response = search(api, "ian", data if not isinstance(data, str) else None, **fields)
    assert response.status_code == status, response.text
    assert says in response.text
    assert not models_loaded(api) and not audited(api, "search.photo")


def test_a_search_must_be_multipart(api: Api) -> None:
    response = api.call("POST", "/api/search", "ian", json=FIELDS)
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_a_camera_outside_the_scope_is_refused_and_audited(api: Api) -> None:
    response = search(api, "ivy", blank_jpeg())
    # answered as a camera that does not exist (for a scoped user, one outside the scope)
    assert response.status_code == 404
    assert response.json() == {"detail": "no camera 'gate-1' within your scope", "code": "not_found"}
    [refused] = [e for e in audited(api, "access.refused") if e.actor == "ivy"]
    assert refused.params["cameras"] == ["gate-1"]


def test_the_face_is_found_under_an_approved_authorisation_and_an_untargeted_search_is_refused(
    api: Api, shared_data: Path
) -> None:
    rt = api.rt
    photo = (shared_data / OBAMA).read_bytes()
    # before the authorisation exists: refused and audited, nothing searched
    refused = search(api, "ian", photo)
    assert refused.status_code == 422 and "no authorisation 'W-1' is on record" in refused.json()["detail"]
    [record] = audited(api, "search.refused")
    assert (record.actor, record.case, record.authorisation) == ("ian", "C-2026-0042", "W-1")
    assert record.object.startswith("photo-sha256:")

    authorisation = {
        "reference": "W-1",
        "issuer": "District Court",
        "legal_basis": "court order 2026/77",
        "objective": "find a witness",
        "cameras": ["gate-1"],
        "starts_at": ago(120),
        "ends_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    assert api.call("POST", "/api/authorisations", "sam", json=authorisation).status_code == 201
    assert api.call("POST", "/api/authorisations/W-1/approve", "sue").status_code == 200
    for name, minutes in ((OBAMA, 10), (BIDEN, 20)):
        face = one_face(shared_data / name, rt.detector, rt.embedder, rt.settings.quality, largest=True)
        start = datetime.now(UTC) - timedelta(minutes=minutes)
        record_ = replace(
            sighting(camera_id="gate-1", start=start, template=face.template), model=rt.embedder.name
        )
        rt.sightings.add_sighting(record_)

    found = search(api, "ian", photo)
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["case"], body["authorisation"]) == ("C-2026-0042", "W-1")
    [hit] = body["items"]  # Obama's sighting, not Biden's
    assert (hit["rank"], hit["camera_id"]) == (1, "gate-1") and hit["distance"] < 0.1
    assert hit["crop_url"] == f"/api/sightings/{hit['sighting_id']}/crop"
    [searched] = audited(api, "search.photo")
    assert (searched.actor, searched.case, searched.authorisation, searched.result_count) == (
        "ian",
        "C-2026-0042",
        "W-1",
        1,
    )
    assert searched.params["cameras"] == ["gate-1"]
    assert not list((rt.settings.data_dir / WORK_FOLDER).glob("search-*"))  # the photo is not kept

    too_long = search(api, "ian", photo, since=ago(60 * 24 * 40))
    assert too_long.status_code == 422 and "longer than" in too_long.json()["detail"]
    elsewhere = search(api, "ian", photo, cameras="gate-1,hall-2")
    assert elsewhere.status_code == 422 and "does not name camera(s) hall-2" in elsewhere.json()["detail"]
    assert len(audited(api, "search.refused")) == 3
