"""Users and API tokens over HTTP: add, list, role, cameras, password, disable; a token
issued once, listed without its secret, revoked; each change audited as the admin who made
it; never a password or a token in an answer but the one issued."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.api.harness import Api, api_settings, open_api

PASSWORD = "correct horse battery staple"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path))


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from open_api(api_settings(tmp_path_factory.mktemp("users")))


def audited(api: Api, action: str) -> list[tuple[str, str]]:
    return [(e.actor, e.object) for e in api.rt.audit_log.entries() if e.action == action]


def test_a_user_is_added_changed_and_disabled_by_an_admin(api: Api) -> None:
    added = api.call(
        "POST", "/api/users", "ada", json={"name": "gus", "role": "operator", "cameras": ["gate-1"]}
    )
    assert added.status_code == 201, added.text
    assert (added.json()["role"], added.json()["cameras"], added.json()["has_password"]) == (
        "operator",
        ["gate-1"],
        False,
    )
    assert added.json()["created_by"] == "ada" and audited(api, "user.add")[-1] == ("ada", "user:gus")
    again = api.call("POST", "/api/users", "ada", json={"name": "gus", "role": "auditor"})
    assert again.status_code == 409

    role = api.call("POST", "/api/users/gus/role", "ada", json={"role": "supervisor"})
    assert role.status_code == 200 and role.json()["role"] == "supervisor"
    cameras = api.call("POST", "/api/users/gus/cameras", "ada", json={"cameras": None})
    assert cameras.status_code == 200 and cameras.json()["cameras"] is None
    password = api.call("POST", "/api/users/gus/password", "ada", json={"password": PASSWORD})
    assert password.status_code == 200 and password.json()["has_password"]
    assert PASSWORD not in password.text
    assert api.rt.users.login("gus", PASSWORD).role == "supervisor"
    for action in ("user.role", "user.cameras", "user.password"):
        assert audited(api, action) == [("ada", "user:gus")], action

    listed = api.call("GET", "/api/users", "ada", params={"limit": 3}).json()
    assert len(listed["items"]) == 3 and listed["next_before_id"] is not None
    rest = api.call("GET", "/api/users", "ada", params={"before_id": listed["next_before_id"]}).json()
    names = [u["name"] for u in listed["items"] + rest["items"]]
    assert sorted(names) == sorted(["ada", "sam", "sue", "olga", "ian", "aude", "gus"])

    disabled = api.call("POST", "/api/users/gus/disable", "ada")
    assert disabled.status_code == 200 and not disabled.json()["active"]
    assert api.call("POST", "/api/users/gus/disable", "ada").status_code == 409
    assert audited(api, "user.disable") == [("ada", "user:gus")]


def test_a_token_is_shown_once_listed_without_it_and_revoked(api: Api) -> None:
    issued = api.call("POST", "/api/users/olga/tokens", "ada", json={"label": "relay", "service": True})
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    token, token_id = issued.json()["token"], issued.json()["id"]
    assert token.startswith("cw_") and issued.json()["service"]
    assert api.client.get("/api/alerts", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    listed = api.call("GET", "/api/tokens", "ada", params={"user": "olga"})
    assert token not in listed.text
    newest = listed.json()["items"][0]
    assert (newest["id"], newest["label"]) == (token_id, "relay")
    assert api.call("GET", "/api/tokens", "ada", params={"user": "nobody"}).status_code == 404

    revoked = api.call("POST", f"/api/tokens/{token_id}/revoke", "ada")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert api.client.get("/api/alerts", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert api.call("POST", f"/api/tokens/{token_id}/revoke", "ada").status_code == 409
    assert audited(api, "token.issue")[-1] == ("ada", f"token:{token_id}")
    assert audited(api, "token.revoke") == [("ada", f"token:{token_id}")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/users/nobody/role", {"role": "auditor"}),
        ("POST", "/api/users/nobody/cameras", {"cameras": ["gate-1"]}),
        ("POST", "/api/users/nobody/password", {"password": PASSWORD}),
        ("POST", "/api/users/nobody/disable", None),
        ("POST", "/api/users/nobody/tokens", {"label": "x"}),
        ("POST", "/api/tokens/999/revoke", None),
    ],
)
def test_an_unknown_user_or_token_is_404(shared_api: Api, method: str, path: str, body: Any) -> None:
    response = shared_api.call(method, path, "ada", json=body)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/api/users", {"name": "bad name", "role": "operator"}, "name"),
        ("/api/users", {"name": "x", "role": "king"}, "role"),
        ("/api/users", {"name": "x", "role": "operator", "cameras": []}, "cameras"),
        ("/api/users", {"name": "x", "role": "operator", "password": "short"}, "too short"),
        ("/api/users", {"name": "x", "role": "operator", "extra": 1}, "extra"),
        ("/api/users/sam/role", {}, "role"),
        ("/api/users/sam/cameras", {"cameras": ["no spaces"]}, "cameras"),
        ("/api/users/sam/password", {"password": " " * 12}, "blank"),
        ("/api/users/sam/tokens", {"label": ""}, "label"),
    ],
)
def test_a_malformed_user_change_is_422(shared_api: Api, path: str, body: dict[str, Any], words: str) -> None:
    response = shared_api.call("POST", path, "ada", json=body)
    assert response.status_code == 422, response.text
    assert words in response.text
