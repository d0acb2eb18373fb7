"""Alerts, sightings and cameras over HTTP, in process: roles, camera scope, pagination, the
one error format, reviews through AlertReviews and the audit records viewing writes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.domain.access import Permission
from citywatch.domain.policy import ProcessingMode
from citywatch.runtime.build import Runtime, build_runtime
from citywatch.web.api.auth import permissions_of
from citywatch.web.app import create_app, verify_routes_declare_permission
from tests.alerts.delivery.test_feed import raise_alert
from tests.fakes.accounts import own_token

USERS: dict[str, tuple[str, list[str] | None]] = {
    "sam": ("supervisor", None),
    "sue": ("supervisor", None),
    "olga": ("operator", ["gate-1"]),
    "aude": ("auditor", None),
    "ivan": ("investigator", None),
    "adam": ("admin", None),
}


@dataclass
class Api:
    rt: Runtime
    client: TestClient
    tokens: dict[str, str]
    tracks: int = 0

    def call(
        self,
        method: str,
        path: str,
        user: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        signed_in = {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}
        return self.client.request(method, path, headers={**signed_in, **(headers or {})}, **kwargs)

    def alert(self, camera_id: str) -> int:
        self.tracks += 1
        return raise_alert(self.rt, camera_id=camera_id, track_id=self.tracks)

    def audited(self, action: str) -> list[Any]:
        return [e for e in self.rt.audit_log.entries() if e.action == action]


def make_api(tmp_path: Path, **settings: Any) -> Iterator[Api]:
    cameras = [
        CameraSettings(id="gate-1", name="North gate", url="rtsp://gate", mode=ProcessingMode.WATCHLIST),
        CameraSettings(id="hall-2", url="rtsp://hall", location=(51.5, -0.12)),
    ]
    rt = build_runtime(Settings(data_dir=tmp_path / "data", cameras=cameras, **settings))
    tokens = {}
    for name, (role, scope) in USERS.items():
        rt.users.add_user(name, role, cameras=scope)
        tokens[name] = own_token(rt.users, name, "test").token
    with TestClient(create_app(rt)) as client:
        yield Api(rt, client, tokens)
    rt.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(tmp_path)


ROUTES = [
    ("GET", "/api/alerts", "aude"),
    ("GET", "/api/alerts/1", "aude"),
    ("POST", "/api/alerts/1/acknowledge", "adam"),
    ("POST", "/api/alerts/1/confirm", "aude"),
    ("POST", "/api/alerts/1/dismiss", "ivan"),
    ("GET", "/api/sightings", "aude"),
    ("GET", "/api/sightings/1/crop", "aude"),
    ("GET", "/api/cameras", "ivan"),
]
"""Each route, and a role without its permission."""


@pytest.mark.parametrize(("method", "path", "without"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_each_route_refuses_no_token_and_a_role_without_its_permission(
    api: Api, method: str, path: str, without: str
) -> None:
    api.alert("gate-1")
    anonymous = api.call(method, path, json={})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorised" and anonymous.json()["detail"]
    assert anonymous.headers["www-authenticate"] == "Bearer"
    wrong = api.call(method, path, without, json={})
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "forbidden" and "needs" in wrong.json()["detail"]
    assert not api.audited("alert.view") and not api.audited("sighting.crop")


def test_alerts_page_newest_first_with_a_cursor_and_the_view_is_audited(api: Api) -> None:
    ids = [api.alert("gate-1") for _ in range(5)]
    seen, before, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({} if before is None else {"before_id": before})
        page = api.call("GET", "/api/alerts", "sam", params=params).json()
        seen += [a["id"] for a in page["items"]]
        pages += 1
        if (before := page["next_before_id"]) is None:
            break
    assert seen == sorted(ids, reverse=True) and pages == 3
    views = api.audited("alert.view")
    assert [v.actor for v in views] == ["sam"] * 3
    assert views[0].params["ids"] == seen[:2] and views[0].result_count == 2


def test_an_operator_sees_and_acts_on_their_cameras_only(api: Api) -> None:
    gate, hall = api.alert("gate-1"), api.alert("hall-2")
    listed = api.call("GET", "/api/alerts", "olga").json()["items"]
    assert [a["id"] for a in listed] == [gate]
    assert [s["camera_id"] for s in api.call("GET", "/api/sightings", "olga").json()["items"]] == ["gate-1"]
    # outside the scope is answered as what does not exist (404 in the same words)
    unseen = {
        f"/api/alerts/{hall}": f"no alert with id {hall}",
        "/api/alerts?camera=hall-2": "no camera 'hall-2' within your scope",
        "/api/sightings?camera=hall-2": "no camera 'hall-2' within your scope",
    }
    for path, words in unseen.items():
        refused = api.call("GET", path, "olga")
        assert refused.status_code == 404, path
        assert refused.json() == {"detail": words, "code": "not_found"}
    acted = api.call("POST", f"/api/alerts/{hall}/acknowledge", "olga")
    assert acted.status_code == 404 and acted.json() == {
        "detail": f"no alert with id {hall}",
        "code": "not_found",
    }
    refusals = api.audited("access.refused")
    assert len(refusals) == 4 and all(r.actor == "olga" for r in refusals)
    assert api.call("GET", f"/api/alerts/{gate}", "olga").json()["camera_id"] == "gate-1"
    cameras = api.call("GET", "/api/cameras", "olga").json()["items"]
    assert [c["id"] for c in cameras] == ["gate-1"]


def test_status_filter_and_alert_lookup(api: Api) -> None:
    first, second = api.alert("gate-1"), api.alert("hall-2")
    api.call("POST", f"/api/alerts/{first}/acknowledge", "sam")
    by_status = api.call("GET", "/api/alerts", "sam", params={"status": "new"}).json()["items"]
    assert [a["id"] for a in by_status] == [second]
    by_camera = api.call("GET", "/api/alerts", "sam", params={"camera": "gate-1"}).json()["items"]
    assert [a["id"] for a in by_camera] == [first]
    one = api.call("GET", f"/api/alerts/{first}", "sam").json()
    assert one["status"] == "acknowledged" and one["acknowledged_by"] == "sam"
    assert api.audited("alert.view")[-1].object == f"alert:{first}"
    missing = api.call("GET", "/api/alerts/999", "sam")
    assert missing.status_code == 404 and missing.json() == {
        "detail": "no alert with id 999",
        "code": "not_found",
    }


def test_confirming_needs_two_people_and_a_decided_alert_is_final(api: Api) -> None:
    alert = api.alert("gate-1")
    once = api.call("POST", f"/api/alerts/{alert}/confirm", "sam").json()
    assert once["alert"]["status"] == "acknowledged" and once["confirmed_by"] == ["sam"]
    again = api.call("POST", f"/api/alerts/{alert}/confirm", "sam")
    assert again.status_code == 403 and again.json()["code"] == "forbidden"
    twice = api.call("POST", f"/api/alerts/{alert}/confirm", "sue").json()
    assert twice["alert"]["status"] == "confirmed" and twice["confirmed_by"] == ["sam", "sue"]
    late = api.call("POST", f"/api/alerts/{alert}/dismiss", "olga", json={"reason": "late"})
    assert late.status_code == 409 and late.json()["code"] == "conflict"
    assert [e.actor for e in api.audited("alert.confirm")] == ["sam", "sue"]


def test_dismissing_as_a_false_match(api: Api) -> None:
    alert = api.alert("gate-1")
    body = {"reason": "not the same person", "false_match": True}
    review = api.call("POST", f"/api/alerts/{alert}/dismiss", "olga", json=body).json()
    assert review["alert"]["status"] == "dismissed"
    assert review["alert"]["dismiss_reason"] == "false match: not the same person"
    [entry] = api.audited("alert.dismiss")
    assert entry.actor == "olga" and entry.params["false_match"] is True
    plain = api.call("POST", f"/api/alerts/{api.alert('gate-1')}/dismiss", "olga").json()["alert"]
    assert (plain["status"], plain["dismiss_reason"]) == ("dismissed", None)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/alerts?limit=501", None),
        ("GET", "/api/alerts?limit=0", None),
        ("GET", "/api/alerts?before_id=0", None),
        ("GET", "/api/alerts?status=lost", None),
        ("GET", "/api/alerts/abc", None),
        ("GET", "/api/sightings?limit=x", None),
        ("POST", "/api/alerts/1/dismiss", {"reason": "x", "false_match": "perhaps"}),
        ("POST", "/api/alerts/1/dismiss", {"reason": "x", "why": "unknown field"}),
        ("POST", "/api/alerts/1/dismiss", "not an object"),
    ],
)
def test_malformed_requests_get_422_in_the_one_error_format(
    api: Api, method: str, path: str, body: object
) -> None:
    api.alert("gate-1")
    response = api.call(method, path, "sam", json=body)
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "malformed" and error["detail"].startswith("malformed request:")
    assert error["errors"] and {"loc", "msg", "type"} <= set(error["errors"][0])
    assert api.rt.alerts.get_alert(1).status == "new"


def test_a_crop_is_a_jpeg_and_every_read_is_audited(api: Api) -> None:
    alert = api.alert("gate-1")
    hall = api.rt.alerts.get_alert(api.alert("hall-2")).sighting_id
    sighting = api.rt.alerts.get_alert(alert).sighting_id
    listed = api.call("GET", "/api/sightings", "olga").json()["items"]
    assert listed[0]["crop_url"] == f"/api/sightings/{sighting}/crop"
    crop = api.call("GET", listed[0]["crop_url"], "olga")
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
    stored = api.rt.blobs.read(api.rt.sightings.get_sighting(sighting).crop_path)
    assert crop.content == stored and crop.headers["cache-control"] == "no-store"
    [read] = api.audited("sighting.crop")
    assert (read.actor, read.role, read.object) == ("olga", "operator", f"sighting:{sighting}")
    assert read.params["camera"] == "gate-1" and read.params["crop_sha256"]
    [view] = api.audited("sighting.view")
    assert view.actor == "olga" and view.params["ids"] == [sighting]
    outside = api.call("GET", f"/api/sightings/{hall}/crop", "olga")
    assert outside.status_code == 404 and outside.json()["detail"] == f"no sighting with id {hall}"
    assert api.call("GET", "/api/sightings/999/crop", "olga").status_code == 404
    assert len(api.audited("sighting.crop")) == 1


def test_cameras_show_the_mode_now_and_why(api: Api) -> None:
    cameras = {c["id"]: c for c in api.call("GET", "/api/cameras", "aude").json()["items"]}
    gate, hall = cameras["gate-1"], cameras["hall-2"]
    assert (gate["configured_mode"], gate["requested_mode"], gate["mode"]) == (
        "watchlist",
        "watchlist",
        "detect",
    )
    assert gate["reasons"] == ["no authorisation in force names camera gate-1"]
    assert gate["name"] == "North gate" and gate["location"] is None
    assert hall["mode"] == hall["configured_mode"] and hall["reasons"] == []
    assert hall["location"] == [51.5, -0.12]


def test_the_routes_declare_their_permission_and_the_schema_documents_the_error_format(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)
    declared = {
        (method, route.path): permissions_of(route)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert declared[("GET", "/api/alerts")] == [Permission.ALERTS_READ]
    assert declared[("POST", "/api/alerts/{alert_id}/dismiss")] == [Permission.ALERTS_ACT]
    assert declared[("GET", "/api/sightings/{sighting_id}/crop")] == [Permission.SIGHTINGS_READ]
    assert declared[("GET", "/api/cameras")] == [Permission.POLICY_READ]
    assert declared[("POST", "/api/persons")] == [Permission.WATCHLISTS_MANAGE]
    verify_routes_declare_permission(app)
    schema = app.openapi()
    alerts = schema["paths"]["/api/alerts"]["get"]["responses"]
    assert alerts["403"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    enrol = schema["paths"]["/api/persons"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert {"name", "source", "legal_basis", "images"} <= set(enrol["schema"]["required"])
    assert schema["components"]["schemas"]["AlertPublic"]["examples"]
