"""Governance and accountability routes: the authorisation, zone and event flows with the
two-person rule surfacing as 403 and 409, and the OpenAPI schema of the slice (the role ×
route table of every API route, this slice's included, is tests/web/api/test_route_matrix.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from citywatch.domain.access import Permission
from citywatch.web.app import create_app
from tests.web.api.harness import Api, api_settings, open_api

P = Permission
ROUTES: list[tuple[str, str, Permission]] = [
    ("GET", "/api/authorisations", P.AUTHORISATIONS_READ),
    ("POST", "/api/authorisations", P.AUTHORISATIONS_REQUEST),
    ("POST", "/api/authorisations/{reference:path}/approve", P.AUTHORISATIONS_DECIDE),
    ("POST", "/api/authorisations/{reference:path}/refuse", P.AUTHORISATIONS_DECIDE),
    ("POST", "/api/authorisations/{reference:path}/revoke", P.AUTHORISATIONS_DECIDE),
    ("GET", "/api/zones", P.POLICY_READ),
    ("POST", "/api/zones", P.POLICY_MANAGE),
    ("GET", "/api/events", P.POLICY_READ),
    ("POST", "/api/events", P.POLICY_MANAGE),
    ("GET", "/api/holds", P.HOLDS_MANAGE),
    ("POST", "/api/holds", P.HOLDS_MANAGE),
    ("POST", "/api/holds/{hold_id}/extend", P.HOLDS_MANAGE),
    ("POST", "/api/holds/{hold_id}/release", P.HOLDS_MANAGE),
    ("GET", "/api/receipts", P.RECEIPTS_READ),
    ("GET", "/api/requests", P.REQUESTS_READ),
    ("POST", "/api/requests", P.REQUESTS_FILE),
    ("POST", "/api/requests/{request_id}/review", P.REQUESTS_DECIDE),
    ("POST", "/api/requests/{request_id}/approve", P.REQUESTS_DECIDE),
    ("POST", "/api/requests/{request_id}/refuse", P.REQUESTS_DECIDE),
    ("POST", "/api/requests/{request_id}/close", P.REQUESTS_DECIDE),
    ("GET", "/api/audit", P.AUDIT_READ),
    ("POST", "/api/audit/verify", P.AUDIT_READ),
    ("POST", "/api/public/requests", P.PUBLIC),
    ("GET", "/api/transparency", P.PUBLIC),
]
"""Every route of this slice and the one permission it declares (for the schema test)."""


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app for the table and the refused payloads: none of their calls changes anything
    (but the authorisation a duplicate is checked against)."""
    yield from open_api(api_settings(tmp_path_factory.mktemp("matrix")))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path))


# --- authorisations ------------------------------------------------------------------------


def _authorisation(reference: str, **extra: Any) -> dict[str, Any]:
    return {
        "reference": reference,
        "issuer": "District Court",
        "legal_basis": "Police Act s.12",
        "objective": "find missing child M.K.",
        "cameras": ["gate-1"],
        "ends_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        **extra,
    }


def test_an_authorisation_is_approved_by_a_second_supervisor_only(api: Api) -> None:
    filed = api.call("POST", "/api/authorisations", "sam", json=_authorisation("W-1"))
    assert filed.status_code == 201, filed.json()
    assert filed.json()["status"] == "pending" and not filed.json()["in_force"]
    assert filed.json()["requested_by"] == "sam"

    own = api.call("POST", "/api/authorisations/W-1/approve", "sam", json={"note": "mine"})
    assert own.status_code == 403 and "different supervisor" in own.json()["detail"]
    refused = [e for e in api.rt.audit_log.entries() if e.action == "authorisation.decide_refused"]
    assert [(e.actor, e.object) for e in refused] == [("sam", "authorisation:W-1")]

    approved = api.call("POST", "/api/authorisations/W-1/approve", "sue", json={"note": "checked"})
    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert (body["status"], body["in_force"], body["decided_by"], body["decision_note"]) == (
        "approved",
        True,
        "sue",
        "checked",
    )
    again = api.call("POST", "/api/authorisations/W-1/refuse", "sue")
    assert again.status_code == 409 and "not pending" in again.json()["detail"]

    revoked = api.call("POST", "/api/authorisations/W-1/revoke", "sue")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert revoked.json()["closed"] and not revoked.json()["in_force"]
    listed = api.call("GET", "/api/authorisations", "aude").json()["items"]
    assert [(a["reference"], a["status"]) for a in listed] == [("W-1", "revoked")]


def test_an_investigator_requests_but_a_supervisor_decides(api: Api) -> None:
    assert api.call("POST", "/api/authorisations", "ian", json=_authorisation("W-2")).status_code == 201
    assert api.call("POST", "/api/authorisations/W-2/approve", "ian").status_code == 403
    # binding a watchlist needs watchlists.manage as well, which an investigator has not
    bound = api.call("POST", "/api/authorisations", "ian", json=_authorisation("W-3", watchlists=["x"]))
    assert bound.status_code == 403 and "watchlists.manage" in bound.json()["detail"]
    refused = api.call("POST", "/api/authorisations/W-2/refuse", "sam", json={"note": "no"})
    assert refused.status_code == 200 and refused.json()["status"] == "refused"


def test_a_reference_with_a_slash_reaches_its_authorisation(api: Api) -> None:
    assert api.call("POST", "/api/authorisations", "sam", json=_authorisation("W/2026/7")).status_code == 201
    assert api.call("POST", "/api/authorisations/W/2026/7/approve", "sue").json()["status"] == "approved"


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"reference": "W-9"}, 409, "already exists"),
        ({"cameras": []}, 422, "cameras"),
        ({"ends_at": "2026-11-28T18:00:00"}, 422, "timezone"),
        ({"ends_at": "soon"}, 422, "ends_at"),
        ({"zones": ["nowhere"]}, 404, "no zone"),
        ({"ends_at": "2000-01-01T00:00:00Z"}, 422, "ends before it starts"),
        ({"reference": "bad\nref"}, 422, "reference"),
        ({"surprise": 1}, 422, "surprise"),
    ],
    ids=[
        "duplicate",
        "no cameras",
        "naive time",
        "not a time",
        "unknown zone",
        "ends first",
        "bad ref",
        "extra",
    ],
)
def test_a_malformed_or_impossible_authorisation_is_refused(
    shared_api: Api, change: dict[str, Any], status: int, words: str
) -> None:
    api = shared_api  # refused: nothing changes but W-9, there from the first case on
    assert api.call("POST", "/api/authorisations", "sam", json=_authorisation("W-9")).status_code in {
        201,
        409,
    }
    response = api.call("POST", "/api/authorisations", "sam", json=_authorisation("W-10") | change)
    assert response.status_code == status, response.json()
    assert words in response.text
    assert set(response.json()) >= {"detail", "code"}


def test_unknown_authorisation_is_404(api: Api) -> None:
    response = api.call("POST", "/api/authorisations/NOPE/approve", "sam")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


# --- zones and events ----------------------------------------------------------------------

SQUARE = [{"lat": 51.5, "lon": -0.12}, {"lat": 51.51, "lon": -0.12}, {"lat": 51.51, "lon": -0.11}]


def test_zones_and_events_are_added_by_policy_managers_and_read_by_policy_readers(api: Api) -> None:
    zone = api.call(
        "POST", "/api/zones", "ada", json={"name": "square", "polygon": SQUARE, "protected": True}
    )
    assert zone.status_code == 201, zone.json()
    named = api.call("POST", "/api/zones", "ada", json={"name": "gate", "cameras": ["gate-1"]})
    assert named.json()["covers"] == ["gate-1"]
    assert api.call("POST", "/api/zones", "ada", json={"name": "gate", "cameras": ["x"]}).status_code == 409
    assert api.call("POST", "/api/zones", "sam", json={"name": "z", "cameras": ["x"]}).status_code == 403
    listed = api.call("GET", "/api/zones", "olga").json()["items"]
    assert [(z["name"], z["protected"]) for z in listed] == [("gate", False), ("square", True)]

    start = datetime.now(UTC) + timedelta(hours=1)
    event = {"name": "assembly", "zone": "square", "starts_at": start.isoformat()}
    event["ends_at"] = (start + timedelta(hours=4)).isoformat()
    assert api.call("POST", "/api/events", "ada", json=event).status_code == 201
    assert api.call("POST", "/api/events", "ada", json=event).status_code == 409
    assert (
        api.call("POST", "/api/events", "ada", json=event | {"name": "e2", "zone": "no"}).status_code == 404
    )
    backwards = event | {"name": "e3", "ends_at": (start - timedelta(hours=1)).isoformat()}
    assert api.call("POST", "/api/events", "ada", json=backwards).status_code == 422
    events = api.call("GET", "/api/events", "aude").json()["items"]
    assert [(e["name"], e["zone"]) for e in events] == [("assembly", "square")]
    assert {e.action for e in api.rt.audit_log.entries()} >= {"zone.add", "event.add"}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "z", "polygon": SQUARE[:2]},
        {"name": "z"},
        {"name": "z", "polygon": [{"lat": 91, "lon": 0}] * 3},
        {"name": "", "cameras": ["gate-1"]},
        {"name": "z", "cameras": "gate-1"},
    ],
    ids=["two corners", "nothing", "off the earth", "no name", "cameras not a list"],
)
def test_a_malformed_zone_is_422(shared_api: Api, body: dict[str, Any]) -> None:
    response = shared_api.call("POST", "/api/zones", "ada", json=body)
    assert response.status_code == 422, response.json()


def test_the_openapi_schema_documents_each_route_with_the_one_error_body(shared_api: Api) -> None:
    spec = create_app(shared_api.rt).openapi()
    for method, path, permission in ROUTES:
        operation = spec["paths"][path.replace(":path", "")][method.lower()]
        assert operation["description"], (method, path)
        errors = {code for code in operation["responses"] if code.startswith(("4", "5"))}
        assert errors and all(
            operation["responses"][c]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
            for c in errors
        ), (method, path)
        assert ("401" in errors) is (permission is not P.PUBLIC), (method, path)
    form = spec["paths"]["/api/public/requests"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert form["schema"]["properties"]["photo"]["format"] == "binary"
