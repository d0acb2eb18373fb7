"""Changes (two-person rule), persons' update and removal, and policy rules over HTTP: a
move onto another watchlist waits for a second person, who approves it through the API (the
proposer cannot, 403, audited); refusal and withdrawal; a removal at once with its receipt;
rules added and removed, and the mode each camera is in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.delivery.test_feed import raise_alert
from tests.web.api.harness import Api, api_settings, open_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    for api in open_api(api_settings(tmp_path)):
        raise_alert(api.rt, camera_id="gate-1")  # person 1 on `wanted`
        api.rt.watchlists.create_watchlist("missing")
        yield api


def audited(api: Api, action: str) -> list[tuple[str, str]]:
    return [(e.actor, e.object) for e in api.rt.audit_log.entries() if e.action == action]


def test_a_move_waits_for_a_second_person_who_approves_it(api: Api) -> None:
    updated = api.call("PATCH", "/api/persons/1", "sam", json={"notes": "seen", "watchlist": "missing"})
    assert updated.status_code == 200, updated.text
    person, change = updated.json()["person"], updated.json()["move_change_id"]
    assert (person["notes"], person["watchlist_name"]) == ("seen", "wanted")  # not moved yet
    assert audited(api, "person.update") == [("sam", "person:1")]
    assert audited(api, "change.propose") == [("sam", f"change:{change}")]

    pending = api.call("GET", "/api/changes", "olga", params={"status": "pending"}).json()["items"]
    assert [(c["id"], c["kind"], c["proposed_by"]) for c in pending] == [(change, "person.move", "sam")]
    own = api.call("POST", f"/api/changes/{change}/approve", "sam")
    assert own.status_code == 403 and audited(api, "change.approve_refused") == [("sam", f"change:{change}")]
    approved = api.call("POST", f"/api/changes/{change}/approve", "sue")
    assert approved.status_code == 200 and approved.json()["status"] == "applied"
    assert approved.json()["decided_by"] == "sue"
    assert api.call("GET", "/api/persons/1", "olga").json()["watchlist_name"] == "missing"
    assert api.call("POST", f"/api/changes/{change}/approve", "sue").status_code == 409
    assert api.call("POST", f"/api/changes/{change}/refuse", "sue").status_code == 409


def test_a_change_is_refused_by_a_second_person_or_withdrawn_by_its_proposer(api: Api) -> None:
    first = api.call("PATCH", "/api/persons/1", "sam", json={"watchlist": "missing"}).json()["move_change_id"]
    refused = api.call("POST", f"/api/changes/{first}/refuse", "sue", json={"reason": "wrong list"})
    assert refused.status_code == 200
    assert (refused.json()["status"], refused.json()["note"]) == ("refused", "wrong list")
    second = api.call("PATCH", "/api/persons/1", "sam", json={"watchlist": "missing"}).json()[
        "move_change_id"
    ]
    withdrawn = api.call("POST", f"/api/changes/{second}/refuse", "sam")
    assert withdrawn.status_code == 200 and withdrawn.json()["decided_by"] == "sam"
    every = api.call("GET", "/api/changes", "sam").json()["items"]
    assert [c["id"] for c in every] == [second, first]  # newest first
    assert api.call("GET", "/api/changes", "sam", params={"status": "pending"}).json()["items"] == []


def test_a_person_is_removed_at_once_with_a_receipt(api: Api) -> None:
    removed = api.call("DELETE", "/api/persons/1", "sam")
    assert removed.status_code == 200, removed.text
    assert removed.json()["person_id"] == 1
    assert audited(api, "person.remove") == [("sam", "person:1")]
    assert api.call("GET", "/api/persons/1", "sam").status_code == 404
    assert api.call("DELETE", "/api/persons/1", "sam").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("PATCH", "/api/persons/999", {"notes": "x"}, 404),
        ("PATCH", "/api/persons/1", {"watchlist": "nowhere"}, 404),
        ("PATCH", "/api/persons/1", {"display_name": ""}, 422),
        ("PATCH", "/api/persons/1", {"age": 40}, 422),
        ("PATCH", "/api/persons/0", {"notes": "x"}, 422),
        ("POST", "/api/changes/999/approve", None, 404),
        ("POST", "/api/changes/999/refuse", {"reason": "x"}, 404),
        ("POST", "/api/changes/1/refuse", {"reason": 5}, 422),
        ("GET", "/api/changes?status=maybe", None, 422),
    ],
)
def test_unknown_or_malformed_is_refused(api: Api, method: str, path: str, body: Any, status: int) -> None:
    response = api.call(method, path, "sue", json=body)
    assert response.status_code == status, response.text
    assert api.call("GET", "/api/persons/1", "sue").json()["watchlist_name"] == "wanted"


# --- policy rules ------------------------------------------------------------------------------


def test_a_rule_changes_the_mode_policy_shows_and_goes_again(api: Api) -> None:
    shown = api.call("GET", "/api/policy", "olga", params={"camera": ["yard-3"]}).json()
    modes = {c["camera"]: c for c in shown["cameras"]}
    assert set(modes) == {"gate-1", "yard-3"} and not modes["yard-3"]["configured"]
    assert shown["rules"] == []

    rule = api.call("POST", "/api/policy/rules", "ada", json={"mode": "off", "camera": "gate-1"})
    assert rule.status_code == 201, rule.text
    assert audited(api, "policy.rule_add")[-1][0] == "ada"
    shown = api.call("GET", "/api/policy", "aude").json()
    assert [r["id"] for r in shown["rules"]] == [rule.json()["id"]]
    assert {c["camera"]: c["requested"] for c in shown["cameras"]} == {"gate-1": "off"}

    gone = api.call("DELETE", f"/api/policy/rules/{rule.json()['id']}", "ada")
    assert gone.status_code == 204 and not gone.content
    assert audited(api, "policy.rule_remove") == [("ada", f"policy_rule:{rule.json()['id']}")]
    assert api.call("DELETE", f"/api/policy/rules/{rule.json()['id']}", "ada").status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"mode": "off"}, 422),
        ({"mode": "off", "camera": "gate-1", "zone": "z"}, 422),
        ({"mode": "sometimes", "camera": "gate-1"}, 422),
        ({"mode": "off", "zone": "nowhere"}, 404),
        (
            {
                "mode": "off",
                "camera": "gate-1",
                "starts_at": "2026-02-01T00:00:00Z",
                "ends_at": "2026-01-01T00:00:00Z",
            },
            422,
        ),
        ({"mode": "off", "camera": "gate 1"}, 422),
    ],
)
def test_a_malformed_rule_is_refused(api: Api, body: dict[str, Any], status: int) -> None:
    response = api.call("POST", "/api/policy/rules", "ada", json=body)
    assert response.status_code == status, response.text
    assert api.call("GET", "/api/policy", "ada").json()["rules"] == []
