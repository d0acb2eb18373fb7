"""Camera scope over HTTP for holds, law-enforcement requests and export packages: users
limited to gate-1 (ivy, an investigator; sol, a supervisor) are refused (audited, nothing
changed) what touches hall-2: 403 for what they name cameras for, and 404 in the words of a
record that does not exist for a record they ask for by its id; they list only what lies
wholly within gate-1; unscoped users see and do what they did before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citywatch.config.ingest import CameraSettings
from citywatch.config.settings import Settings
from citywatch.runtime.build import build_runtime
from citywatch.web.app import create_app
from tests.conftest import shared_data_dir
from tests.fakes.accounts import own_token
from tests.web.api.harness import Api

USERS: dict[str, tuple[str, list[str] | None]] = {
    "sam": ("supervisor", None),
    "sue": ("supervisor", None),
    "sol": ("supervisor", ["gate-1"]),
    "ian": ("investigator", None),
    "ivy": ("investigator", ["gate-1"]),
}
NOW = datetime.now(UTC)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data",
        models_dir=shared_data_dir() / "models",
        cameras=[
            CameraSettings(id="gate-1", url=str(tmp_path / "gate-1.mp4")),
            CameraSettings(id="hall-2", url=str(tmp_path / "hall-2.mp4")),
            # more cameras, so that a hold on gate-1 and hall-2 is not city-wide (two-person)
            *(CameraSettings(id=c, url=str(tmp_path / f"{c}.mp4")) for c in ("yard-3", "dock-4")),
        ],
    )
    rt = build_runtime(settings)
    tokens = {}
    for name, (role, scope) in USERS.items():
        rt.users.add_user(name, role, cameras=scope)
        tokens[name] = own_token(rt.users, name, "test").token
    with TestClient(create_app(rt), raise_server_exceptions=True) as client:
        yield Api(rt, client, tokens)
    rt.close()


def _iso(delta_h: float) -> str:
    return (NOW + timedelta(hours=delta_h)).isoformat()


def _hold(*cameras: str) -> dict[str, Any]:
    return {
        "reference": "case:1",
        "reason": "evidence",
        "cameras": list(cameras),
        "starts_at": _iso(-2),
        "ends_at": _iso(-1),
    }


def _request(reference: str, *cameras: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "requester": "Metropolitan Police, DC Shaw",
        "cameras": list(cameras),
        "starts_at": _iso(-2),
        "ends_at": _iso(-1),
    }


def made(response: Any, status: int = 201) -> int:
    assert response.status_code == status, response.text
    found: int = response.json()["id"]
    return found


def refused(
    api: Api, response: Any, user: str, audit_object: str, action: str, *, unseen: str | None = None
) -> None:
    """403 with words naming the camera outside and the scope (cameras the user named), or 404
    with `unseen`, the words of a record that does not exist (a record asked for by its id);
    either way one audit record of it."""
    if unseen is not None:
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": unseen, "code": "not_found"}
    else:
        assert response.status_code == 403, response.text
        assert f"{user} may not act on camera(s) hall-2 (limited to: gate-1)" in response.json()["detail"]
    last = [e for e in api.rt.audit_log.entries() if e.action == "access.refused"][-1]
    assert (last.actor, last.object, last.params["cameras"], last.params["action"]) == (
        user,
        audit_object,
        ["hall-2"],
        action,
    )


# --- holds -----------------------------------------------------------------------------------


def test_a_user_scoped_to_gate_1_cannot_place_a_hold_on_hall_2(api: Api) -> None:
    for cameras in (["hall-2"], ["gate-1", "hall-2"]):
        refused(
            api, api.call("POST", "/api/holds", "ivy", json=_hold(*cameras)), "ivy", "holds", "hold.place"
        )
    assert api.call("GET", "/api/holds", "ian").json()["items"] == []  # nothing placed
    made(api.call("POST", "/api/holds", "ivy", json=_hold("gate-1")))
    made(api.call("POST", "/api/holds", "ian", json=_hold("gate-1", "hall-2")))  # unscoped: unchanged


def test_a_user_scoped_to_gate_1_cannot_release_or_extend_a_hold_on_hall_2(api: Api) -> None:
    hall = made(api.call("POST", "/api/holds", "ian", json=_hold("hall-2")))
    release = api.call("POST", f"/api/holds/{hall}/release", "ivy", json={"reason": "case closed"})
    refused(api, release, "ivy", f"hold:{hall}", "hold.release", unseen=f"no hold {hall}")
    extend = api.call("POST", f"/api/holds/{hall}/extend", "ivy", json={"expires_at": None})
    refused(api, extend, "ivy", f"hold:{hall}", "hold.extend", unseen=f"no hold {hall}")
    (still,) = api.call("GET", "/api/holds", "ian").json()["items"]
    assert (still["id"], still["in_force"], still["released_at"]) == (hall, True, None)
    assert not [e for e in api.rt.audit_log.entries() if e.action == "hold.release"]
    assert (
        api.call("POST", "/api/holds/999/release", "ivy", json={"reason": "case closed"}).status_code == 404
    )
    assert (
        api.call("POST", f"/api/holds/{hall}/release", "ian", json={"reason": "case closed"}).status_code
        == 200
    )


def test_holds_are_listed_within_the_callers_scope(api: Api) -> None:
    gate = made(api.call("POST", "/api/holds", "ian", json=_hold("gate-1")))
    hall = made(api.call("POST", "/api/holds", "ian", json=_hold("hall-2")))
    both = made(api.call("POST", "/api/holds", "ian", json=_hold("gate-1", "hall-2")))
    ids = {u: [h["id"] for h in api.call("GET", "/api/holds", u).json()["items"]] for u in ("ivy", "ian")}
    assert ids == {"ivy": [gate], "ian": [gate, hall, both]}


# --- requests --------------------------------------------------------------------------------


def test_a_scoped_user_files_lists_and_decides_only_requests_within_their_scope(api: Api) -> None:
    filing = api.call("POST", "/api/requests", "ivy", json=_request("MET-0", "hall-2"))
    refused(api, filing, "ivy", "requests", "request.file")
    assert api.call("GET", "/api/requests", "sam").json()["total"] == 0  # nothing filed, nothing held
    assert api.call("GET", "/api/holds", "sam").json()["items"] == []

    gate = made(api.call("POST", "/api/requests", "ian", json=_request("MET-1", "gate-1")))
    hall = made(api.call("POST", "/api/requests", "ian", json=_request("MET-2", "hall-2")))
    both = made(api.call("POST", "/api/requests", "ian", json=_request("MET-3", "gate-1", "hall-2")))
    for user, expected in (("sol", [gate]), ("ivy", [gate]), ("sam", [gate, hall, both])):
        listed = api.call("GET", "/api/requests", user).json()
        assert ([r["id"] for r in listed["items"]], listed["total"]) == (expected, len(expected)), user

    for rid in (hall, both):
        for verb in ("review", "approve", "close"):
            move = api.call("POST", f"/api/requests/{rid}/{verb}", "sol")
            refused(api, move, "sol", f"request:{rid}", f"request.{verb}", unseen=f"no request {rid}")
        refusal = api.call("POST", f"/api/requests/{rid}/refuse", "sol", json={"reason": "no"})
        refused(api, refusal, "sol", f"request:{rid}", "request.refuse", unseen=f"no request {rid}")
    statuses = {r["id"]: r["status"] for r in api.call("GET", "/api/requests", "sam").json()["items"]}
    assert statuses == {gate: "filed", hall: "filed", both: "filed"}
    assert len(api.call("GET", "/api/holds", "sam").json()["items"]) == 3  # no hold released

    assert api.call("POST", f"/api/requests/{gate}/review", "sol").json()["status"] == "in_review"
    assert api.call("POST", f"/api/requests/{hall}/review", "sue").json()["status"] == "in_review"


# --- exports ---------------------------------------------------------------------------------


def test_a_scoped_user_lists_downloads_and_checks_only_exports_within_their_scope(api: Api) -> None:
    exports = {}
    for reference, cameras in (("MET-1", ["gate-1"]), ("MET-2", ["hall-2"]), ("MET-3", ["gate-1", "hall-2"])):
        rid = made(api.call("POST", "/api/requests", "ian", json=_request(reference, *cameras)))
        approved = api.call("POST", f"/api/requests/{rid}/approve", "sam")
        assert approved.status_code == 200, approved.text
        exports[reference] = approved.json()["export_id"]
    gate, hall, both = exports["MET-1"], exports["MET-2"], exports["MET-3"]

    listed = {
        u: [e["id"] for e in api.call("GET", "/api/exports", u).json()["items"]] for u in ("sol", "sue")
    }
    assert listed == {"sol": [gate], "sue": [both, hall, gate]}

    for export_id in (hall, both):
        download = api.call("GET", f"/api/exports/{export_id}/package", "sol")
        refused(
            api,
            download,
            "sol",
            f"export:{export_id}",
            "export.download",
            unseen=f"no export with id {export_id}",
        )
        check = api.call("POST", f"/api/exports/{export_id}/verify", "ivy")
        refused(
            api, check, "ivy", f"export:{export_id}", "export.verify", unseen=f"no export with id {export_id}"
        )
    assert not [e for e in api.rt.audit_log.entries() if e.action in ("export.download", "export.verify")]

    mine = api.call("GET", f"/api/exports/{gate}/package", "sol")
    assert mine.status_code == 200 and mine.headers["content-type"] == "application/zip"
    assert api.call("GET", f"/api/exports/{hall}/package", "sue").status_code == 200  # unscoped
    assert api.call("POST", f"/api/exports/{gate}/verify", "ivy").json()["ok"] is True


# --- receipts --------------------------------------------------------------------------------


def test_receipts_are_listed_within_the_callers_scope(api: Api) -> None:
    """A hold release's receipt names the hold's reference: a scoped reader sees only those of
    holds wholly within their cameras (the rest left out whole); the page keeps its size."""
    holds = {}
    for key, cameras in {"gate": ["gate-1"], "hall": ["hall-2"], "both": ["gate-1", "hall-2"]}.items():
        holds[key] = made(api.call("POST", "/api/holds", "sam", json=_hold(*cameras) | {"reference": key}))
        assert (
            api.call(
                "POST", f"/api/holds/{holds[key]}/release", "sam", json={"reason": "case closed"}
            ).status_code
            == 200
        )

    def seen(user: str, **params: Any) -> tuple[list[tuple[int, str]], int | None]:
        body = api.call("GET", "/api/receipts", user, params=params).json()
        return [(r["details"]["hold"], r["details"]["reference"]) for r in body["items"]], body["next_before"]

    assert seen("sol") == ([(holds["gate"], "gate")], None)
    assert seen("sol", limit=1)[0] == [(holds["gate"], "gate")]  # the hidden ones do not shorten a page
    newest_first = [(holds[k], k) for k in ("both", "hall", "gate")]
    assert seen("sam") == (newest_first, None)  # unscoped: every receipt, as before
