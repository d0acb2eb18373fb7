"""Watchlists, persons and enrolment by upload, in process: roles, paging, upload limits
checked before any model loads, and one real enrolment that waits for a second person."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from citywatch.config.api import ApiSettings
from citywatch.domain.records import NewReference
from citywatch.media.images import encode_jpeg
from citywatch.web.app import create_app
from tests.store.helpers import MODEL
from tests.web.api.test_records import Api, make_api

FORM = {
    "name": "Jane Roe",
    "watchlist": "wanted",
    "source": "warrant file 2026-114",
    "legal_basis": "s.2 Act",
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(tmp_path, api=ApiSettings(enrol_image_max_mb=0.05, enrol_images_max=2))


def blank_jpeg(side: int = 64) -> bytes:
    return encode_jpeg(np.full((side, side, 3), 128, np.uint8))


def enrol(api: Api, user: str | None, files: list[tuple[str, Any]], data: dict[str, str] = FORM) -> Any:
    return api.call("POST", "/api/persons", user, data=data, files=files)


def models_loaded(api: Api) -> bool:
    return "detector" in vars(api.rt) or "embedder" in vars(api.rt)


def test_a_reference_image_by_token_is_audited_and_documented_as_binary(api: Api) -> None:
    jpeg = blank_jpeg()
    vector = np.ones(8, np.float32) / np.sqrt(8)
    api.rt.watchlists.ensure_watchlist("wanted")
    reference = NewReference(jpeg, ".jpg", "warrant file 2026-114", "s.2 Act", MODEL, vector)
    person = api.rt.watchlists.enroll([reference], watchlist_name="wanted", display_name="Jane Roe").id
    image = api.call("GET", f"/api/persons/{person}/reference", "olga")
    assert image.status_code == 200 and image.content == jpeg
    assert (image.headers["content-type"], image.headers["cache-control"]) == ("image/jpeg", "no-store")
    [viewed] = [e for e in api.rt.audit_log.entries() if e.action == "person.reference_view"]
    assert (viewed.actor, viewed.object, viewed.legal_basis) == ("olga", f"person:{person}", "s.2 Act")
    assert api.call("GET", f"/api/persons/{person}/reference?index=101", "olga").status_code == 422

    ok = create_app(api.rt).openapi()["paths"]["/api/persons/{person_id}/reference"]["get"]["responses"][
        "200"
    ]
    binary = {"type": "string", "format": "binary"}
    assert ok["content"] == {"image/jpeg": {"schema": binary}, "image/png": {"schema": binary}}


@pytest.mark.parametrize(
    ("method", "path", "without"),
    [("GET", "/api/watchlists", "aude"), ("GET", "/api/persons", "aude"), ("POST", "/api/persons", "olga")],
)
def test_each_route_refuses_no_token_and_a_role_without_its_permission(
    api: Api, method: str, path: str, without: str
) -> None:
    files = [("images", ("a.jpg", blank_jpeg(), "image/jpeg"))] if method == "POST" else None
    anonymous = api.call(method, path, files=files)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorised"
    wrong = api.call(method, path, without, files=files)
    assert wrong.status_code == 403 and wrong.json()["code"] == "forbidden"
    assert not models_loaded(api)


def test_watchlists_and_persons_a_page_at_a_time(api: Api) -> None:
    for _ in range(5):
        api.alert("gate-1")  # each adds a person on `wanted`
    [wanted] = api.call("GET", "/api/watchlists", "olga").json()["items"]
    assert (wanted["name"], wanted["category"]) == ("wanted", "wanted")
    seen, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({} if after is None else {"after_id": after})
        page = api.call("GET", "/api/persons", "olga", params=params).json()
        seen += [p["id"] for p in page["items"]]
        if (after := page["next_after_id"]) is None:
            break
    assert seen == sorted(seen) and len(seen) == 5
    assert api.call("GET", "/api/persons?watchlist=nope", "olga").status_code == 404
    assert api.call("GET", "/api/persons?limit=501", "olga").json()["code"] == "malformed"


@pytest.mark.parametrize(
    ("files", "data", "status", "says"),
    [
        ([("images", ("big.jpg", b"\xff\xd8\xff" + b"0" * 60_000, "image/jpeg"))], FORM, 413, "big.jpg"),
        (
            [("images", ("huge.jpg", b"\xff\xd8\xff" + b"0" * 1_200_000, "image/jpeg"))],
            FORM,
            413,
            "the upload is",
        ),
        ([("images", (f"p{i}.jpg", "BLANK", "image/jpeg")) for i in range(3)], FORM, 422, "at most 2 photos"),
        ([("images", ("notes.txt", b"just some words", "text/plain"))], FORM, 422, "not a JPEG or PNG"),
        ([("images", ("broken.jpg", b"\xff\xd8\xff\xe0 truncated", "image/jpeg"))], FORM, 422, "broken.jpg"),
        (
            [("images", ("a.jpg", "BLANK", "image/jpeg"))],
            {k: v for k, v in FORM.items() if k != "legal_basis"},
            422,
            "legal_basis",
        ),
        ([("images", ("a.jpg", "BLANK", "image/jpeg"))], {**FORM, "source": "  "}, 422, "source"),
        ([("images", ("a.jpg", "BLANK", "image/jpeg"))], {**FORM, "role": "x"}, 422, "role"),
    ],
    ids=[
        "photo too large",
        "upload too large",
        "not an image",
        "corrupt image",
        "no photo",
        "no legal basis",
        "blank source",
        "unknown field",
    ],
)
def test_bad_uploads_are_refused_before_any_model_loads(
    api: Api, files: list[tuple[str, Any]], data: dict[str, str], status: int, says: str
) -> None:
    files = [(f, (n, blank_jpeg() if c == "BLANK" else c, t)) for f, (n, c, t) in files]
    response = enrol(api, "sam", files, data)
    assert response.status_code == status, response.text
    assert response.json()["code"] in {"too_large", "invalid_input", "malformed"}
    assert says in response.json()["detail"]
    assert not models_loaded(api)
    assert api.call("GET", "/api/persons", "sam").json()["items"] == []


def test_an_enrolment_must_be_multipart_with_a_photo(api: Api) -> None:
    response = api.call("POST", "/api/persons", "sam", json=FORM)
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
    parts = "".join(
        f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in FORM.items()
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    no_photo = api.call("POST", "/api/persons", "sam", content=parts + "--b--\r\n", headers=headers)
    assert no_photo.status_code == 422 and "reference photo" in no_photo.json()["detail"]
    assert not models_loaded(api)


def test_enrolment_waits_for_a_second_person_and_a_faceless_photo_is_refused(
    tmp_path: Path, shared_data: Path
) -> None:
    for api in make_api(tmp_path, models_dir=shared_data / "models"):
        photo = (shared_data / "face_recognition" / "examples" / "obama.jpg").read_bytes()
        made = enrol(api, "sam", [("images", ("obama.jpg", photo, "image/jpeg"))])
        assert made.status_code == 201, made.text
        person, change = made.json()["person"], made.json()["change_id"]
        assert (person["status"], person["proposed_by"], person["templates"]) == ("pending", "sam", 1)
        assert api.rt.changes.list_changes(object=f"person:{person['id']}")[0].id == change
        [enrolled] = api.audited("person.enrol")
        assert (enrolled.actor, enrolled.legal_basis) == ("sam", FORM["legal_basis"])
        assert [e.actor for e in api.audited("change.propose")] == ["sam"]
        assert not any("obama" in str(p) for p in (api.rt.settings.data_dir / "tmp").rglob("*"))
        assert not list((api.rt.settings.data_dir / "tmp").iterdir())

        wall = cv2.imencode(".png", np.full((200, 200, 3), 200, np.uint8))[1].tobytes()
        faceless = enrol(
            api, "sam", [("images", ("wall.png", wall, "image/png"))], {**FORM, "name": "Nobody"}
        )
        assert faceless.status_code == 422 and faceless.json()["code"] == "invalid_input"
        assert faceless.json()["detail"] == "wall.png: no face found"
        assert len(api.call("GET", "/api/persons", "sam").json()["items"]) == 1
