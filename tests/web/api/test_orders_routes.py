"""Stay-at-home orders over HTTP: create, list (a page at a time), end with a receipt, revoke;
the cameras that check an order; notes on an alert within the caller's camera scope; every
step audited as the caller; refused payloads (422), unknown ids (404), stale states (409)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from citywatch.domain.records import NewReference
from tests.alerts.delivery.test_feed import raise_alert
from tests.fakes.accounts import own_token
from tests.store.helpers import JPEG_STUB, MODEL, vector
from tests.web.api.harness import Api, api_settings, open_api

HOME = {"center": {"lat": 51.5007, "lon": -0.1246}, "radius_m": 150}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path))


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """For refused payloads: none of them changes anything."""
    for api in open_api(api_settings(tmp_path_factory.mktemp("orders"))):
        enrol(api, "Pat")
        yield api


def enrol(api: Api, name: str) -> int:
    api.rt.watchlists.ensure_watchlist("home", "stay_at_home")
    refs = [NewReference(JPEG_STUB, ".jpg", "court file", "public health order", MODEL, vector(len(name)))]
    return api.rt.watchlists.enroll(refs, watchlist_name="home", display_name=name).id


def order(person: str = "Pat", **extra: Any) -> dict[str, Any]:
    return {
        "person": person,
        "legal_reference": "HPA 2026/7",
        "issuing_authority": "city health",
        "ends_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
        "area": HOME,
        **extra,
    }


def audited(api: Api, action: str) -> list[Any]:
    return [e for e in api.rt.audit_log.entries() if e.action == action]


def test_an_order_is_created_listed_and_ended_with_a_receipt(api: Api) -> None:
    person = enrol(api, "Pat")
    created = api.call("POST", "/api/orders", "sam", json=order())
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["person_id"], body["status"], body["created_by"]) == (person, "active", "sam")
    assert body["area"]["radius_m"] == 150 and "150 m" in body["area_description"]
    assert (body["watchlist"], body["checked_by"]) == ("home", [])  # no authorisation: nobody checks it
    assert [(e.actor, e.object) for e in audited(api, "order.create")] == [("sam", f"order:{body['id']}")]

    listed = api.call("GET", "/api/orders", "olga").json()
    assert [o["id"] for o in listed["items"]] == [body["id"]] and listed["next_before_id"] is None

    ended = api.call("POST", f"/api/orders/{body['id']}/end", "sue")
    assert ended.status_code == 200, ended.text
    result = ended.json()
    assert (result["order"]["status"], result["order"]["ended_by"]) == ("ended", "sue")
    assert result["templates_deleted"] == 1 and result["receipt"]["kind"] == "order"
    assert not result["kept_by_another_order"]
    assert [e.actor for e in audited(api, "order.end")] == ["sue"]
    assert api.call("POST", f"/api/orders/{body['id']}/end", "sue").status_code == 409
    assert api.call("POST", f"/api/orders/{body['id']}/revoke", "sue").status_code == 409
    assert api.call("GET", "/api/orders", "aude").json()["items"] == []
    every = api.call("GET", "/api/orders?all=true", "aude").json()["items"]
    assert [o["status"] for o in every] == ["ended"]


def test_orders_page_newest_first_and_a_revocation_is_recorded_as_one(api: Api) -> None:
    for name in ("Pat", "Quin", "Rae"):
        enrol(api, name)
        assert api.call("POST", "/api/orders", "sam", json=order(name)).status_code == 201
    seen, before = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({} if before is None else {"before_id": before})
        page = api.call("GET", "/api/orders", "sam", params=params).json()
        seen += [o["person_name"] for o in page["items"]]
        if (before := page["next_before_id"]) is None:
            break
    assert seen == ["Rae", "Quin", "Pat"]
    revoked = api.call("POST", "/api/orders/1/revoke", "sam")
    assert revoked.status_code == 200 and revoked.json()["order"]["status"] == "revoked"
    assert [e.object for e in audited(api, "order.revoke")] == ["order:1"]


def test_a_polygon_area_and_an_unknown_person_or_order(shared_api: Api) -> None:
    square = [{"lat": 51.5, "lon": -0.12}, {"lat": 51.51, "lon": -0.12}, {"lat": 51.51, "lon": -0.11}]
    missing = shared_api.call("POST", "/api/orders", "sam", json=order("Nobody", area={"polygon": square}))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert shared_api.call("POST", "/api/orders/999/end", "sam").status_code == 404
    assert shared_api.call("POST", "/api/orders/999/revoke", "sam").status_code == 404


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"area": {"center": HOME["center"]}}, "radius_m"),
        ({"area": {"center": HOME["center"], "radius_m": 0}}, "radius_m"),
        ({"area": {"polygon": [HOME["center"]] * 2}}, "polygon"),
        ({"area": {**HOME, "polygon": [HOME["center"]] * 3}}, "not both"),
        ({"area": {}}, "center"),
        ({"ends_at": "2026-12-01T00:00:00"}, "timezone"),
        ({"ends_at": "2000-01-01T00:00:00Z"}, "an end after it"),
        ({"legal_reference": ""}, "legal_reference"),
        ({"surprise": 1}, "surprise"),
    ],
    ids=[
        "no radius",
        "zero radius",
        "two corners",
        "both shapes",
        "no shape",
        "naive",
        "past",
        "no reference",
        "extra",
    ],
)
def test_a_malformed_order_is_422(shared_api: Api, change: dict[str, Any], words: str) -> None:
    response = shared_api.call("POST", "/api/orders", "sam", json=order() | change)
    assert response.status_code == 422, response.text
    assert words in response.text and set(response.json()) >= {"detail", "code"}


def test_notes_on_an_alert_honour_the_camera_scope(api: Api) -> None:
    alert = raise_alert(api.rt, camera_id="gate-1")
    noted = api.call("POST", f"/api/alerts/{alert}/notes", "olga", json={"kind": "notice", "text": "told"})
    assert noted.status_code == 201, noted.text
    assert (noted.json()["kind"], noted.json()["recorded_by"]) == ("notice", "olga")
    assert [e.actor for e in audited(api, "alert.notice")] == ["olga"]
    notes = api.call("GET", f"/api/alerts/{alert}/notes", "sam").json()["items"]
    assert [(n["kind"], n["text"]) for n in notes] == [("notice", "told")]

    api.rt.users.add_user("hal", "operator", cameras=["hall-2"])
    token = own_token(api.rt.users, "hal", "test").token
    elsewhere = api.client.get(f"/api/alerts/{alert}/notes", headers={"Authorization": f"Bearer {token}"})
    assert elsewhere.status_code == 404 and elsewhere.json()["detail"] == f"no alert {alert}"
    assert api.call("GET", "/api/alerts/999/notes", "sam").status_code == 404
    [refusal] = audited(api, "access.refused")  # answered as absent, refused on the record
    assert (refusal.actor, refusal.params["cameras"]) == ("hal", ["gate-1"])
    bad = api.call("POST", f"/api/alerts/{alert}/notes", "olga", json={"kind": "rumour", "text": "x"})
    assert bad.status_code == 422
    blank = api.call("POST", f"/api/alerts/{alert}/notes", "olga", json={"kind": "appeal", "text": ""})
    assert blank.status_code == 422
