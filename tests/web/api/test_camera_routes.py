"""Camera records over HTTP: an admin adds, reads, changes and removes a camera (each audited
as the caller, with a version); the configuration file's camera cannot be changed there; a
stale version is refused (409); an operator is refused (403, audited); an id that could name
another folder is refused (422); a stream's credentials are never echoed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.api.harness import Api, api_settings, open_api

SECRET = "s3cr3t-pw"
STREAM = f"rtsp://viewer:{SECRET}@10.0.4.22:554/stream1"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path))


def dock(**extra: Any) -> dict[str, Any]:
    return {"id": "dock", "name": "Dock", "url": STREAM, "mode": "detect", **extra}


def audited(api: Api, action: str) -> list[Any]:
    return [e for e in api.rt.audit_log.entries() if e.action == action]


def test_an_admin_adds_changes_and_removes_a_camera(api: Api) -> None:
    added = api.call(
        "POST", "/api/cameras", "ada", json=dock(location=[51.5, -0.12], source={"detect_fps": 5})
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["source_url"] == "rtsp://***@10.0.4.22:554/stream1"
    assert (body["from_config"], body["version"], body["created_by"], body["state"]) == (
        False,
        1,
        "ada",
        "not running",
    )
    assert body["source"]["detect_fps"] == 5.0 and body["configured_mode"] == "detect"
    listed = api.call("GET", "/api/cameras", "olga").json()["items"]
    assert [(c["id"], c["from_config"], c["version"]) for c in listed] == [
        ("gate-1", True, 0),
        ("dock", False, 1),
    ]
    assert api.call("GET", "/api/cameras/dock", "aude").json()["name"] == "Dock"

    changed = api.call(
        "PATCH", "/api/cameras/dock", "ada", json={"version": 1, "mode": "watchlist", "location": None}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["location"], changed.json()["configured_mode"]) == (
        2,
        None,
        "watchlist",
    )
    stale = api.call("PATCH", "/api/cameras/dock", "ada", json={"version": 1, "name": "late"})
    assert stale.status_code == 409 and "at version 2, not 1" in stale.json()["detail"]

    removed = api.call("DELETE", "/api/cameras/dock", "ada")
    assert removed.json() == {"id": "dock", "version": 2, "footage_kept": False}
    assert api.call("GET", "/api/cameras/dock", "ada").status_code == 404
    assert [e.actor for e in audited(api, "camera.add") + audited(api, "camera.change")] == ["ada", "ada"]
    (gone,) = audited(api, "camera.remove")
    assert gone.actor == "ada" and gone.object == "camera:dock"
    assert SECRET not in json.dumps([dict(e.params) for e in api.rt.audit_log.entries()])


def test_the_configuration_files_camera_is_changed_only_there(api: Api) -> None:
    for method, path, body in [
        ("POST", "/api/cameras", dock(id="gate-1")),
        ("PATCH", "/api/cameras/gate-1", {"name": "x"}),
        ("DELETE", "/api/cameras/gate-1", None),
    ]:
        answer = api.call(method, path, "ada", json=body)
        assert answer.status_code == 409, (method, answer.text)
        assert "declared in the configuration file" in answer.json()["detail"]


def test_an_operator_adding_a_camera_is_refused_and_audited(api: Api) -> None:
    refused = api.call("POST", "/api/cameras", "olga", json=dock())
    assert refused.status_code == 403 and "cameras.manage" in refused.json()["detail"]
    (record,) = audited(api, "access.refused")
    assert (record.actor, record.object, dict(record.params)) == (
        "olga",
        "api:/api/cameras",
        {"permission": "cameras.manage"},
    )
    assert api.call("GET", "/api/cameras/dock", "ada").status_code == 404


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (dock(id=".."), "id"),
        (dock(id="../../etc"), "id"),
        (dock(url="clips/dock.mp4"), "absolute path"),
        (dock(url="gopher://host/x"), "no source reads"),
        (dock(location=[123.0, 0.0]), "latitude, longitude"),
        (dock(source={"colour": "red"}), "source"),
        (dock(extra="x"), "extra"),
    ],
)
def test_a_camera_no_city_could_run_is_refused(api: Api, body: dict[str, Any], where: str) -> None:
    answer = api.call("POST", "/api/cameras", "ada", json=body)
    assert answer.status_code == 422, answer.text
    assert where in answer.text and SECRET not in answer.text


@pytest.mark.parametrize("path", ["/api/cameras/..", "/api/cameras/.hidden", "/api/cameras/..%2f..%2fetc"])
def test_a_camera_id_that_could_name_another_folder_is_refused_in_the_path(api: Api, path: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        answer = api.call(method, path, "ada", json={} if method == "PATCH" else None)
        assert answer.status_code in {404, 422}, (method, path, answer.text)
